// Conformance program for pgjdbc (Debian's libpostgresql-jdbc-java), run once directly
// against PostgreSQL and once through the gateway; the two transcripts it prints must be
// byte-identical. Compile and run with /usr/share/java/postgresql.jar on the class path.
//
// Connection parameters come from PGHOST, PGPORT, PGUSER, PGPASSWORD and PGDATABASE.
// PGSSLMODE and PGSSLROOTCERT become pgjdbc's sslmode and sslrootcert properties; an
// unset PGSSLMODE means sslmode=disable. Every table is temporary, so both runs start
// from the same state.
//
// Normalized: backend PIDs. The transcript shows whether a notification came from the
// session's own backend (pg_backend_pid()) or another one, and that getBackendPID()
// is positive, never the numbers themselves.
//
// The program exits with status 1 when a step threw an exception that the step did not
// expect; the exception is also printed in the transcript.

import java.io.StringReader;
import java.io.StringWriter;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.sql.Array;
import java.sql.BatchUpdateException;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.SQLWarning;
import java.sql.Savepoint;
import java.sql.Statement;
import java.sql.Types;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Properties;
import java.util.TimeZone;

import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.postgresql.PGStatement;
import org.postgresql.copy.CopyManager;
import org.postgresql.util.PSQLException;
import org.postgresql.util.ServerErrorMessage;

public final class Conformance {
    private static final List<String> LINES = new ArrayList<>();
    private static final List<String> UNEXPECTED = new ArrayList<>();
    private static final String CHANNEL = "conformance_jdbc";

    private interface Step {
        void run() throws Exception;
    }

    private interface Action {
        void run() throws Exception;
    }

    private Conformance() {}

    private static void out(Object... parts) {
        StringBuilder line = new StringBuilder();
        for (Object part : parts) {
            if (line.length() > 0) {
                line.append(' ');
            }
            line.append(part);
        }
        LINES.add(line.toString());
    }

    /** Runs one step; an unexpected exception is recorded and the next step runs. */
    private static void step(String name, Connection connection, Step body) {
        out("== " + name);
        try {
            body.run();
        } catch (Exception error) {
            out("!! unexpected " + error.getClass().getSimpleName() + ": " + error.getMessage());
            UNEXPECTED.add(name);
            error.printStackTrace();
            try {
                if (connection != null && !connection.getAutoCommit()) {
                    connection.rollback();
                }
            } catch (SQLException ignored) {
                // The step already failed; the transcript shows why.
            }
        }
    }

    private static String describe(SQLException error) {
        StringBuilder text = new StringBuilder(error.getClass().getSimpleName());
        text.append(" sqlstate=").append(error.getSQLState());
        if (error instanceof PSQLException psql && psql.getServerErrorMessage() != null) {
            ServerErrorMessage server = psql.getServerErrorMessage();
            text.append(" severity=").append(server.getSeverity())
                .append(" message=").append(server.getMessage())
                .append(" detail=").append(server.getDetail())
                .append(" hint=").append(server.getHint())
                .append(" position=").append(server.getPosition())
                .append(" where=").append(server.getWhere())
                .append(" table=").append(server.getTable())
                .append(" column=").append(server.getColumn())
                .append(" constraint=").append(server.getConstraint());
        } else {
            text.append(" message=").append(error.getMessage());
        }
        return text.toString();
    }

    private static void expectError(Action action) throws Exception {
        try {
            action.run();
            out("error: none raised");
        } catch (SQLException error) {
            out("error:", describe(error));
        }
    }

    private static String show(Object value) throws SQLException {
        if (value == null) {
            return "NULL";
        }
        if (value instanceof byte[] bytes) {
            return "bytes:" + HexFormat.of().formatHex(bytes);
        }
        if (value instanceof Array array) {
            return "Array<" + array.getBaseTypeName() + ">:" + show(array.getArray());
        }
        if (value instanceof Object[] items) {
            StringBuilder text = new StringBuilder("[");
            for (int i = 0; i < items.length; i++) {
                text.append(i == 0 ? "" : ", ").append(show(items[i]));
            }
            return text.append(']').toString();
        }
        if (value instanceof org.postgresql.util.PGobject object) {
            return "PGobject<" + object.getType() + ">:" + object.getValue();
        }
        return value.getClass().getSimpleName() + ":" + value;
    }

