package mariadb

import (
	"bytes"
	"context"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cofferhq/coffer/addons"
	"github.com/cofferhq/coffer/test/servers"
)

func conn(m *servers.MariaDB) Conn {
	return Conn{Host: m.Host, Port: m.Port, User: m.User, Password: m.Password, Bin: m.Bin}
}

var rootPassword = regexp.MustCompile("(`root`@`localhost` IDENTIFIED BY PASSWORD )'[^']*'")

// comparable is a dump with what legitimately differs between two servers taken out: the date
// it was made; root's password, which a restore leaves as it was; and a second PROXY grant to
// root. mariadb-install-db stores root's with an empty proxied host, which SHOW GRANTS writes as
// `%`, so that the dump's GRANT PROXY adds a row of its own to the fresh server's, and SHOW
// GRANTS lists both: the same privilege, twice.
func comparable(t *testing.T, c Conn) string {
	t.Helper()
	var buf bytes.Buffer
	if err := c.Dump(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	var keep []string
	for _, line := range strings.Split(buf.String(), "\n") {
		if strings.HasPrefix(line, "-- Dump completed on ") {
			continue
		}
		if strings.HasPrefix(line, "GRANT PROXY ON ") && len(keep) > 0 && keep[len(keep)-1] == line {
			continue
		}
		keep = append(keep, rootPassword.ReplaceAllString(line, "$1'...'"))
	}
	return strings.Join(keep, "\n")
}

const schema = `
CREATE DATABASE shop CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE DATABASE ` + "`Mixed Case``s`" + `;
USE shop;
CREATE TABLE users (
	id BIGINT PRIMARY KEY, name VARCHAR(200) NOT NULL, avatar VARBINARY(64), note TEXT,
	seen DATETIME(6), balance DECIMAL(12,2), flags SET('a','b'), doc JSON
) ENGINE=InnoDB;
INSERT INTO users
SELECT seq, CONCAT('user ', seq, ' ünïcödé \t "quoted" ''single'' \\ 日本 😀'),
	IF(seq % 11 = 0, NULL, UNHEX(CONCAT('00', MD5(seq), '0D0A5C27'))),
	IF(seq % 7 = 0, NULL, REPEAT('x', seq % 50)),
	TIMESTAMP '2026-01-01 00:00:00' + INTERVAL seq MINUTE + INTERVAL seq MICROSECOND,
	seq * 1.25 - 1000, IF(seq % 2 = 0, 'a,b', ''), JSON_OBJECT('n', seq, 's', 'ç')
FROM seq_1_to_5000;
CREATE TABLE blobs (id INT PRIMARY KEY, data LONGBLOB) ENGINE=InnoDB;
INSERT INTO blobs VALUES (1, REPEAT(UNHEX('00FF0A0D5C2722'), 300000)), (2, ''), (3, NULL);
CREATE VIEW recent AS SELECT id, name FROM users WHERE seen > '2026-01-03';
CREATE TRIGGER users_note BEFORE INSERT ON users FOR EACH ROW SET NEW.note = COALESCE(NEW.note, 'set by the trigger');
DELIMITER //
CREATE PROCEDURE double_it(IN x INT)
BEGIN
	SELECT x * 2 AS doubled;
	-- A line break of the Windows kind, in the code and in a string, that must stay one:` + "\r\n" + `
	SET @crlf = 'one` + "\r\n" + `two';
END //
CREATE FUNCTION greet(s VARCHAR(20)) RETURNS VARCHAR(40) DETERMINISTIC
RETURN CONCAT('hello ', s) //
DELIMITER ;
CREATE EVENT purge_refunds ON SCHEDULE EVERY 1 DAY STARTS '2030-01-01 00:00:00' DO DELETE FROM users WHERE id < 0;
CREATE USER 'shop_owner'@'%' IDENTIFIED BY 'it''s secret';
GRANT SELECT, INSERT, UPDATE ON shop.* TO 'shop_owner'@'%';
GRANT EXECUTE ON PROCEDURE shop.double_it TO 'shop_owner'@'%';
GRANT EXECUTE ON FUNCTION shop.greet TO 'shop_owner'@'%';
CREATE ROLE auditor;
GRANT SELECT ON shop.users TO auditor;
GRANT auditor TO 'shop_owner'@'%';
SET DEFAULT ROLE auditor FOR 'shop_owner'@'%';
USE ` + "`Mixed Case``s`" + `;
CREATE TABLE ` + "`t``able`" + ` (v TEXT) ENGINE=MyISAM;
INSERT INTO ` + "`t``able`" + ` VALUES ('a'), ('b'), (NULL);
`

var checksums = "CHECKSUM TABLE shop.users, shop.blobs, `Mixed Case``s`.`t``able` EXTENDED"

// objects lists the schema objects a dump carries besides tables, as the server (rather than a
// dump, which would leave out both servers' alike) sees them.
const objects = `SELECT CONCAT_WS(' ', 'event', EVENT_SCHEMA, EVENT_NAME, EVENT_DEFINITION, INTERVAL_VALUE, INTERVAL_FIELD, STARTS) FROM information_schema.EVENTS
UNION ALL SELECT CONCAT_WS(' ', ROUTINE_TYPE, ROUTINE_SCHEMA, ROUTINE_NAME, ROUTINE_DEFINITION) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = 'shop'
UNION ALL SELECT CONCAT_WS(' ', 'trigger', TRIGGER_SCHEMA, TRIGGER_NAME, ACTION_TIMING, EVENT_MANIPULATION, ACTION_STATEMENT) FROM information_schema.TRIGGERS
UNION ALL SELECT CONCAT_WS(' ', 'view', TABLE_SCHEMA, TABLE_NAME, VIEW_DEFINITION) FROM information_schema.VIEWS WHERE TABLE_SCHEMA = 'shop'
UNION ALL SELECT CONCAT_WS(' ', 'account', user, host) FROM mysql.user
ORDER BY 1`

// A server with accounts, routines, a view, a trigger, an event, two databases and awkward data
// is dumped through restic into a repository and restored from it into a fresh server: the two
// then dump identically and their tables have the same checksums. The streams go from
// mariadb-dump into restic and from restic into the mariadb client, never through a file.
func TestDumpAndRestoreThroughTheEngine(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	src, dst := servers.StartMariaDB(t), servers.StartMariaDB(t)
	src.SQL(t, "", schema)

	servers.ThroughRestic(ctx, t, conn(src), conn(dst))

	if got, want := comparable(t, conn(dst)), comparable(t, conn(src)); got != want {
		t.Fatalf("the restored server dumps differently:\n%s", firstDifference(got, want))
	}
	if got, want := dst.SQL(t, "", checksums), src.SQL(t, "", checksums); got != want {
		t.Fatalf("checksums of the restored tables:\n%s\nof the source's:\n%s", got, want)
	}
	got, want := dst.SQL(t, "", objects), src.SQL(t, "", objects)
	if got != want {
		t.Fatalf("the restored server has\n%s\nthe source\n%s", got, want)
	}
	for _, object := range []string{"event shop purge_refunds", "PROCEDURE shop double_it", "FUNCTION shop greet", "trigger shop users_note", "view shop recent", "account shop_owner %", "account auditor"} {
		if !slices.ContainsFunc(strings.Split(got, "\n"), func(l string) bool { return l == object || strings.HasPrefix(l, object+" ") }) {
			t.Fatalf("the restored server has no %s:\n%s", object, got)
		}
	}
	// Rows went in as they were: the trigger, created after them, did not fill their notes.
	if got := dst.SQL(t, "shop", "SELECT COUNT(*) FROM users WHERE note IS NULL"); got != "714\n" {
		t.Fatalf("rows with no note after the restore: %q, want 714", got)
	}

	t.Run("queries", func(t *testing.T) { testQueries(t, ctx, conn(dst)) })

	// The restored user logs in with its own password, with its grants and its default role;
	// root keeps the restored server's password.
	owner := Conn{Host: dst.Host, Port: dst.Port, User: "shop_owner", Password: "it's secret", Database: "shop", Bin: dst.Bin}
	for statement, want := range map[string]string{
		"SELECT CURRENT_USER(), CURRENT_ROLE()": "shop_owner@%|auditor",
		"CALL double_it(21)":                    "42",
		"SELECT greet('you')":                   "hello you",
	} {
		res, err := owner.Query(ctx, addons.Query{Statement: statement}, 1)
		if err != nil {
			t.Fatalf("the restored user: %s: %v", statement, err)
		}
		if got := strings.Join(res.Rows[0], "|"); got != want {
			t.Fatalf("the restored user: %s: %q, want %q", statement, got, want)
		}
	}
	if _, err := owner.Query(ctx, addons.Query{Statement: "DELETE FROM users"}, 1); err == nil || !strings.Contains(err.Error(), "DELETE command denied") {
		t.Fatalf("the restored user deleting rows it may not: %v", err)
	}
	srcRoot := conn(dst)
	srcRoot.Password = src.Password
	if _, err := srcRoot.Query(ctx, addons.Query{Statement: "SELECT 1"}, 1); err == nil || !strings.Contains(err.Error(), "Access denied") {
		t.Fatalf("root with the source's password on the restored server: %v", err)
	}

	// A second restore (a retried Job) replaces what the first made, and leaves the server as
	// the first did.
	before := comparable(t, conn(dst))
	var dump bytes.Buffer
	if err := conn(src).Dump(ctx, &dump); err != nil {
		t.Fatal(err)
	}
	if err := conn(dst).Restore(ctx, &dump); err != nil {
		t.Fatalf("restoring again: %v", err)
	}
	if after := comparable(t, conn(dst)); after != before {
		t.Fatalf("a second restore changed the server:\n%s", firstDifference(after, before))
	}
	if got, want := dst.SQL(t, "", checksums), src.SQL(t, "", checksums); got != want {
		t.Fatalf("checksums after a second restore:\n%s\nof the source's:\n%s", got, want)
	}
}

// firstDifference shows where two dumps part.
func firstDifference(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range min(len(g), len(w)) {
		if g[i] != w[i] {
			return "line " + strconv.Itoa(i+1) + ":\n--- restored\n" + clip(strings.Join(g[max(0, i-12):min(len(g), i+8)], "\n")) + "\n--- source\n" + clip(strings.Join(w[max(0, i-12):min(len(w), i+8)], "\n"))
		}
	}
	return "the restored dump has " + strconv.Itoa(len(g)) + " lines, the source's " + strconv.Itoa(len(w))
}

func clip(s string) string {
	if len(s) > 2000 {
		return s[:2000] + "..."
	}
	return s
}

func testQueries(t *testing.T, ctx context.Context, c Conn) {
	rows := func(res *addons.Result) string {
		var lines []string
		for _, r := range res.Rows {
			lines = append(lines, strings.Join(r, "|"))
		}
		return strings.Join(lines, ",")
	}
	for name, tc := range map[string]struct {
		query   addons.Query
		maxRows int
		count   int64
		columns string
		rows    string
	}{
		"counts": {query: addons.Query{Database: "shop", Statement: "SELECT COUNT(*) AS n, COUNT(note) AS notes FROM users"},
			count: 1, columns: "n|notes", rows: "5000|4286"},
		"text as it is": {query: addons.Query{Database: "shop", Statement: "SELECT id, name, note FROM users WHERE id = 7"},
			count: 1, columns: "id|name|note", rows: "7|user 7 ünïcödé \t \"quoted\" 'single' \\ 日本 😀|NULL"},
		"bytes as they are": {query: addons.Query{Database: "shop", Statement: "SELECT avatar FROM users WHERE id = 1"},
			count: 1, columns: "avatar", rows: "\x00\xc4\xca\x42\x38\xa0\xb9\x23\x82\x0d\xcc\x50\x9a\x6f\x75\x84\x9b\r\n\\'"},
		"tabs and newlines": {query: addons.Query{Statement: `SELECT 'a\tb\nc\\d\0e' AS v, '' AS empty, NULL AS nothing`},
			count: 1, columns: "v|empty|nothing", rows: "a\tb\nc\\d\x00e||NULL"},
		"cut at maxRows": {query: addons.Query{Database: "shop", Statement: "SELECT id FROM users WHERE id <= 5 ORDER BY id"}, maxRows: 2,
			count: 5, columns: "id", rows: "1,2"},
		"the connection's database": {query: addons.Query{Statement: "SELECT DATABASE()"}, count: 1, columns: "DATABASE()", rows: "NULL"},
		"a statement with no rows":  {query: addons.Query{Database: "shop", Statement: "UPDATE users SET note = note WHERE id = 0"}},
		"a table":                   {query: addons.Query{Schema: "shop", Table: "users"}, count: 5000, columns: "count", rows: "5000"},
		"a table of the database":   {query: addons.Query{Database: "shop", Table: "blobs"}, count: 3, columns: "count", rows: "3"},
		"a table quoted":            {query: addons.Query{Schema: "Mixed Case`s", Table: "t`able"}, count: 3, columns: "count", rows: "3"},
		"a view":                    {query: addons.Query{Schema: "shop", Table: "recent"}, count: 2121, columns: "count", rows: "2121"},
	} {
		t.Run(name, func(t *testing.T) {
			res, err := c.Query(ctx, tc.query, tc.maxRows)
			if err != nil {
				t.Fatal(err)
			}
			if res.Count != tc.count || strings.Join(res.Columns, "|") != tc.columns || rows(res) != tc.rows {
				t.Fatalf("got count %d, columns %q, rows %q; want %d, %q, %q", res.Count, res.Columns, rows(res), tc.count, tc.columns, tc.rows)
			}
		})
	}
	for name, tc := range map[string]struct {
		query addons.Query
		want  string
	}{
		"a missing table":         {addons.Query{Database: "shop", Statement: "SELECT * FROM missing"}, "Table 'shop.missing' doesn't exist"},
		"a syntax error":          {addons.Query{Statement: "SELEC 1"}, "You have an error in your SQL syntax"},
		"a missing database":      {addons.Query{Database: "nope", Statement: "SELECT 1"}, "Unknown database 'nope'"},
		"a table with no schema":  {addons.Query{Table: "users"}, "No database selected"},
		"an injected table name":  {addons.Query{Schema: "shop", Table: "users`; DROP TABLE blobs; --"}, "Table 'shop.users`; DROP TABLE blobs; --' doesn't exist"},
		"a wrong password, named": {addons.Query{Statement: "SELECT 1"}, "Access denied for user 'root'"},
	} {
		t.Run(name, func(t *testing.T) {
			c := c
			if strings.HasPrefix(name, "a wrong password") {
				c.Password = "wrong"
			}
			if _, err := c.Query(ctx, tc.query, 0); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

func TestAdaptAccounts(t *testing.T) {
	dump := strings.Join([]string{
		"INSERT INTO `t` VALUES ('CREATE USER `x`');",
		"DELIMITER ;;",
		"CREATE DEFINER=`root`@`localhost` PROCEDURE `p`()",
		"BEGIN",
		"CREATE USER `inside`@`%` IDENTIFIED BY 'kept';",
		"GRANT ALL ON *.* TO `root`@`localhost` IDENTIFIED BY PASSWORD '*KEPT';",
		"END ;;",
		"DELIMITER ;",
		"CREATE USER `root`@`localhost` IDENTIFIED BY PASSWORD '*SOURCE';",
		"CREATE USER `app`@`%` IDENTIFIED BY PASSWORD '*APP';",
		"/*M!100005 CREATE ROLE 'auditor' WITH ADMIN mariadb_dump_import_role */;",
		"CREATE ROLE IF NOT EXISTS mariadb_dump_import_role;",
		"GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` IDENTIFIED BY PASSWORD '*SOURCE' WITH GRANT OPTION;",
		"GRANT USAGE ON *.* TO `root`@`%` IDENTIFIED VIA mysql_native_password USING '*S WITH x' OR unix_socket REQUIRE SSL WITH MAX_QUERIES_PER_HOUR 10;",
		"GRANT PROXY ON ``@`%` TO `root`@`localhost` WITH GRANT OPTION;",
		"GRANT USAGE ON *.* TO `rootish`@`%` IDENTIFIED BY PASSWORD '*OTHER';",
		"GRANT USAGE ON *.* TO `app`@`%` IDENTIFIED BY PASSWORD '*APP';",
		"GRANT SELECT ON `db TO ``root```.* TO `root`@`h``ost` IDENTIFIED BY PASSWORD '*SOURCE';",
		"GRANT `auditor` TO `root`@`localhost` WITH ADMIN OPTION;",
		"",
	}, "\n")
	want := strings.Join([]string{
		"INSERT INTO `t` VALUES ('CREATE USER `x`');",
		"DELIMITER ;;",
		"CREATE DEFINER=`root`@`localhost` PROCEDURE `p`()",
		"BEGIN",
		"CREATE USER `inside`@`%` IDENTIFIED BY 'kept';",
		"GRANT ALL ON *.* TO `root`@`localhost` IDENTIFIED BY PASSWORD '*KEPT';",
		"END ;;",
		"DELIMITER ;",
		"CREATE USER IF NOT EXISTS `root`@`localhost` IDENTIFIED BY PASSWORD '*SOURCE';",
		"CREATE USER IF NOT EXISTS `app`@`%` IDENTIFIED BY PASSWORD '*APP';",
		"/*M!100005 CREATE ROLE IF NOT EXISTS 'auditor' WITH ADMIN mariadb_dump_import_role */;",
		"CREATE ROLE IF NOT EXISTS mariadb_dump_import_role;",
		"GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION;",
		"GRANT USAGE ON *.* TO `root`@`%` REQUIRE SSL WITH MAX_QUERIES_PER_HOUR 10;",
		"GRANT PROXY ON ``@`%` TO `root`@`localhost` WITH GRANT OPTION;",
		"GRANT USAGE ON *.* TO `rootish`@`%` IDENTIFIED BY PASSWORD '*OTHER';",
		"GRANT USAGE ON *.* TO `app`@`%` IDENTIFIED BY PASSWORD '*APP';",
		"GRANT SELECT ON `db TO ``root```.* TO `root`@`h``ost`;",
		"GRANT `auditor` TO `root`@`localhost` WITH ADMIN OPTION;",
		"",
	}, "\n")
	var out bytes.Buffer
	if err := adaptAccounts(strings.NewReader(dump), &out, "root"); err != nil {
		t.Fatal(err)
	}
	if out.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", out.String(), want)
	}

	// A line longer than the reader's buffer goes through whole, and what follows it is still
	// looked at from the start of its line.
	long := "INSERT INTO `t` VALUES ('" + strings.Repeat("GRANT x", 400000) + "');\nCREATE USER `a`@`b`;\n"
	out.Reset()
	if err := adaptAccounts(strings.NewReader(long), &out, "root"); err != nil {
		t.Fatal(err)
	}
	if want := strings.Replace(long, "CREATE USER `a`", "CREATE USER IF NOT EXISTS `a`", 1); out.String() != want {
		t.Fatalf("a long line: %d bytes out, want %d", out.Len(), len(want))
	}
}
