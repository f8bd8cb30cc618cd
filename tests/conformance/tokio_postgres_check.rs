//! Conformance check for tokio-postgres, run once directly against PostgreSQL and once
//! through the gateway; the two transcripts must be byte-identical.
//!
//! The integration test `crates/portcullis/tests/conformance.rs` compiles this file as
//! a module and calls [`run`] in its own process, with the same PGHOST, PGPORT, PGUSER,
//! PGPASSWORD, PGDATABASE, PGSSLMODE and PGSSLROOTCERT values that the other clients
//! get as environment variables. PGSSLMODE=verify-full means TLS verified against
//! PGSSLROOTCERT and the host name (rustls); any other value connects without TLS.
//!
//! tokio-postgres reads every extended-protocol result in binary format, so the
//! transcript shows those values as the hex of their binary encoding, exactly as they
//! arrived. Every table is temporary, so both runs start from the same state.
//!
//! Normalized: backend PIDs. The transcript shows whether a notification came from the
//! session's own backend (pg_backend_pid()) or another one, never the numbers.

use std::error::Error as StdError;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt, TryStreamExt};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio_postgres::binary_copy::{BinaryCopyInWriter, BinaryCopyOutStream};
use tokio_postgres::config::SslMode;
use tokio_postgres::error::ErrorPosition;
use tokio_postgres::types::{FromSql, ToSql, Type};
use tokio_postgres::{AsyncMessage, Client, IsolationLevel, SimpleQueryMessage};
use tokio_postgres_rustls::MakeRustlsConnect;

type BoxError = Box<dyn StdError + Send + Sync>;

const CHANNEL: &str = "conformance_tokio";

/// Connection parameters, named after the libpq environment variables they come from.
pub struct Parameters {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    pub dbname: String,
    /// `verify-full`, or anything else for no TLS.
    pub ssl_mode: String,
    pub ssl_root_cert: Option<PathBuf>,
}

impl Parameters {
    /// Reads PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE, PGSSLMODE and
    /// PGSSLROOTCERT through `lookup`.
    pub fn from_variables(lookup: impl Fn(&str) -> Option<String>) -> Result<Parameters, String> {
        let required = |name: &str| lookup(name).ok_or_else(|| format!("{name} is not set"));
        let port = required("PGPORT")?;
        Ok(Parameters {
            host: required("PGHOST")?,
            port: port.parse().map_err(|_| format!("PGPORT {port:?} is not a port number"))?,
            user: required("PGUSER")?,
            password: required("PGPASSWORD")?,
            dbname: required("PGDATABASE")?,
            ssl_mode: lookup("PGSSLMODE").unwrap_or_default(),
            ssl_root_cert: lookup("PGSSLROOTCERT").filter(|path| !path.is_empty()).map(PathBuf::from),
        })
    }
}

/// What one run printed, and the steps that failed with an error they did not expect.
pub struct Transcript {
    pub text: String,
    pub unexpected: Vec<String>,
}

/// A value exactly as the server sent it: the binary encoding, or NULL.
struct Raw(Option<Vec<u8>>);

impl<'a> FromSql<'a> for Raw {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Raw, BoxError> {
        Ok(Raw(Some(raw.to_vec())))
    }

    fn from_sql_null(_: &Type) -> Result<Raw, BoxError> {
        Ok(Raw(None))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

impl std::fmt::Display for Raw {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Some(bytes) => write!(formatter, "x{}", hex::encode(bytes)),
            None => formatter.write_str("NULL"),
        }
    }
}

/// A notice or notification that the connection task received.
enum Event {
    Notice(String),
    Notification { channel: String, payload: String, pid: i32 },
    ConnectionError(String),
}

struct Session {
    client: Client,
    events: mpsc::UnboundedReceiver<Event>,
}

struct Check {
    lines: Vec<String>,
    unexpected: Vec<String>,
    parameters: Arc<Parameters>,
    tls: MakeRustlsConnect,
}

impl Check {
    fn out(&mut self, line: impl Into<String>) {
        self.lines.push(line.into());
    }