    private static void printRows(String label, ResultSet rows) throws SQLException {
        ResultSetMetaData meta = rows.getMetaData();
        List<String> columns = new ArrayList<>();
        for (int i = 1; i <= meta.getColumnCount(); i++) {
            columns.add(meta.getColumnLabel(i) + ":" + meta.getColumnTypeName(i) + "/" + meta.getColumnType(i)
                + "/" + meta.getPrecision(i) + "," + meta.getScale(i));
        }
        out(label, "columns", columns);
        while (rows.next()) {
            List<String> values = new ArrayList<>();
            for (int i = 1; i <= meta.getColumnCount(); i++) {
                Object value = rows.getObject(i);
                // getString on a bytea read in binary format returns byte[].toString(),
                // which contains an identity hash code, so only getObject is shown.
                values.add(value instanceof byte[] ? show(value) : show(value) + "|" + rows.getString(i));
            }
            out(label, "row", values);
        }
    }

    private static void printWarnings(String label, SQLWarning warning) {
        for (SQLWarning current = warning; current != null; current = current.getNextWarning()) {
            out(label, "warning:", describe(current));
        }
    }

    private static Connection connect(boolean autoCommit) throws SQLException {
        String host = System.getenv("PGHOST");
        String port = System.getenv("PGPORT");
        String database = System.getenv("PGDATABASE");
        Properties properties = new Properties();
        properties.setProperty("user", System.getenv("PGUSER"));
        properties.setProperty("password", System.getenv("PGPASSWORD"));
        String sslMode = System.getenv("PGSSLMODE");
        properties.setProperty("sslmode", sslMode == null || sslMode.isEmpty() ? "disable" : sslMode);
        String rootCert = System.getenv("PGSSLROOTCERT");
        if (rootCert != null && !rootCert.isEmpty()) {
            properties.setProperty("sslrootcert", rootCert);
        }
        Connection connection = DriverManager.getConnection(
            "jdbc:postgresql://" + host + ":" + port + "/" + database, properties);
        connection.setAutoCommit(autoCommit);
        return connection;
    }

    private static void session(Connection connection) throws Exception {
        PGConnection pg = connection.unwrap(PGConnection.class);
        out("backend pid positive:", pg.getBackendPID() > 0);
        DatabaseMetaData meta = connection.getMetaData();
        out("product:", meta.getDatabaseProductName(), meta.getDatabaseProductVersion());
        out("driver:", meta.getDriverName(), meta.getDriverVersion());
        // application_name is left out: the gateway sends its own upstream.
        for (String name : new String[] {"server_version", "server_encoding", "client_encoding", "DateStyle",
            "IntervalStyle", "integer_datetimes", "standard_conforming_strings", "is_superuser",
            "session_authorization", "TimeZone"}) {
            out("parameter " + name + ":", pg.getParameterStatus(name));
        }
        try (Statement statement = connection.createStatement()) {
            statement.execute("SET TimeZone = 'America/New_York'");
            out("TimeZone after SET:", pg.getParameterStatus("TimeZone"));
            printRows("identity", statement.executeQuery("SELECT current_user, session_user, current_database()"));
        }
    }

    private static final String VALUES_QUERY = """
        SELECT NULL::text AS null_text, 'Zoë – Ünïcödé 東京 🙂'::text AS unicode,
               12345678901234567890.123456789::numeric AS big, 'NaN'::numeric AS nan,
               1.5::float8 / 3 AS float8, (-9223372036854775808)::int8 AS int8_min, true AS yes,
               '2024-02-29 23:59:59.123456+00'::timestamptz AS timestamptz,
               '2024-03-10 02:30:00'::timestamp AS timestamp, '2024-03-10'::date AS date,
               '13:45:00'::time AS time, '1 day 25:00:00.5'::interval AS interval,
               '\\xdeadbeef00ff'::bytea AS bytea, ARRAY[1, NULL, 3]::int[] AS ints,
               ARRAY['a', NULL, 'with "quotes"', 'with,comma', '']::text[] AS texts,
               '{"b": [1, 2, null], "a": "ü"}'::jsonb AS jsonb,
               'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS uuid
        """;

