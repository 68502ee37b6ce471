package addons

import (
	"context"
	"io"
)

// Connection is how an executor reaches a database: the address and credentials an AppBinding
// resolves to.
type Connection struct {
	Host     string
	Port     int
	Username string
	Password string
	// Database is where queries run when a query names none (PostgreSQL's "postgres", Redis' 0).
	Database string
	// Params are the AppBinding's free-form parameters, for what only one kind of database has.
	Params map[string]string
}

// Query is one verification query, as a BackupVerifier's spec.queries[] states it.
type Query struct {
	// Database the query runs in; Connection.Database when empty.
	Database string
	// Schema qualifies Table.
	Schema string
	// Table asks for the number of rows of a table (or what the database has instead: keys
	// matching a pattern in Redis, znodes under a path in ZooKeeper).
	Table string
	// Statement in the database's own language; exactly one of Table and Statement is set.
	Statement string
}

// Result is what a query returned, as text.
type Result struct {
	Columns []string
	// Rows are the first rows, at most the maxRows the query was asked for.
	Rows [][]string
	// Count is the number of rows the query returned, all of them; for a Table query it is
	// the table's row count.
	Count int64
}

// Database backs up, restores and queries one database server.
type Database interface {
	// Dump streams the whole server's logical backup into w.
	Dump(ctx context.Context, w io.Writer) error
	// Restore streams a Dump from r into the server.
	Restore(ctx context.Context, r io.Reader) error
	// Query runs one verification query; at most maxRows rows are kept (0: all).
	Query(ctx context.Context, q Query, maxRows int) (*Result, error)
	// DumpName is the file name the dump has inside a snapshot, such as "dumpall.sql".
	DumpName() string
}

// StderrTail keeps the last 4 KiB written to it: the end of a client program's stderr, which
// is where it says why it failed.
type StderrTail struct{ b []byte }

func (t *StderrTail) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 4096 {
		t.b = t.b[len(t.b)-4096:]
	}
	return len(p), nil
}

func (t *StderrTail) String() string { return string(t.b) }