    /// Prints the notices that arrived so far, in order.
    fn drain_notices(&mut self, session: &mut Session) {
        while let Ok(event) = session.events.try_recv() {
            match event {
                Event::Notice(text) => self.out(format!("notice: {text}")),
                Event::Notification { channel, payload, .. } => {
                    self.out(format!("notification out of place: {channel} {payload:?}"))
                }
                Event::ConnectionError(text) => self.out(format!("connection error: {text}")),
            }
        }
    }

    fn expect_error<T>(&mut self, result: Result<T, tokio_postgres::Error>) {
        match result {
            Ok(_) => self.out("error: none raised"),
            Err(error) => self.out(format!("error: {}", describe_error(&error))),
        }
    }

    async fn connect(&self) -> Result<Session, BoxError> {
        let parameters = &self.parameters;
        let mut config = tokio_postgres::Config::new();
        config
            .host(&parameters.host)
            .port(parameters.port)
            .user(&parameters.user)
            .password(&parameters.password)
            .dbname(&parameters.dbname)
            .ssl_mode(if parameters.ssl_mode == "verify-full" {
                SslMode::Require
            } else {
                SslMode::Disable
            });
        let (client, mut connection) = config.connect(self.tls.clone()).await?;
        let (sender, events) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(message) = messages.next().await {
                let event = match message {
                    Ok(AsyncMessage::Notice(notice)) => Event::Notice(describe_db_error(&notice)),
                    Ok(AsyncMessage::Notification(notification)) => Event::Notification {
                        channel: notification.channel().to_string(),
                        payload: notification.payload().to_string(),
                        pid: notification.process_id(),
                    },
                    Ok(_) => continue,
                    Err(error) => Event::ConnectionError(error.to_string()),
                };
                if sender.send(event).is_err() {
                    break;
                }
            }
        });
        Ok(Session { client, events })
    }
}

fn describe_db_error(error: &tokio_postgres::error::DbError) -> String {
    let position = match error.position() {
        Some(ErrorPosition::Original(position)) => format!("{position}"),
        Some(ErrorPosition::Internal { position, query }) => format!("internal {position} in {query:?}"),
        None => "none".to_string(),
    };
    format!(
        "severity={} code={} message={:?} detail={:?} hint={:?} position={} where={:?} table={:?} column={:?} constraint={:?}",
        error.severity(),
        error.code().code(),
        error.message(),
        error.detail(),
        error.hint(),
        position,
        error.where_(),
        error.table(),
        error.column(),
        error.constraint(),
    )
}

fn describe_error(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db_error) => describe_db_error(db_error),
        None => format!("client error: {error}"),
    }
}

fn describe_simple(messages: &[SimpleQueryMessage]) -> Vec<String> {
    let mut lines = Vec::new();
    for message in messages {
        match message {
            SimpleQueryMessage::RowDescription(columns) => {
                let names: Vec<&str> = columns.iter().map(|column| column.name()).collect();
                lines.push(format!("  columns {names:?}"));
            }
            SimpleQueryMessage::Row(row) => {
                let values: Vec<Option<&str>> = (0..row.len()).map(|index| row.get(index)).collect();
                lines.push(format!("  row {values:?}"));
            }
            SimpleQueryMessage::CommandComplete(rows) => lines.push(format!("  complete {rows}")),
            _ => lines.push("  other message".to_string()),
        }
    }
    lines
}

fn describe_rows(rows: &[tokio_postgres::Row]) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(first) = rows.first() {
        let columns: Vec<String> = first
            .columns()
            .iter()
            .map(|column| format!("{}:{}", column.name(), column.type_().name()))
            .collect();
        lines.push(format!("  columns {columns:?}"));
    }
    for row in rows {
        let values: Vec<String> = (0..row.len()).map(|index| row.get::<_, Raw>(index).to_string()).collect();
        lines.push(format!("  row [{}]", values.join(", ")));
    }
    lines
}