    private static void types(Connection connection) throws Exception {
        try (Statement statement = connection.createStatement()) {
            printRows("simple", statement.executeQuery(VALUES_QUERY));
        }
        try (PreparedStatement statement = connection.prepareStatement(VALUES_QUERY)) {
            // From the prepareThreshold-th execution on, pgjdbc uses a named server-side
            // statement and requests some result columns in binary format.
            for (int i = 1; i <= 6; i++) {
                try (ResultSet rows = statement.executeQuery()) {
                    if (i == 1 || i == 6) {
                        out("execution", i, "server prepared:", statement.unwrap(PGStatement.class).isUseServerPrepare());
                        printRows("prepared#" + i, rows);
                    }
                }
            }
        }
        try (PreparedStatement statement = connection.prepareStatement(
            "SELECT ?::text, ?::text, ?::numeric, ?::int8, ?::float8, ?::bool, ?::timestamptz, ?::timestamp, ?::date,"
                + " ?::bytea, ?::text[], ?::int4[], ?::jsonb")) {
            statement.setNull(1, Types.VARCHAR);
            statement.setString(2, "Zoë – Ünïcödé 東京 🙂");
            statement.setBigDecimal(3, new BigDecimal("12345678901234567890.123456789"));
            statement.setLong(4, Long.MIN_VALUE);
            statement.setDouble(5, 0.1);
            statement.setBoolean(6, true);
            statement.setObject(7, OffsetDateTime.of(2024, 2, 29, 23, 59, 59, 123456000, ZoneOffset.ofHoursMinutes(5, 30)));
            statement.setObject(8, LocalDateTime.of(2024, 3, 10, 2, 30));
            statement.setObject(9, LocalDate.of(1815, 12, 10));
            statement.setBytes(10, new byte[] {0, 1, (byte) 0xfe, (byte) 0xff});
            statement.setArray(11, connection.createArrayOf("text", new Object[] {"ä", null, "with \"quotes\""}));
            statement.setArray(12, connection.createArrayOf("int4", new Object[] {1, null, 3}));
            statement.setString(13, "{\"a\": [1, null, \"ü\"]}");
            printRows("parameters", statement.executeQuery());
        }
    }

    private static void tables(Connection connection) throws Exception {
        try (Statement statement = connection.createStatement()) {
            statement.execute("""
                CREATE TEMP TABLE patients (
                    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    name text NOT NULL,
                    born date,
                    balance numeric(12, 2),
                    photo bytea,
                    tags text[],
                    seen_at timestamptz)""");
            out("create update count:", statement.getUpdateCount());
        }
        try (PreparedStatement insert = connection.prepareStatement(
            "INSERT INTO patients (name, born, balance, photo, tags, seen_at) VALUES (?, ?, ?, ?, ?, ?)",
            Statement.RETURN_GENERATED_KEYS)) {
            insert.setString(1, "Ada Lovelace");
            insert.setObject(2, LocalDate.of(1815, 12, 10));
            insert.setBigDecimal(3, new BigDecimal("100.50"));
            insert.setBytes(4, new byte[] {1, 2});
            insert.setArray(5, connection.createArrayOf("text", new Object[] {"vip", "ünï"}));
            insert.setObject(6, OffsetDateTime.of(2024, 1, 2, 3, 4, 5, 0, ZoneOffset.UTC));
            out("insert:", insert.executeUpdate());
            try (ResultSet keys = insert.getGeneratedKeys()) {
                while (keys.next()) {
                    out("generated id:", keys.getInt("id"), keys.getString("name"));
                }
            }
        }
    }

