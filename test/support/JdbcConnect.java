// Connects with the JDBC URL given as the only argument (pgJDBC on the class path) and prints
// "<current_user> <current_database> <ssl>" on one line; any failure exits non-zero with the error.
// Run as a single source file: java -cp postgresql.jar test/support/JdbcConnect.java '<url>'
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;

public class JdbcConnect {
  public static void main(String[] args) throws Exception {
    try (Connection connection = DriverManager.getConnection(args[0]);
        ResultSet row = connection.createStatement().executeQuery(
            "SELECT current_user, current_database(), (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid())")) {
      row.next();
      System.out.println(row.getString(1) + " " + row.getString(2) + " " + row.getBoolean(3));
    }
  }
}