const VALUES_QUERY: &str = r#"
    SELECT NULL::text AS null_text, 'Zoë – Ünïcödé 東京 🙂'::text AS unicode,
           12345678901234567890.123456789::numeric AS big, 'NaN'::numeric AS nan,
           1.5::float8 / 3 AS float8, (-9223372036854775808)::int8 AS int8_min, true AS yes,
           '2024-02-29 23:59:59.123456+00'::timestamptz AS timestamptz,
           '2024-03-10 02:30:00'::timestamp AS timestamp, '2024-03-10'::date AS date,
           '13:45:00+02'::timetz AS timetz, '1 day 25:00:00.5'::interval AS interval,
           '\xdeadbeef00ff'::bytea AS bytea, ARRAY[1, NULL, 3]::int[] AS ints,
           ARRAY['a', NULL, 'with "quotes"', 'with,comma', '']::text[] AS texts,
           ARRAY[[1.5, 2.5], [3.5, NULL]]::numeric[] AS matrix,
           '{"b": [1, 2, null], "a": "ü"}'::jsonb AS jsonb,
           'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS uuid, '192.168.0.1/24'::inet AS inet
"#;

const LARGE_QUERY: &str = "SELECT g, md5(g::text), repeat('x', g % 17), \
     CASE WHEN g % 7 = 0 THEN NULL ELSE g * 1.5 END FROM generate_series(1, 5000) AS g";

async fn session_facts(check: &mut Check, session: &mut Session) -> Result<(), BoxError> {
    let messages = session
        .client
        .simple_query("SET TimeZone = 'America/New_York'; SELECT current_user, session_user, current_database()")
        .await?;
    check.lines.extend(describe_simple(&messages));
    let messages = session.client.simple_query("SHOW TimeZone").await?;
    check.lines.extend(describe_simple(&messages));
    Ok(())
}

async fn binary_types(check: &mut Check, session: &mut Session) -> Result<(), BoxError> {
    let rows = session.client.query(VALUES_QUERY, &[]).await?;
    check.lines.extend(describe_rows(&rows));
    check.out("same query in text format (simple protocol):");
    let messages = session.client.simple_query(VALUES_QUERY).await?;
    check.lines.extend(describe_simple(&messages));

    let bytes: &[u8] = &[0, 1, 0xfe, 0xff];
    let ints: Vec<Option<i32>> = vec![Some(1), None, Some(3)];
    let texts: Vec<Option<&str>> = vec![Some("ä"), None, Some("with \"quotes\"")];
    let row = session
        .client
        .query_one(
            "SELECT $1::text, $2::text, $3::int8, $4::float8, $5::bool, $6::bytea, $7::int4[], $8::text[], \
                    $9::text::numeric, $10::int2, $11::float4",
            &[
                &None::<&str>,
                &"Zoë – Ünïcödé 東京 🙂",
                &i64::MIN,
                &0.1f64,
                &true,
                &bytes,
                &ints,
                &texts,
                &"12345678901234567890.123456789",
                &-32768i16,
                &1.5f32,
            ],
        )
        .await?;
    check.lines.extend(describe_rows(std::slice::from_ref(&row)));
    check.out(format!(
        "decoded {:?} {:?} {} {} {} {:?} {:?} {:?}",
        row.get::<_, Option<String>>(0),
        row.get::<_, String>(1),
        row.get::<_, i64>(2),
        row.get::<_, f64>(3),
        row.get::<_, bool>(4),
        row.get::<_, Vec<u8>>(5),
        row.get::<_, Vec<Option<i32>>>(6),
        row.get::<_, Vec<Option<String>>>(7),
    ));
    Ok(())
}

async fn prepared_statements(check: &mut Check, session: &mut Session) -> Result<(), BoxError> {
    let client = &session.client;
    let statement = client.prepare("SELECT $1::int4 * 2 AS doubled, $2::text AS label").await?;
    let params: Vec<&str> = statement.params().iter().map(|kind| kind.name()).collect();
    let columns: Vec<String> =
        statement.columns().iter().map(|column| format!("{}:{}", column.name(), column.type_().name())).collect();
    check.out(format!("params {params:?} columns {columns:?}"));
    for (number, label) in [(21i32, Some("ü")), (-1, None), (5, Some("again"))] {
        let rows = client.query(&statement, &[&number, &label]).await?;
        check.lines.extend(describe_rows(&rows));
    }
    let typed = client.prepare_typed("SELECT $1 || '!'", &[Type::TEXT]).await?;
    let value: String = client.query_one(&typed, &[&"typed"]).await?.get(0);
    check.out(format!("prepare_typed {value:?}"));
    let rows = client.query_typed("SELECT $1::int8 + 1, $2", &[(&41i64, Type::INT8), (&"query_typed", Type::TEXT)]).await?;
    check.lines.extend(describe_rows(&rows));
    let result = client.prepare("SELECT * FROM no_such_table WHERE id = $1").await;
    check.expect_error(result);
    let result = client.query("SELECT $1::int4", &[&"not a number"]).await;
    check.expect_error(result);
    let rows = client.query(&statement, &[&7i32, &"still prepared"]).await?;
    check.lines.extend(describe_rows(&rows));
    Ok(())
}