    private static void batches(Connection connection) throws Exception {
        try (PreparedStatement insert = connection.prepareStatement(
            "INSERT INTO patients (name, balance) VALUES (?, ?)")) {
            for (int i = 1; i <= 7; i++) {
                insert.setString(1, "batch " + i);
                insert.setBigDecimal(2, i % 3 == 0 ? null : new BigDecimal(i + ".25"));
                insert.addBatch();
            }
            out("prepared batch:", java.util.Arrays.toString(insert.executeBatch()));
        }
        try (Statement statement = connection.createStatement()) {
            statement.addBatch("UPDATE patients SET balance = balance * 2 WHERE name LIKE 'batch %'");
            statement.addBatch("DELETE FROM patients WHERE name = 'batch 7'");
            statement.addBatch("INSERT INTO patients (name) VALUES ('statement batch')");
            out("statement batch:", java.util.Arrays.toString(statement.executeBatch()));
        }
        try (PreparedStatement insert = connection.prepareStatement("INSERT INTO patients (name) VALUES (?)")) {
            insert.setString(1, "before failure");
            insert.addBatch();
            insert.setString(1, null);
            insert.addBatch();
            insert.setString(1, "after failure");
            insert.addBatch();
            insert.executeBatch();
            out("failing batch: no exception");
        } catch (BatchUpdateException error) {
            out("failing batch counts:", java.util.Arrays.toString(error.getUpdateCounts()));
            out("failing batch:", describe(error));
            SQLException next = error.getNextException();
            out("failing batch cause:", next == null ? "none" : describe(next));
        }
        try (Statement statement = connection.createStatement()) {
            printRows("after batches",
                statement.executeQuery("SELECT id, name, balance FROM patients ORDER BY id"));
        }
    }

    private static void multipleStatements(Connection connection) throws Exception {
        try (Statement statement = connection.createStatement()) {
            boolean isResult = statement.execute(
                "SELECT 1 AS first; UPDATE patients SET name = name WHERE false; SELECT 'two' AS second");
            int index = 0;
            while (true) {
                if (isResult) {
                    printRows("result " + index, statement.getResultSet());
                } else {
                    int count = statement.getUpdateCount();
                    if (count == -1) {
                        break;
                    }
                    out("result " + index + " update count:", count);
                }
                index++;
                isResult = statement.getMoreResults();
            }
            expectError(() -> statement.execute(
                "INSERT INTO patients (name) VALUES ('rolled back'); SELECT 1 / 0; SELECT 3"));
            printRows("after failed multi", statement.executeQuery(
                "SELECT count(*) FROM patients WHERE name = 'rolled back'"));
        }
    }

    private static void errorsAndWarnings(Connection connection) throws Exception {
        try (Statement statement = connection.createStatement()) {
            expectError(() -> statement.executeQuery("SELECT * FROM no_such_table"));
            expectError(() -> statement.executeUpdate("INSERT INTO patients (id, name) VALUES (1, 'duplicate')"));
            expectError(() -> statement.executeUpdate("INSERT INTO patients (name) VALUES (NULL)"));
            expectError(() -> statement.executeQuery("SELECT 1 +"));
            statement.execute("DO $$ BEGIN RAISE NOTICE 'notice with detail %', 42 USING DETAIL = 'the detail', "
                + "HINT = 'the hint'; RAISE WARNING 'a warning'; END $$");
            printWarnings("DO", statement.getWarnings());
            expectError(() -> statement.execute(
                "DO $$ BEGIN RAISE EXCEPTION 'custom failure' USING ERRCODE = 'P0042', DETAIL = 'custom detail'; END $$"));
            statement.execute("SET statement_timeout = '200ms'");
            expectError(() -> statement.executeQuery("SELECT pg_sleep(5)"));
            statement.execute("RESET statement_timeout");
        }
        try (PreparedStatement statement = connection.prepareStatement("SELECT ?::integer")) {
            statement.setString(1, "not a number");
            expectError(statement::executeQuery);
        }
        try (Statement statement = connection.createStatement()) {
            printRows("still usable", statement.executeQuery("SELECT 'yes'"));
        }
    }

