//! Every supported method on every type, checked by a real PostgreSQL server: masked
//! text values must pass the type's input function and masked binary values its
//! receive function, and both formats must mask a value to the same result.

use std::error::Error;

use bytes::BytesMut;
use portcullis_cluster::Cluster;
use portcullis_mask::{mask_value, ColumnType, Format, MaskKey, MaskMethod, PgType};
use tokio_postgres::types::{to_sql_checked, FromSql, IsNull, ToSql, Type};
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

/// A value in binary format, passed to and from the server unchanged.
#[derive(Debug)]
struct RawBinary(Vec<u8>);

impl ToSql for RawBinary {
    fn to_sql(&self, _: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        out.extend_from_slice(&self.0);
        Ok(IsNull::No)
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

impl<'a> FromSql<'a> for RawBinary {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn Error + Sync + Send>> {
        Ok(RawBinary(raw.to_vec()))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// SQL literals of each type, including edge values.
fn samples(pg_type: PgType) -> &'static [&'static str] {
    match pg_type {
        PgType::Text => &[
            "'900-12-3456'",
            "''",
            "'Zoë Müller, 番号'",
            "E'tab\\there'",
            "'02139-4307'",
        ],
        PgType::Varchar => &["'(617) 555-0142'::varchar(14)", "'x'::varchar"],
        PgType::Bpchar => &["'F'::char(1)", "'02139'::char(5)", "'AB'::char(30)"],
        PgType::Name => &["'postgres'::name"],
        PgType::Int2 => &["42::int2"],
        PgType::Int4 => &["123456::int4", "(-2147483648)::int4", "0::int4"],
        PgType::Int8 => &["9876543210::int8", "(-9223372036854775808)::int8"],
        PgType::Numeric => &[
            "12.50::numeric(10,2)",
            "'-0.00'::numeric",
            "'NaN'::numeric",
            "'123456789.123456789'::numeric",
            "1e-20::numeric",
            "1e20::numeric",
        ],
        PgType::Date => &[
            "'1984-03-15'::date",
            "'2024-02-29'::date",
            "'0044-03-15 BC'::date",
            "'infinity'::date",
        ],
        PgType::Timestamp => &[
            "'1984-03-15 13:45:12.5'::timestamp",
            "'-infinity'::timestamp",
        ],
        PgType::Timestamptz => &[
            "'1984-03-15 13:45:12.5+00'::timestamptz",
            "'2024-12-31 23:30:00-05'::timestamptz",
        ],
        PgType::Bool => &["true"],
        PgType::Uuid => &["'3f1b074a-4080-490f-855f-242e451d546b'::uuid"],
    }
}

fn methods() -> Vec<MaskMethod> {
    let mut methods = MaskMethod::ALL.to_vec();
    methods.push(MaskMethod::Partial { keep_last: 1 });
    methods
}

fn apply(
    method: MaskMethod,
    key: &MaskKey,
    pg_type: PgType,
    format: Format,
    value: &[u8],
) -> Option<Vec<u8>> {
    let mut out = BytesMut::new();
    mask_value(
        method,
        Some(key),
        pg_type.oid(),
        format,
        Some(value),
        &mut out,
    )
    .unwrap_or_else(|error| panic!("{method} on {pg_type} {format}: {error}"))
    .map(|_| out.to_vec())
}

/// Masks the text form of `literal` and has the server parse the result; returns the
/// server's text output of the parsed value.
async fn through_text(
    client: &Client,
    method: MaskMethod,
    key: &MaskKey,
    pg_type: PgType,
    literal: &str,
) -> Option<String> {
    // The simple query protocol returns the type's own text output, with the padding
    // of a character(n) value that a cast to text would drop.
    let messages = client
        .simple_query(&format!("SELECT {literal}"))
        .await
        .unwrap();
    let text = messages
        .iter()
        .find_map(|message| match message {
            SimpleQueryMessage::Row(row) => row.get(0).map(str::to_string),
            _ => None,
        })
        .expect("one row");
    let masked = apply(method, key, pg_type, Format::Text, text.as_bytes())?;
    let masked = String::from_utf8(masked).expect("masked text is UTF-8");
    let sql = format!("SELECT ($1::text)::{}::text", sql_type(pg_type));
    let parsed = client
        .query_one(&sql, &[&masked])
        .await
        .unwrap_or_else(|error| {
            panic!(
                "server rejected text {masked:?} from {method} on {pg_type} ({literal}): {error}"
            )
        });
    Some(parsed.get(0))
}

/// Masks the binary form of `literal` and has the server receive the result; returns
/// the server's text output of the received value.
async fn through_binary(
    client: &Client,
    method: MaskMethod,
    key: &MaskKey,
    pg_type: PgType,
    literal: &str,
) -> Option<String> {
    let row = client
        .query_one(&format!("SELECT {literal}"), &[])
        .await
        .unwrap();
    let binary: RawBinary = row.get(0);
    let masked = apply(method, key, pg_type, Format::Binary, &binary.0)?;
    let parameter_type = Type::from_oid(pg_type.oid()).expect("built-in type");
    let statement = client
        .prepare_typed("SELECT $1::text", &[parameter_type])
        .await
        .unwrap();
    let received = client
        .query_one(&statement, &[&RawBinary(masked.clone())])
        .await
        .unwrap_or_else(|error| {
            panic!(
                "server rejected binary {masked:?} from {method} on {pg_type} ({literal}): {error}"
            )
        });
    Some(received.get(0))
}

fn sql_type(pg_type: PgType) -> &'static str {
    match pg_type {
        PgType::Bpchar => "bpchar",
        PgType::Varchar => "varchar",
        other => other.sql_name(),
    }
}

#[tokio::test]
async fn server_parses_every_masked_value() {
    let cluster = Cluster::start().expect("start a throwaway PostgreSQL cluster");
    let (client, connection) = tokio_postgres::connect(&cluster.superuser_url("postgres"), NoTls)
        .await
        .unwrap();
    let connection = tokio::spawn(connection);
    client
        .batch_execute("SET TimeZone = 'UTC'; SET DateStyle = 'ISO, MDY'")
        .await
        .unwrap();
    let key = MaskKey::from_bytes([9; 32]);

    let mut checked = 0;
    for pg_type in PgType::ALL {
        for method in methods() {
            if !method.supports(ColumnType::Known(pg_type)) {
                continue;
            }
            for literal in samples(pg_type) {
                let from_text = through_text(&client, method, &key, pg_type, literal).await;
                let from_binary = through_binary(&client, method, &key, pg_type, literal).await;
                assert_eq!(
                    from_text, from_binary,
                    "{method} on {pg_type} ({literal}) differs between formats"
                );
                if method == MaskMethod::Null {
                    assert_eq!(from_text, None);
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 60, "only {checked} cases ran");
    drop(client);
    connection.await.unwrap().unwrap();
}

#[tokio::test]
async fn server_values_of_known_results() {
    let cluster = Cluster::start().expect("start a throwaway PostgreSQL cluster");
    let (client, connection) = tokio_postgres::connect(&cluster.superuser_url("postgres"), NoTls)
        .await
        .unwrap();
    let connection = tokio::spawn(connection);
    client.batch_execute("SET TimeZone = 'UTC'").await.unwrap();
    let key = MaskKey::from_bytes([9; 32]);

    let cases: [(MaskMethod, PgType, &str, &str); 6] = [
        (
            MaskMethod::Year,
            PgType::Date,
            "'1984-03-15'::date",
            "1984-01-01",
        ),
        (
            MaskMethod::Year,
            PgType::Timestamp,
            "'1984-03-15 13:45:12.5'::timestamp",
            "1984-01-01 00:00:00",
        ),
        (
            MaskMethod::Year,
            PgType::Timestamptz,
            "'1984-03-15 13:45:12.5+00'::timestamptz",
            "1984-01-01 12:00:00+00",
        ),
        (
            MaskMethod::Year,
            PgType::Date,
            "'0044-03-15 BC'::date",
            "0044-01-01 BC",
        ),
        (MaskMethod::Zip3, PgType::Bpchar, "'83001'::char(5)", "000"),
        (
            MaskMethod::Partial { keep_last: 4 },
            PgType::Bpchar,
            "'AB12'::char(6)",
            "**12",
        ),
    ];
    for (method, pg_type, literal, expected) in cases {
        let received = through_binary(&client, method, &key, pg_type, literal).await;
        assert_eq!(received.as_deref(), Some(expected), "{method} on {literal}");
    }
    drop(client);
    connection.await.unwrap().unwrap();
}

/// The masking plan takes type OIDs from RowDescription. A domain column must report
/// its base type there, or masks on domains would be rejected as unknown types.
#[tokio::test]
async fn row_description_reports_domain_base_type() {
    let cluster = Cluster::start().expect("start a throwaway PostgreSQL cluster");
    let (client, connection) = tokio_postgres::connect(&cluster.superuser_url("postgres"), NoTls)
        .await
        .unwrap();
    let connection = tokio::spawn(connection);
    client
        .batch_execute("CREATE DOMAIN ssn_text AS text CHECK (VALUE ~ '^9')")
        .await
        .unwrap();
    let statement = client
        .prepare("SELECT '900-12-3456'::ssn_text")
        .await
        .unwrap();
    assert_eq!(statement.columns()[0].type_().oid(), PgType::Text.oid());
    drop(client);
    connection.await.unwrap().unwrap();
}