async fn table_and_pipeline(check: &mut Check, session: &mut Session) -> Result<(), BoxError> {
    let client = &session.client;
    client
        .batch_execute(
            "CREATE TEMP TABLE patients (
                 id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                 name text NOT NULL,
                 balance numeric(12, 2),
                 photo bytea)",
        )
        .await?;

    let insert = client.prepare("INSERT INTO patients (name, balance, photo) VALUES ($1, $2::text::numeric, $3) RETURNING id").await?;
    let photo: &[u8] = &[1, 2];
    let no_photo: Option<&[u8]> = None;
    // tokio-postgres writes the requests of futures polled together before reading any
    // response, so these reach the server as one pipeline with a Sync after each.
    let no_balance: Option<&str> = None;
    let first_params: [&(dyn ToSql + Sync); 3] = [&"Ada Lovelace", &"100.50", &photo];
    let second_params: [&(dyn ToSql + Sync); 3] = [&"Zoë 東京", &"-3.25", &no_photo];
    let third_params: [&(dyn ToSql + Sync); 3] = [&"after the failed request", &no_balance, &no_photo];
    let (first, second, failed, third) = futures::join!(
        client.query_one(&insert, &first_params),
        client.query_one(&insert, &second_params),
        client.query_one("SELECT 1 / 0", &[]),
        client.query_one(&insert, &third_params),
    );
    for result in [first, second, third] {
        check.out(format!("pipelined insert id {}", result?.get::<_, Raw>(0)));
    }
    check.expect_error(failed);

    let updated = client.execute("UPDATE patients SET balance = balance * 2 WHERE balance IS NOT NULL", &[]).await?;
    check.out(format!("updated {updated}"));
    let rows = client.query("SELECT * FROM patients ORDER BY id", &[]).await?;
    check.lines.extend(describe_rows(&rows));
    Ok(())
}

async fn simple_queries(check: &mut Check, session: &mut Session) -> Result<(), BoxError> {
    let messages = session
        .client
        .simple_query("SELECT 1 AS first; UPDATE patients SET name = name WHERE false; SELECT 'two' AS second, NULL AS nothing")
        .await?;
    check.lines.extend(describe_simple(&messages));
    let result = session
        .client
        .simple_query("INSERT INTO patients (name) VALUES ('rolled back'); SELECT 1 / 0; SELECT 3")
        .await;
    check.expect_error(result);
    let messages = session.client.simple_query("SELECT count(*) FROM patients WHERE name = 'rolled back'").await?;
    check.lines.extend(describe_simple(&messages));
    Ok(())
}

async fn errors_and_notices(check: &mut Check, session: &mut Session) -> Result<(), BoxError> {
    for sql in [
        "SELECT * FROM no_such_table",
        "INSERT INTO patients (id, name) VALUES (1, 'duplicate')",
        "INSERT INTO patients (name) VALUES (NULL)",
        "SELECT 1 +",
        "DO $$ BEGIN RAISE EXCEPTION 'custom failure' USING ERRCODE = 'P0042', DETAIL = 'custom detail'; END $$",
    ] {
        let result = session.client.batch_execute(sql).await;
        check.expect_error(result);
    }
    session
        .client
        .batch_execute(
            "DO $$ BEGIN RAISE NOTICE 'notice with detail %', 42 USING DETAIL = 'the detail', HINT = 'the hint'; \
             RAISE WARNING 'a warning'; END $$",
        )
        .await?;
    check.drain_notices(session);
    session.client.batch_execute("SET statement_timeout = '200ms'").await?;
    let result = session.client.query("SELECT pg_sleep(5)", &[]).await;
    check.expect_error(result);
    session.client.batch_execute("RESET statement_timeout").await?;
    let messages = session.client.simple_query("SELECT 'still usable'").await?;
    check.lines.extend(describe_simple(&messages));
    Ok(())
}

