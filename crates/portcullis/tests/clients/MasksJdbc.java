// Runs the probe queries of crates/portcullis/tests/gateway_clients.rs with pgjdbc in
// binary transfer (binaryTransfer=true, and prepareThreshold=-1 so that even the first
// execution is server-prepared and asks for binary results), and prints each value as
// PostgreSQL's text output would show it.
//
// Input on stdin: one `name<TAB>sql` line per query. Output: `ROW<TAB>name<TAB>value...`
// per row, with `\N` for NULL, or `ERROR<TAB>name<TAB>sqlstate<TAB>message` for a
// statement that failed. Arguments: host, port, database, user, password, CA file.

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

public class MasksJdbc {
    private static final DateTimeFormatter SECONDS = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss");

    public static void main(String[] args) throws Exception {
        String url = "jdbc:postgresql://" + args[0] + ":" + args[1] + "/" + args[2];
        Properties properties = new Properties();
        properties.setProperty("user", args[3]);
        properties.setProperty("password", args[4]);
        properties.setProperty("sslmode", "verify-full");
        properties.setProperty("sslrootcert", args[5]);
        properties.setProperty("binaryTransfer", "true");
        properties.setProperty("prepareThreshold", "-1");
        properties.setProperty("binaryTransferEnable", "int2,int4,int8,numeric,date,timestamp,timestamptz,uuid");
        BufferedReader input = new BufferedReader(new InputStreamReader(System.in, "UTF-8"));
        try (Connection connection = DriverManager.getConnection(url, properties)) {
            String line;
            while ((line = input.readLine()) != null) {
                String[] parts = line.split("\t", 2);
                run(connection, parts[0], parts[1]);
            }
        }
    }

    private static void run(Connection connection, String name, String sql) {
        try (PreparedStatement statement = connection.prepareStatement(sql);
             ResultSet rows = statement.executeQuery()) {
            ResultSetMetaData meta = rows.getMetaData();
            while (rows.next()) {
                List<String> fields = new ArrayList<>();
                fields.add("ROW");
                fields.add(name);
                for (int column = 1; column <= meta.getColumnCount(); column++) {
                    fields.add(textForm(rows, column, meta.getColumnTypeName(column)));
                }
                System.out.println(String.join("\t", fields));
            }
        } catch (SQLException error) {
            System.out.println("ERROR\t" + name + "\t" + error.getSQLState() + "\t" + error.getMessage().replace('\n', ' '));
        }
    }

    // Formats a decoded value the way PostgreSQL's text output does (TimeZone UTC).
    private static String textForm(ResultSet rows, int column, String type) throws SQLException {
        Object value;
        switch (type) {
            case "date":
                value = rows.getObject(column, LocalDate.class);
                return value == null ? "\\N" : value.toString();
            case "timestamp":
                value = rows.getObject(column, LocalDateTime.class);
                return value == null ? "\\N" : timestamp((LocalDateTime) value, "");
            case "timestamptz":
                value = rows.getObject(column, OffsetDateTime.class);
                if (value == null) {
                    return "\\N";
                }
                return timestamp(((OffsetDateTime) value).withOffsetSameInstant(ZoneOffset.UTC).toLocalDateTime(), "+00");
            case "numeric":
                value = rows.getBigDecimal(column);
                return value == null ? "\\N" : ((BigDecimal) value).toPlainString();
            default:
                value = rows.getObject(column);
                return value == null ? "\\N" : value.toString();
        }
    }

    private static String timestamp(LocalDateTime value, String suffix) {
        String text = value.format(SECONDS);
        if (value.getNano() != 0) {
            text += String.format(".%06d", value.getNano() / 1000).replaceAll("0+$", "");
        }
        return text + suffix;
    }
}
