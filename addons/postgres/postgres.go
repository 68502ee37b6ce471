package postgres

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cofferhq/coffer/addons"
)

// Conn is how a PostgreSQL server is reached.
type Conn struct {
	Host     string
	Port     int
	User     string
	Password string
	// Database is where queries run ("postgres" when empty); dumps cover every database.
	Database string
	// Bin is the directory of pg_dumpall and psql; empty means $PATH.
	Bin string
	// ConnectTimeout bounds each connection attempt; 10 s when zero.
	ConnectTimeout time.Duration
}

// FromConnection is the Conn of an AppBinding's connection. The client programs are in the
// directory the parameter "bin" names, else in the newest of Debian's /usr/lib/postgresql/*/bin,
// else on $PATH.
func FromConnection(c addons.Connection) Conn {
	bin := c.Params["bin"]
	if bin == "" {
		bin, _ = NewestBin()
	}
	return Conn{Host: c.Host, Port: c.Port, User: c.Username, Password: c.Password, Database: c.Database, Bin: bin}
}

// NewestBin is the bin directory of the newest PostgreSQL installed from Debian's packages.
// Debian's /usr/bin/psql and pg_dumpall are a Perl wrapper that picks a cluster, which is not
// there in a slim image; the versioned directory has the programs themselves.
func NewestBin() (string, error) {
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_dumpall")
	if len(found) == 0 {
		return "", errors.New("no /usr/lib/postgresql/<version>/bin/pg_dumpall: PostgreSQL's client programs are not installed")
	}
	sort.Slice(found, func(i, j int) bool { return version(found[i]) > version(found[j]) })
	return filepath.Dir(found[0]), nil
}

// version is the major version in /usr/lib/postgresql/<version>/bin/<program>.
func version(program string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(program))))
	return v
}

var _ addons.Database = Conn{}

// DumpName is the dump's file name inside a snapshot.
func (Conn) DumpName() string { return "dumpall.sql" }

func (c Conn) database() string {
	if c.Database == "" {
		return "postgres"
	}
	return c.Database
}

// command is a client program with the connection in its environment.
func (c Conn) command(ctx context.Context, program string, args ...string) *exec.Cmd {
	timeout := c.ConnectTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	env := []string{
		"PGHOST=" + c.Host, "PGPORT=" + strconv.Itoa(c.Port), "PGUSER=" + c.User, "PGPASSWORD=" + c.Password,
		"PGCONNECT_TIMEOUT=" + strconv.Itoa(max(1, int(timeout.Seconds()))), "PGAPPNAME=coffer",
	}
	return addons.Client(ctx, c.Bin, program, args, env, "PG")
}

// Dump streams pg_dumpall's SQL of the whole server into w.
func (c Conn) Dump(ctx context.Context, w io.Writer) error {
	cmd := c.command(ctx, "pg_dumpall", "--dbname", "dbname="+c.database())
	cmd.Stdout = w
	return addons.Run(cmd)
}

// Restore streams a Dump from r into psql, connected to the target's database, stopping at the
// first error. The target is expected to be a fresh server: a dump is not a migration. The
// restoring user keeps its own password: its role already exists, and taking the source's
// password would lock the restore's own credentials out.
func (c Conn) Restore(ctx context.Context, r io.Reader) error {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(keepOwnRole(r, pw, c.User)) }()
	cmd := c.command(ctx, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "--dbname", c.database(), "-f", "-")
	cmd.Stdout = io.Discard
	err := addons.RunWithInput(cmd, pr)
	_ = pr.CloseWithError(errors.New("psql ended"))
	return err
}

// keepOwnRole copies the dump, less the statements that would recreate or re-password the
// restoring user's role.
func keepOwnRole(r io.Reader, w io.Writer, user string) error {
	role := quoteIdent(user)
	create := "CREATE ROLE " + role + ";"
	alter := "ALTER ROLE " + role + " WITH "
	br := bufio.NewReaderSize(r, 1<<20)
	for {
		line, err := br.ReadString('\n')
		switch {
		case strings.TrimRight(line, "\n") == create:
			line = ""
		case strings.HasPrefix(line, alter):
			line = passwordClause.ReplaceAllString(line, "")
		}
		if _, werr := io.WriteString(w, line); werr != nil {
			return werr
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

var (
	passwordClause = regexp.MustCompile(` PASSWORD '(?:[^']|'')*'`)
	plainIdent     = regexp.MustCompile(`^[a-z_][a-z0-9_$]*$`)
)

// quoteIdent quotes an identifier as pg_dump does: only when it is not a plain lower-case name.
func quoteIdent(s string) string {
	if plainIdent.MatchString(s) {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// Query runs one statement in q.Database (Conn.Database when empty) and returns its columns
// and rows as text, as psql prints them in CSV. A Table query counts the table's rows.
func (c Conn) Query(ctx context.Context, q addons.Query, maxRows int) (*addons.Result, error) {
	database := q.Database
	if database == "" {
		database = c.database()
	}
	statement := q.Statement
	if q.Table != "" {
		table := quoteIdent(q.Table)
		if q.Schema != "" {
			table = quoteIdent(q.Schema) + "." + table
		}
		statement = "SELECT count(*) AS count FROM " + table
	}
	// FETCH_COUNT: psql would otherwise hold the whole result in memory to count it.
	cmd := c.command(ctx, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-v", "FETCH_COUNT=1000", "--csv", "--dbname", database, "-c", statement)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr addons.StderrTail
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	res, perr := readCSV(out, maxRows)
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("psql: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	if perr == nil && q.Table != "" {
		res.Count, perr = countOf(res)
	}
	return res, perr
}

// countOf is the single number a count(*) returned.
func countOf(res *addons.Result) (int64, error) {
	if len(res.Rows) != 1 || len(res.Rows[0]) != 1 {
		return 0, fmt.Errorf("counting rows: psql returned %d rows", len(res.Rows))
	}
	return strconv.ParseInt(res.Rows[0][0], 10, 64)
}

func readCSV(r io.Reader, maxRows int) (*addons.Result, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	res := &addons.Result{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return res, nil
		}
		if err != nil {
			_, _ = io.Copy(io.Discard, r)
			return nil, fmt.Errorf("reading psql's CSV: %w", err)
		}
		if res.Columns == nil {
			res.Columns = rec
			continue
		}
		res.Count++
		if maxRows == 0 || len(res.Rows) < maxRows {
			res.Rows = append(res.Rows, rec)
		}
	}
}