    private static void transactions(Connection connection) throws Exception {
        connection.setAutoCommit(false);
        try (Statement statement = connection.createStatement()) {
            statement.executeUpdate("INSERT INTO patients (name) VALUES ('in transaction')");
            expectError(() -> statement.executeQuery("SELECT 1 / 0"));
            expectError(() -> statement.executeQuery("SELECT 'ignored'"));
            connection.rollback();
            printRows("after rollback", statement.executeQuery(
                "SELECT count(*) FROM patients WHERE name = 'in transaction'"));
            connection.commit();

            statement.executeUpdate("INSERT INTO patients (name) VALUES ('kept')");
            Savepoint savepoint = connection.setSavepoint("before_error");
            statement.executeUpdate("INSERT INTO patients (name) VALUES ('undone')");
            expectError(() -> statement.executeQuery("SELECT no_such_column FROM patients"));
            connection.rollback(savepoint);
            statement.executeUpdate("INSERT INTO patients (name) VALUES ('after savepoint')");
            Savepoint released = connection.setSavepoint();
            statement.executeUpdate("INSERT INTO patients (name) VALUES ('released savepoint')");
            connection.releaseSavepoint(released);
            connection.commit();
            printRows("names", statement.executeQuery(
                "SELECT name FROM patients WHERE name IN ('kept', 'undone', 'after savepoint', 'released savepoint')"
                    + " ORDER BY id"));
            connection.commit();

            connection.setTransactionIsolation(Connection.TRANSACTION_SERIALIZABLE);
            connection.setReadOnly(true);
            printRows("isolation", statement.executeQuery("SHOW transaction_isolation"));
            expectError(() -> statement.execute("CREATE TABLE read_only_probe (id integer)"));
            connection.rollback();
            connection.setReadOnly(false);
            connection.setTransactionIsolation(Connection.TRANSACTION_READ_COMMITTED);

            // With autocommit off and a fetch size, pgjdbc reads the result through a
            // portal, a batch of rows per Execute.
            statement.setFetchSize(500);
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            int count = 0;
            String first = null;
            String last = null;
            try (ResultSet rows = statement.executeQuery("""
                SELECT g, md5(g::text), repeat('x', g % 17), CASE WHEN g % 7 = 0 THEN NULL ELSE g * 1.5 END
                FROM generate_series(1, 5000) AS g""")) {
                while (rows.next()) {
                    String row = rows.getInt(1) + "|" + rows.getString(2) + "|" + rows.getString(3) + "|"
                        + rows.getBigDecimal(4);
                    digest.update(row.getBytes(StandardCharsets.UTF_8));
                    first = first == null ? row : first;
                    last = row;
                    count++;
                }
            }
            out("fetch-size rows:", count, "first:", first, "last:", last, "sha256:",
                HexFormat.of().formatHex(digest.digest()));
            connection.commit();
        } finally {
            connection.setAutoCommit(true);
        }

        try (Statement statement = connection.createStatement();
             ResultSet rows = statement.executeQuery(
                 "SELECT string_agg(md5(g::text), '') FROM generate_series(1, 3000) AS g")) {
            rows.next();
            String value = rows.getString(1);
            out("one 96 kB value:", value.length(), HexFormat.of().formatHex(
                MessageDigest.getInstance("SHA-256").digest(value.getBytes(StandardCharsets.UTF_8))));
        }
    }

    private static void copy(Connection connection) throws Exception {
        CopyManager copy = connection.unwrap(PGConnection.class).getCopyAPI();
        try (Statement statement = connection.createStatement()) {
            statement.execute("CREATE TEMP TABLE visits (patient text, visited date, note text, amount numeric)");
        }
        out("copy in text:", copy.copyIn("COPY visits FROM STDIN", new StringReader(
            "Ada Lovelace\t2024-01-01\tfirst visit\t10.5\nZoë 東京\t2024-01-02\t\\N\t0\n"
                + "tab\\there\t2024-01-03\tback\\\\slash\t-1\n")));
        out("copy in csv:", copy.copyIn("COPY visits FROM STDIN WITH (FORMAT csv, HEADER true)", new StringReader(
            "patient,visited,note,amount\n\"Quoted, comma\",2024-02-01,\"multi\nline\",7\nEmpty,2024-02-02,,\n")));
        StringWriter text = new StringWriter();
        out("copy out text:", copy.copyOut("COPY (SELECT * FROM visits ORDER BY visited) TO STDOUT", text));
        out(text.toString());
        StringWriter csv = new StringWriter();
        out("copy out csv:", copy.copyOut(
            "COPY (SELECT * FROM visits ORDER BY visited) TO STDOUT WITH (FORMAT csv, HEADER true, FORCE_QUOTE *)", csv));
        out(csv.toString());
        expectError(() -> copy.copyIn("COPY visits FROM STDIN", new StringReader("bad row\tnot a date\tx\t1\n")));
        try (Statement statement = connection.createStatement()) {
            printRows("after failed copy", statement.executeQuery("SELECT count(*) FROM visits"));
        }
    }