async fn transactions(check: &mut Check, session: &mut Session) -> Result<(), BoxError> {
    {
        let transaction = session.client.transaction().await?;
        transaction.execute("INSERT INTO patients (name) VALUES ('in transaction')", &[]).await?;
        let result = transaction.query("SELECT 1 / 0", &[]).await;
        check.expect_error(result);
        let result = transaction.query("SELECT 'ignored'", &[]).await;
        check.expect_error(result);
        transaction.rollback().await?;
    }
    let count: i64 =
        session.client.query_one("SELECT count(*) FROM patients WHERE name = 'in transaction'", &[]).await?.get(0);
    check.out(format!("after rollback {count}"));

    {
        let mut transaction = session.client.transaction().await?;
        transaction.execute("INSERT INTO patients (name) VALUES ('kept')", &[]).await?;
        {
            let savepoint = transaction.savepoint("before_error").await?;
            savepoint.execute("INSERT INTO patients (name) VALUES ('undone')", &[]).await?;
            let result = savepoint.query("SELECT no_such_column FROM patients", &[]).await;
            check.expect_error(result);
            savepoint.rollback().await?;
        }
        transaction.execute("INSERT INTO patients (name) VALUES ('after savepoint')", &[]).await?;
        transaction.commit().await?;
    }
    let rows = session
        .client
        .query("SELECT name FROM patients WHERE name IN ('kept', 'undone', 'after savepoint') ORDER BY id", &[])
        .await?;
    check.lines.extend(describe_rows(&rows));

    {
        let transaction = session
            .client
            .build_transaction()
            .isolation_level(IsolationLevel::Serializable)
            .read_only(true)
            .start()
            .await?;
        let isolation: String = transaction.query_one("SHOW transaction_isolation", &[]).await?.get(0);
        check.out(format!("isolation {isolation}"));
        let result = transaction.execute("CREATE TABLE read_only_probe (id integer)", &[]).await;
        check.expect_error(result);
        let result = transaction.commit().await;
        check.out(format!("commit of failed transaction: {}", if result.is_ok() { "ok" } else { "error" }));
    }

    {
        // A portal read 700 rows per Execute. The server ends each batch but the last
        // with PortalSuspended.
        let transaction = session.client.transaction().await?;
        let statement = transaction.prepare(LARGE_QUERY).await?;
        let portal = transaction.bind(&statement, &[]).await?;
        let mut hasher = Sha256::new();
        let mut count = 0;
        let mut batches = 0;
        loop {
            let rows = transaction.query_portal(&portal, 700).await?;
            if rows.is_empty() {
                break;
            }
            batches += 1;
            for row in &rows {
                count += 1;
                for index in 0..row.len() {
                    hasher.update(row.get::<_, Raw>(index).to_string());
                }
            }
        }
        check.out(format!("portal rows {count} batches {batches} sha256 {}", hex::encode(hasher.finalize())));
        transaction.commit().await?;
    }
    Ok(())
}

