package mariadb

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/cofferhq/coffer/addons"
)

// Conn is how a MariaDB (or MySQL) server is reached.
type Conn struct {
	Host     string
	Port     int
	User     string
	Password string
	// Database is where queries run when they name none; empty is none, and then a query names
	// its tables with their database. Dumps cover every database.
	Database string
	// Bin is the directory of mariadb-dump and mariadb; empty means $PATH.
	Bin string
	// ConnectTimeout bounds each connection attempt of a query or a restore; 10 s when zero.
	ConnectTimeout time.Duration
}

// FromConnection is the Conn of an AppBinding's connection. The client programs are in the
// directory the parameter "bin" names, else on $PATH.
func FromConnection(c addons.Connection) Conn {
	return Conn{Host: c.Host, Port: c.Port, User: c.Username, Password: c.Password, Database: c.Database, Bin: c.Params["bin"]}
}

var _ addons.Database = Conn{}

// DumpName is the dump's file name inside a snapshot.
func (Conn) DumpName() string { return "all-databases.sql" }

// command is a client program connected by TCP to the server, with nothing of the machine's
// option files (--no-defaults, which must come first) and the password in its environment.
//
// MYSQL_PWD rather than an option file: a process's environment is readable only by its own
// user and root (/proc/<pid>/environ is 0400), as a 0600 file would be, and it leaves nothing on
// disk to remove if the Job is killed; the client reads it after the command line, so it is
// never there for ps to show. PGPASSWORD does the same for PostgreSQL.
func (c Conn) command(ctx context.Context, program string, args ...string) *exec.Cmd {
	base := []string{
		"--no-defaults", "--protocol=TCP", "--host=" + c.Host, "--port=" + strconv.Itoa(c.Port), "--user=" + c.User,
		// The server's default may be latin1, and a client with no option file guesses from
		// the locale, which a container does not have.
		"--default-character-set=utf8mb4",
		// A row (a dump's INSERT of it, on restore) can be as large as the server allows;
		// 1 GiB is the protocol's limit, and the server's own max_allowed_packet still holds.
		"--max-allowed-packet=1G",
	}
	if program == "mariadb" {
		timeout := c.ConnectTimeout
		if timeout <= 0 {
			timeout = 10 * time.Second
		}
		base = append(base, "--connect-timeout="+strconv.Itoa(max(1, int(timeout.Seconds()))))
	}
	var env []string
	if c.Password != "" {
		env = append(env, "MYSQL_PWD="+c.Password)
	}
	return addons.Client(ctx, c.Bin, program, append(base, args...), env, "MYSQL_", "MARIADB_")
}

// dumpArgs make a dump that restores into a fresh server of the same or a newer version.
//
// The mysql database is left out, and accounts come as statements instead (--system=users:
// CREATE USER, CREATE ROLE, GRANT, SET DEFAULT ROLE). Restoring mysql's tables would overwrite
// the fresh server's own accounts, the restoring one included, take effect only after FLUSH
// PRIVILEGES, and break when the two servers' versions lay those tables out differently; the
// statements go through the server's account management and hold across versions. What else
// lives in mysql (time zone tables, plugins, UDFs, FEDERATED servers, statistics) is the
// server's installation more than its data, and is not dumped.
//
// --single-transaction reads every InnoDB table as of one moment without locking writers out;
// --hex-blob writes binary columns as hex literals, which no character set conversion can
// alter; --routines and --events add what --all-databases leaves out (triggers come by default).
var dumpArgs = []string{
	"--all-databases", "--ignore-database=mysql", "--system=users",
	"--single-transaction", "--routines", "--events", "--triggers", "--hex-blob",
}

// Dump streams mariadb-dump's SQL of every database and account into w.
func (c Conn) Dump(ctx context.Context, w io.Writer) error {
	cmd := c.command(ctx, "mariadb-dump", dumpArgs...)
	cmd.Stdout = w
	return addons.Run(cmd)
}