    private static void listenNotify() throws Exception {
        try (Connection listener = connect(true); Connection sender = connect(true)) {
            int ownPid;
            int senderPid;
            try (Statement statement = listener.createStatement();
                 ResultSet rows = statement.executeQuery("SELECT pg_backend_pid()")) {
                rows.next();
                ownPid = rows.getInt(1);
            }
            try (Statement statement = sender.createStatement();
                 ResultSet rows = statement.executeQuery("SELECT pg_backend_pid()")) {
                rows.next();
                senderPid = rows.getInt(1);
            }
            try (Statement listen = listener.createStatement(); Statement send = sender.createStatement()) {
                listen.execute("LISTEN " + CHANNEL);
                listen.execute("NOTIFY " + CHANNEL + ", 'from self'");
                send.execute("NOTIFY " + CHANNEL + ", 'from sender'");
                try (PreparedStatement notify = sender.prepareStatement("SELECT pg_notify(?, ?)")) {
                    notify.setString(1, CHANNEL);
                    notify.setString(2, "Ünïcödé payload 🙂");
                    notify.execute();
                }
                sender.setAutoCommit(false);
                send.execute("NOTIFY " + CHANNEL + ", 'delivered at commit'");
                send.execute("NOTIFY " + CHANNEL + ", 'delivered at commit'");
                sender.commit();
                sender.setAutoCommit(true);

                PGConnection pg = listener.unwrap(PGConnection.class);
                List<PGNotification> received = new ArrayList<>();
                long deadline = System.currentTimeMillis() + 10_000;
                while (received.size() < 4 && System.currentTimeMillis() < deadline) {
                    PGNotification[] batch = pg.getNotifications(500);
                    if (batch != null) {
                        received.addAll(List.of(batch));
                    }
                }
                for (PGNotification notification : received) {
                    String origin = notification.getPID() == ownPid ? "own backend"
                        : notification.getPID() == senderPid ? "sender backend" : "unknown backend";
                    out("notification:", notification.getName(), notification.getParameter(), origin);
                }
                listen.execute("UNLISTEN " + CHANNEL);
                send.execute("NOTIFY " + CHANNEL + ", 'not delivered'");
                PGNotification[] late = pg.getNotifications(500);
                out("after UNLISTEN:", late == null ? 0 : late.length);
            }
        }
    }

    private static void cancelByQueryTimeout() throws Exception {
        try (Connection connection = connect(true); Statement statement = connection.createStatement()) {
            // When the timeout expires pgjdbc sends a CancelRequest on a new connection.
            statement.setQueryTimeout(1);
            expectError(() -> statement.executeQuery("SELECT pg_sleep(30)"));
            statement.setQueryTimeout(0);
            printRows("after cancel", statement.executeQuery("SELECT 'usable'"));
        }
    }

    public static void main(String[] args) throws Exception {
        TimeZone.setDefault(TimeZone.getTimeZone("UTC"));
        try (Connection connection = connect(true)) {
            step("session", connection, () -> session(connection));
            step("types and parameters", connection, () -> types(connection));
            step("table and generated keys", connection, () -> tables(connection));
            step("batches", connection, () -> batches(connection));
            step("multiple statements", connection, () -> multipleStatements(connection));
            step("errors and warnings", connection, () -> errorsAndWarnings(connection));
            step("transactions with autocommit off", connection, () -> transactions(connection));
            step("COPY", connection, () -> copy(connection));
        }
        step("LISTEN and NOTIFY", null, Conformance::listenNotify);
        step("cancel", null, Conformance::cancelByQueryTimeout);
        out("== end");
        StringBuilder transcript = new StringBuilder();
        for (String line : LINES) {
            transcript.append(line).append('\n');
        }
        System.out.write(transcript.toString().getBytes(StandardCharsets.UTF_8));
        System.out.flush();
        if (!UNEXPECTED.isEmpty()) {
            System.err.println("unexpected errors in steps: " + String.join(", ", UNEXPECTED));
            System.exit(1);
        }
    }
}