async fn copy_operations(check: &mut Check, session: &mut Session) -> Result<(), BoxError> {
    let client = &session.client;
    client.batch_execute("CREATE TEMP TABLE visits (patient text, visited date, note text, amount numeric)").await?;
    let sink = client.copy_in("COPY visits FROM STDIN").await?;
    futures::pin_mut!(sink);
    sink.send(Bytes::from_static("Ada Lovelace\t2024-01-01\tfirst visit\t10.5\n".as_bytes())).await?;
    sink.send(Bytes::from_static("Zoë 東京\t2024-01-02\t\\N\t0\ntab\\there\t2024-01-03\tback\\\\slash\t-1\n".as_bytes()))
        .await?;
    check.out(format!("copy in text {}", sink.as_mut().finish().await?));

    let sink = client.copy_in("COPY visits (patient, note) FROM STDIN WITH (FORMAT binary)").await?;
    let writer = BinaryCopyInWriter::new(sink, &[Type::TEXT, Type::TEXT]);
    futures::pin_mut!(writer);
    writer.as_mut().write(&[&"binary row", &"ü"]).await?;
    writer.as_mut().write(&[&"binary null", &None::<&str>]).await?;
    check.out(format!("copy in binary {}", writer.finish().await?));

    let stream = client.copy_out("COPY (SELECT * FROM visits ORDER BY patient) TO STDOUT WITH (FORMAT csv, HEADER)").await?;
    let chunks: Vec<Bytes> = stream.try_collect().await?;
    check.out(format!("copy out csv {:?}", String::from_utf8_lossy(&chunks.concat())));

    let stream = client.copy_out("COPY (SELECT patient, note FROM visits ORDER BY patient) TO STDOUT WITH (FORMAT binary)").await?;
    let rows = BinaryCopyOutStream::new(stream, &[Type::TEXT, Type::TEXT]);
    futures::pin_mut!(rows);
    while let Some(row) = rows.next().await {
        let row = row?;
        let values: (String, Option<String>) = (row.get(0), row.get(1));
        check.out(format!("copy out binary row {values:?}"));
    }

    let sink = client.copy_in::<_, Bytes>("COPY visits FROM STDIN").await?;
    futures::pin_mut!(sink);
    sink.send(Bytes::from_static(b"bad row\tnot a date\tx\t1\n")).await?;
    let result = sink.as_mut().finish().await;
    check.expect_error(result);
    let count: i64 = client.query_one("SELECT count(*) FROM visits", &[]).await?.get(0);
    check.out(format!("visits after failed copy {count}"));
    Ok(())
}

async fn large_results(check: &mut Check, session: &mut Session) -> Result<(), BoxError> {
    let rows = session.client.query(LARGE_QUERY, &[]).await?;
    let mut hasher = Sha256::new();
    for row in &rows {
        for index in 0..row.len() {
            hasher.update(row.get::<_, Raw>(index).to_string());
        }
    }
    check.out(format!("rows {} sha256 {}", rows.len(), hex::encode(hasher.finalize())));
    let messages = session.client.simple_query(LARGE_QUERY).await?;
    let mut hasher = Sha256::new();
    for line in describe_simple(&messages) {
        hasher.update(line);
    }
    check.out(format!("simple protocol messages {} sha256 {}", messages.len(), hex::encode(hasher.finalize())));
    let value: String = session
        .client
        .query_one("SELECT string_agg(md5(g::text), '') FROM generate_series(1, 3000) AS g", &[])
        .await?
        .get(0);
    check.out(format!("one 96 kB value {} {}", value.len(), hex::encode(Sha256::digest(value.as_bytes()))));
    Ok(())
}

async fn listen_notify(check: &mut Check) -> Result<(), BoxError> {
    let mut listener = check.connect().await?;
    let sender = check.connect().await?;
    let own_pid: i32 = listener.client.query_one("SELECT pg_backend_pid()", &[]).await?.get(0);
    let sender_pid: i32 = sender.client.query_one("SELECT pg_backend_pid()", &[]).await?.get(0);

    listener.client.batch_execute(&format!("LISTEN {CHANNEL}; NOTIFY {CHANNEL}, 'from self'")).await?;
    sender.client.batch_execute(&format!("NOTIFY {CHANNEL}, 'from sender'")).await?;
    sender.client.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &"Ünïcödé payload 🙂"]).await?;
    sender
        .client
        .batch_execute(&format!(
            "BEGIN; NOTIFY {CHANNEL}, 'delivered at commit'; NOTIFY {CHANNEL}, 'delivered at commit'; COMMIT"
        ))
        .await?;

    let mut received = 0;
    while received < 4 {
        let event = tokio::time::timeout(Duration::from_secs(10), listener.events.recv())
            .await
            .map_err(|_| "notifications did not arrive within 10 s")?
            .ok_or("the listener's connection ended")?;
        match event {
            Event::Notification { channel, payload, pid } => {
                let origin = match pid {
                    pid if pid == own_pid => "own backend",
                    pid if pid == sender_pid => "sender backend",
                    _ => "unknown backend",
                };
                check.out(format!("notification {channel} {payload:?} {origin}"));
                received += 1;
            }
            Event::Notice(text) => check.out(format!("notice: {text}")),
            Event::ConnectionError(text) => return Err(text.into()),
        }
    }

    listener.client.batch_execute(&format!("UNLISTEN {CHANNEL}")).await?;
    sender.client.batch_execute(&format!("NOTIFY {CHANNEL}, 'not delivered'")).await?;
    listener.client.batch_execute("SELECT 1").await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    check.drain_notices(&mut listener);
    check.out("after UNLISTEN: nothing else arrived");
    Ok(())
}