// Restore streams a Dump from r into the mariadb client, stopping at the first error.
//
// Two things change on the way: accounts and roles that the server already has (a fresh
// server's root, mysql and mariadb.sys) are not created again, and the restoring user keeps its
// own password: taking the source's would lock the restore's own credentials out. Since
// mariadb-dump drops every table, view, routine and event before it creates it, a restore into a
// server that has the dump's objects replaces them, and restoring twice (a retried Job) is
// restoring once; what the dump does not have is left alone. --binary-mode keeps '\r\n' and NUL
// bytes in the dump as they are, which the client would otherwise translate or refuse.
func (c Conn) Restore(ctx context.Context, r io.Reader) error {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(adaptAccounts(r, pw, c.User)) }()
	cmd := c.command(ctx, "mariadb", "--binary-mode")
	cmd.Stdout = io.Discard
	err := addons.RunWithInput(cmd, pr)
	_ = pr.CloseWithError(errors.New("mariadb ended"))
	return err
}

// createAccount is the start of a CREATE USER or CREATE ROLE, as mariadb-dump writes them (roles
// in a comment only MariaDB runs: /*M!100005 CREATE ROLE 'auditor' ... */).
var createAccount = regexp.MustCompile("^((?:/\\*M?!\\d+ )?CREATE (?:USER|ROLE) )([`'])")

// adaptAccounts copies a dump, making each CREATE USER or ROLE one IF NOT EXISTS, and taking
// the password out of the GRANTs to user. Only statements that start a line outside a
// DELIMITER block are looked at: inside one are the bodies of routines, triggers and events,
// which are the user's code and are copied as they are; outside one, mariadb-dump starts every
// statement on a line of its own and escapes the line breaks of data.
func adaptAccounts(r io.Reader, w io.Writer, user string) error {
	br := bufio.NewReaderSize(r, 1<<20)
	bw := bufio.NewWriterSize(w, 1<<20)
	lineStart, inBlock := true, false
	for {
		// Lines longer than the buffer (INSERTs of large rows) pass through in pieces; account
		// statements are far shorter.
		chunk, err := br.ReadSlice('\n')
		if lineStart && err != bufio.ErrBufferFull {
			line := string(chunk)
			switch trimmed := strings.TrimRight(line, "\r\n"); {
			case strings.HasPrefix(trimmed, "DELIMITER "):
				inBlock = strings.TrimSpace(trimmed[len("DELIMITER "):]) != ";"
			case inBlock:
			case createAccount.MatchString(line):
				line = createAccount.ReplaceAllString(line, "${1}IF NOT EXISTS $2")
			case strings.HasPrefix(line, "GRANT "):
				line = withoutPassword(line, user)
			}
			chunk = []byte(line)
		}
		if _, werr := bw.Write(chunk); werr != nil {
			return werr
		}
		lineStart = err == nil
		switch {
		case err == io.EOF:
			return bw.Flush()
		case err != nil && err != bufio.ErrBufferFull:
			return err
		}
	}
}

// withoutPassword takes the IDENTIFIED clause out of a GRANT to user (at any host), as SHOW
// GRANTS writes it: after the grantee and before REQUIRE, WITH or the end of the statement.
func withoutPassword(line, user string) string {
	to := skipQuoted(line, 0, " TO ")
	if to < 0 {
		return line
	}
	grantee := to + len(" TO ")
	want := quoteIdent(user) + "@`"
	if !strings.HasPrefix(line[grantee:], want) {
		return line
	}
	hostEnd := endOfQuoted(line, grantee+len(want)-1)
	if hostEnd < 0 || !strings.HasPrefix(line[hostEnd:], " IDENTIFIED ") {
		return line
	}
	end := len(strings.TrimRight(line, ";\r\n"))
	for _, next := range []string{" REQUIRE ", " WITH "} {
		if i := skipQuoted(line, hostEnd, next); i >= 0 && i < end {
			end = i
		}
	}
	return line[:hostEnd] + line[end:]
}

// skipQuoted is the index of the first sep in line at or after from that is not inside a
// `quoted identifier` or a 'string'; -1 if none.
func skipQuoted(line string, from int, sep string) int {
	for i := from; i < len(line); {
		switch line[i] {
		case '`', '\'':
			if i = endOfQuoted(line, i); i < 0 {
				return -1
			}
		default:
			if strings.HasPrefix(line[i:], sep) {
				return i
			}
			i++
		}
	}
	return -1
}

// endOfQuoted is the index just past the quoted text that starts at line[start]: `identifier`
// (a ` inside doubled) or 'string' (a ' inside doubled or backslashed); -1 if it does not end.
func endOfQuoted(line string, start int) int {
	q := line[start]
	for i := start + 1; i < len(line); i++ {
		switch {
		case q == '\'' && line[i] == '\\':
			i++
		case line[i] == q && i+1 < len(line) && line[i+1] == q:
			i++
		case line[i] == q:
			return i + 1
		}
	}
	return -1
}

// quoteIdent quotes an identifier as mariadb-dump does, always.
func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// Query runs one statement in q.Database (Conn.Database when empty) and returns its columns and
// rows as the mariadb client prints them in batch mode: text, with a NULL reading "NULL" (as a
// string 'NULL' does too) and binary values byte for byte. A statement that returns no rows
// (an UPDATE) returns no columns. A Table query counts the rows of q.Schema's (or the query's
// database's) table.
func (c Conn) Query(ctx context.Context, q addons.Query, maxRows int) (*addons.Result, error) {
	database := q.Database
	if database == "" {
		database = c.Database
	}
	statement := q.Statement
	if q.Table != "" {
		table := quoteIdent(q.Table)
		if q.Schema != "" {
			table = quoteIdent(q.Schema) + "." + table
		}
		statement = "SELECT COUNT(*) AS `count` FROM " + table
	}
	args := []string{"--batch", "--execute=" + statement}
	if database != "" {
		args = append(args, "--database="+database)
	}
	cmd := c.command(ctx, "mariadb", args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr addons.StderrTail
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	res, perr := readBatch(out, maxRows)
	if err := cmd.Wait(); err != nil {
		return nil, addons.Failure(cmd, err, &stderr)
	}
	if perr == nil && q.Table != "" {
		res.Count, perr = countOf(res)
	}
	return res, perr
}

// countOf is the single number a COUNT(*) returned.
func countOf(res *addons.Result) (int64, error) {
	if len(res.Rows) != 1 || len(res.Rows[0]) != 1 {
		return 0, fmt.Errorf("counting rows: mariadb returned %d rows", len(res.Rows))
	}
	return strconv.ParseInt(res.Rows[0][0], 10, 64)
}

// readBatch reads batch mode's output: a header line of column names, then a line per row, the
// fields separated by tabs, and in them NUL, tab, newline and backslash written \0, \t, \n and
// \\.
func readBatch(r io.Reader, maxRows int) (*addons.Result, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	res := &addons.Result{}
	for {
		line, err := br.ReadString('\n')
		if err == io.EOF && line == "" {
			return res, nil
		}
		if err != nil && err != io.EOF {
			_, _ = io.Copy(io.Discard, br)
			return nil, fmt.Errorf("reading mariadb's output: %w", err)
		}
		fields := strings.Split(strings.TrimSuffix(line, "\n"), "\t")
		for i, f := range fields {
			fields[i] = unescape(f)
		}
		if res.Columns == nil {
			res.Columns = fields
			continue
		}
		res.Count++
		if maxRows == 0 || len(res.Rows) < maxRows {
			res.Rows = append(res.Rows, fields)
		}
	}
}

func unescape(f string) string {
	if !strings.Contains(f, `\`) {
		return f
	}
	var b strings.Builder
	for i := 0; i < len(f); i++ {
		if f[i] != '\\' || i+1 == len(f) {
			b.WriteByte(f[i])
			continue
		}
		i++
		switch f[i] {
		case '0':
			b.WriteByte(0)
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		default:
			b.WriteByte(f[i])
		}
	}
	return b.String()
}