async fn cancel_query(check: &mut Check) -> Result<(), BoxError> {
    let session = check.connect().await?;
    let observer = check.connect().await?;
    let pid: i32 = session.client.query_one("SELECT pg_backend_pid()", &[]).await?.get(0);
    let token = session.client.cancel_token();
    let tls = check.tls.clone();
    let (result, cancelled) = tokio::join!(session.client.simple_query("SELECT pg_sleep(30)"), async move {
        // The cancel goes out once the query runs, so that it cannot come early.
        let mut active = false;
        for _ in 0..200 {
            let row = observer
                .client
                .query_opt("SELECT state = 'active' FROM pg_stat_activity WHERE pid = $1", &[&pid])
                .await?;
            active = row.is_some_and(|row| row.get::<_, Option<bool>>(0) == Some(true));
            if active {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        token.cancel_query(tls).await?;
        Ok::<bool, BoxError>(active)
    });
    check.out(format!("query running before cancel: {}", cancelled?));
    check.expect_error(result);
    let messages = session.client.simple_query("SELECT 'usable after cancel'").await?;
    check.lines.extend(describe_simple(&messages));
    Ok(())
}

fn tls_connector(parameters: &Parameters) -> Result<MakeRustlsConnect, BoxError> {
    let mut roots = rustls::RootCertStore::empty();
    if let Some(path) = &parameters.ssl_root_cert {
        let pem = std::fs::read(path).map_err(|error| format!("reading PGSSLROOTCERT {}: {error}", path.display()))?;
        for certificate in rustls_pemfile::certs(&mut pem.as_slice()) {
            roots.add(certificate?)?;
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// Runs every step and returns the transcript. A step that fails with an error it
/// did not expect is recorded in the transcript and in `unexpected`, and the next
/// step runs.
pub async fn run(parameters: Parameters) -> Transcript {
    let parameters = Arc::new(parameters);
    let tls = match tls_connector(&parameters) {
        Ok(tls) => tls,
        Err(error) => {
            return Transcript {
                text: format!("!! TLS setup failed: {error}\n"),
                unexpected: vec!["TLS setup".to_string()],
            }
        }
    };
    let mut check = Check { lines: Vec::new(), unexpected: Vec::new(), parameters, tls };

    match check.connect().await {
        Ok(mut session) => {
            macro_rules! step {
                ($name:expr, $function:ident) => {
                    check.out(format!("== {}", $name));
                    if let Err(error) = $function(&mut check, &mut session).await {
                        check.out(format!("!! unexpected error: {error}"));
                        check.unexpected.push($name.to_string());
                        let _ = session.client.batch_execute("ROLLBACK").await;
                    }
                    check.drain_notices(&mut session);
                };
            }
            step!("session", session_facts);
            step!("binary types and parameters", binary_types);
            step!("prepared statements", prepared_statements);
            step!("table and pipelined requests", table_and_pipeline);
            step!("simple query protocol", simple_queries);
            step!("errors and notices", errors_and_notices);
            step!("transactions and portals", transactions);
            step!("COPY", copy_operations);
            step!("large results", large_results);
        }
        Err(error) => {
            check.out(format!("!! connecting failed: {error}"));
            check.unexpected.push("connect".to_string());
        }
    }
    check.out("== LISTEN and NOTIFY");
    if let Err(error) = listen_notify(&mut check).await {
        check.out(format!("!! unexpected error: {error}"));
        check.unexpected.push("LISTEN and NOTIFY".to_string());
    }
    check.out("== cancel");
    if let Err(error) = cancel_query(&mut check).await {
        check.out(format!("!! unexpected error: {error}"));
        check.unexpected.push("cancel".to_string());
    }
    check.out("== end");

    let mut text = String::new();
    for line in &check.lines {
        let _ = writeln!(text, "{line}");
    }
    Transcript { text, unexpected: check.unexpected }
}
