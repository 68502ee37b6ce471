package redis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cofferhq/coffer/addons"
)

// Conn is how a Redis server is reached.
type Conn struct {
	Host     string
	Port     int
	Username string
	Password string
	// Database is the number of the database queries run in when they name none; "" is 0.
	// Dumps cover every database.
	Database string
	// DialTimeout bounds each connection attempt; 10 s when zero.
	DialTimeout time.Duration
}

// FromConnection is the Conn of an AppBinding's connection.
func FromConnection(c addons.Connection) Conn {
	return Conn{Host: c.Host, Port: c.Port, Username: c.Username, Password: c.Password, Database: c.Database}
}

var _ addons.Database = Conn{}

// DumpName is the dump's file name inside a snapshot.
func (Conn) DumpName() string { return "redis.dump" }

const (
	// scanCount is SCAN's COUNT: about the keys a page holds, and so a pipelined batch.
	scanCount = "1000"
	// restoreBatch is the RESTOREs sent before their replies are read. Redis buffers the
	// replies meanwhile, a few bytes each.
	restoreBatch = 1000
)

func (c Conn) dial(ctx context.Context) (*client, error) {
	timeout := c.DialTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	return dial(ctx, net.JoinHostPort(c.Host, strconv.Itoa(c.Port)), c.Username, c.Password, timeout)
}

// Dump streams every key of every database into w, in the format format.go describes: for each
// key, what DUMP returns and the milliseconds PTTL says it has left.
//
// It is not a point-in-time snapshot: SCAN sees every key that exists for the whole dump, and
// may or may not see one written meanwhile (or see it twice: RESTORE ... REPLACE makes that
// harmless). A key that vanishes between SCAN and DUMP is left out, and so is one whose TTL runs
// out while it is dumped: by the time the dump ends, the server no longer has it either.
func (c Conn) Dump(ctx context.Context, w io.Writer) error {
	cl, err := c.dial(ctx)
	if err != nil {
		return err
	}
	defer cl.close()
	dbs, err := cl.keyspace()
	if err != nil {
		return err
	}
	out := newDumpWriter(w)
	for _, db := range dbs {
		if err := cl.selectDB(db); err != nil {
			return err
		}
		if err := cl.dumpDB(db, out); err != nil {
			return err
		}
	}
	return out.end()
}

// keyspace is the databases that have keys, as INFO keyspace lists them ("db3:keys=5,...").
func (cl *client) keyspace() ([]int, error) {
	info, err := cl.do("INFO", "keyspace")
	if err != nil {
		return nil, err
	}
	var dbs []int
	for _, line := range strings.Split(string(info.str), "\n") {
		name, _, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !strings.HasPrefix(name, "db") {
			continue
		}
		db, err := strconv.Atoi(name[2:])
		if err != nil {
			return nil, fmt.Errorf("redis: INFO keyspace lists %q, which is not a database", name)
		}
		dbs = append(dbs, db)
	}
	sort.Ints(dbs)
	return dbs, nil
}

// dumpDB dumps the selected database, a SCAN page at a time: each page's PTTLs and DUMPs, and
// the next page, go in one round trip.
func (cl *client) dumpDB(db int, out *dumpWriter) error {
	page, err := cl.do("SCAN", "0", "COUNT", scanCount)
	if err != nil {
		return err
	}
	cursor, keys, err := scanPage(page)
	if err != nil {
		return err
	}
	for {
		for _, k := range keys {
			cl.send("PTTL", k)
			cl.send("DUMP", k)
		}
		more := cursor != "0"
		if more {
			cl.send("SCAN", cursor, "COUNT", scanCount)
		}
		if err := cl.flush(); err != nil {
			return err
		}
		for _, k := range keys {
			if err := cl.dumpKey(db, k, out); err != nil {
				return err
			}
		}
		if !more {
			return nil
		}
		if page, err = cl.read("SCAN"); err != nil {
			return err
		}
		if cursor, keys, err = scanPage(page); err != nil {
			return err
		}
	}
}

func scanPage(r reply) (cursor string, keys []string, err error) {
	if r.kind != '*' || len(r.elems) != 2 || r.elems[1].kind != '*' {
		return "", nil, errors.New("redis: SCAN's reply is not a cursor and a list of keys")
	}
	for _, k := range r.elems[1].elems {
		keys = append(keys, string(k.str))
	}
	return string(r.elems[0].str), keys, nil
}

// dumpKey reads the replies to PTTL and DUMP of key and writes its record, streaming the value
// from the connection into the dump.
func (cl *client) dumpKey(db int, key string, out *dumpWriter) error {
	ttl, err := cl.read("PTTL")
	if err != nil {
		return fmt.Errorf("%w (key %q in db %d)", err, key, db)
	}
	if ttl.kind != ':' {
		return fmt.Errorf("redis: PTTL of %q replied with a %q, not an integer", key, ttl.kind)
	}
	kind, line, err := cl.readHeader()
	if err != nil {
		return err
	}
	switch kind {
	case '-':
		return fmt.Errorf("%w (key %q in db %d)", &ReplyError{Command: "DUMP", Message: string(line)}, key, db)
	case '$':
	default:
		return fmt.Errorf("redis: DUMP of %q replied with a %q, not a bulk string", key, kind)
	}
	n, err := parseLength(line)
	if err != nil || n < 0 {
		return err // a nil: the key has gone since SCAN
	}
	if ttl.num == -2 || ttl.num == 0 {
		// Gone when PTTL asked (DUMP may have met a new key of the same name, whose TTL is
		// unknown), or expiring that very millisecond; RESTORE would read a TTL of 0 as none.
		if _, err := io.CopyN(io.Discard, cl.r, n); err != nil {
			return cl.failed(noEOF(err))
		}
		return cl.crlf()
	}
	if ttl.num < 0 {
		ttl.num = 0
	}
	if err := out.key(db, key, ttl.num, cl.r, n); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		if out.err == nil {
			return cl.failed(err)
		}
		return fmt.Errorf("redis: writing the dump: %w", err)
	}
	return cl.crlf()
}

// Restore streams a Dump from r into the server: each key RESTOREd with REPLACE into the
// database it came from, with the time it had left when it was dumped (counted again from the
// restore, so that a restore of last week's dump does not lose every key that has a TTL). The
// values stream from r into the connection; RESTOREs are pipelined, and the first batch with a
// failure stops the restore, its error naming the key. The server's Redis must read the
// source's DUMP format: the same version or a newer one.
func (c Conn) Restore(ctx context.Context, r io.Reader) error {
	in, err := newDumpReader(r)
	if err != nil {
		return err
	}
	cl, err := c.dial(ctx)
	if err != nil {
		return err
	}
	defer cl.close()
	// pending names the command each unread reply answers.
	var pending []string
	db := 0
	for {
		rec, ok, err := in.next()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		if rec.db != db {
			db = rec.db
			cl.send("SELECT", strconv.Itoa(db))
			pending = append(pending, "SELECT "+strconv.Itoa(db))
		}
		cl.arrayHeader(5)
		cl.bulk("RESTORE")
		cl.bulk(rec.key)
		cl.bulk(strconv.FormatInt(rec.ttl, 10))
		payload := in.payload(rec)
		if err := cl.bulkFrom(payload, rec.size); err != nil {
			if payload.err != nil {
				return payload.err
			}
			return cl.failed(err)
		}
		cl.bulk("REPLACE")
		pending = append(pending, fmt.Sprintf("RESTORE %q in db %d", rec.key, db))
		if len(pending) >= restoreBatch {
			if err := cl.replies(pending); err != nil {
				return err
			}
			pending = pending[:0]
		}
	}
	return cl.replies(pending)
}

// replies flushes the pipeline and reads the replies to pending, all of them, so that the
// error it returns can say how many failed.
func (cl *client) replies(pending []string) error {
	if err := cl.flush(); err != nil {
		return err
	}
	var first error
	failed := 0
	for _, what := range pending {
		r, err := cl.readReply()
		if err != nil {
			return err
		}
		if r.kind == '-' {
			failed++
			if first == nil {
				first = fmt.Errorf("redis: %s: %s", what, r.str)
			}
		}
	}
	if failed > 1 {
		return fmt.Errorf("%w (and %d more commands of the same batch failed)", first, failed-1)
	}
	return first
}

// Query runs one command in q.Database (Conn.Database when empty, 0 when both are) and returns
// its reply as one column, "value": an integer, a status or a string is one row, an array is a
// row per element, and a nil (GET of a missing key) is no row at all. The statement is a
// command line as redis-cli takes it: words split on blanks, with "double quotes" (and \", \\,
// \n, \r, \t, \xHH inside them) or 'single quotes' (and \') around what has blanks.
//
// A Table query counts the keys matching q.Table, a glob pattern as SCAN MATCH takes it.
// Keys SCAN returns twice are counted once, which holds every matching key in memory.
func (c Conn) Query(ctx context.Context, q addons.Query, maxRows int) (*addons.Result, error) {
	database := q.Database
	if database == "" {
		database = c.Database
	}
	db := 0
	if database != "" {
		var err error
		if db, err = strconv.Atoi(database); err != nil || db < 0 {
			return nil, fmt.Errorf("redis: database %q is not a database number", database)
		}
	}
	if q.Table != "" && q.Schema != "" {
		return nil, fmt.Errorf("redis: a query of keys matching %q names schema %q, and Redis has none", q.Table, q.Schema)
	}
	var args []string
	if q.Table == "" {
		var err error
		if args, err = splitCommand(q.Statement); err != nil {
			return nil, err
		}
	}
	cl, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	defer cl.close()
	if err := cl.selectDB(db); err != nil {
		return nil, err
	}
	if q.Table != "" {
		n, err := cl.countKeys(q.Table)
		if err != nil {
			return nil, err
		}
		return &addons.Result{Columns: []string{"count"}, Rows: [][]string{{strconv.FormatInt(n, 10)}}, Count: n}, nil
	}
	r, err := cl.do(args...)
	if err != nil {
		return nil, err
	}
	return result(r, maxRows), nil
}

func result(r reply, maxRows int) *addons.Result {
	res := &addons.Result{Columns: []string{"value"}}
	add := func(e reply) {
		res.Count++
		if maxRows == 0 || len(res.Rows) < maxRows {
			res.Rows = append(res.Rows, []string{e.text()})
		}
	}
	switch {
	case r.null:
	case r.kind == '*':
		for _, e := range r.elems {
			add(e)
		}
	default:
		add(r)
	}
	return res
}

// countKeys counts the selected database's keys that match pattern.
func (cl *client) countKeys(pattern string) (int64, error) {
	seen := map[string]struct{}{}
	cursor := "0"
	for {
		page, err := cl.do("SCAN", cursor, "MATCH", pattern, "COUNT", scanCount)
		if err != nil {
			return 0, err
		}
		var keys []string
		if cursor, keys, err = scanPage(page); err != nil {
			return 0, err
		}
		for _, k := range keys {
			seen[k] = struct{}{}
		}
		if cursor == "0" {
			return int64(len(seen)), nil
		}
	}
}

// splitCommand splits a command line into its words.
func splitCommand(line string) ([]string, error) {
	var args []string
	i := 0
	for {
		for i < len(line) && isBlank(line[i]) {
			i++
		}
		if i == len(line) {
			break
		}
		var arg []byte
		for i < len(line) && !isBlank(line[i]) {
			switch line[i] {
			case '"':
				end, err := doubleQuoted(line, i+1, &arg)
				if err != nil {
					return nil, err
				}
				i = end
			case '\'':
				end, err := singleQuoted(line, i+1, &arg)
				if err != nil {
					return nil, err
				}
				i = end
			default:
				arg = append(arg, line[i])
				i++
			}
		}
		args = append(args, string(arg))
	}
	if len(args) == 0 {
		return nil, errors.New("redis: an empty statement")
	}
	return args, nil
}

func isBlank(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }

// doubleQuoted appends the double-quoted text that starts at i to arg and returns where it ends,
// past the closing quote.
func doubleQuoted(line string, i int, arg *[]byte) (int, error) {
	for ; i < len(line); i++ {
		switch b := line[i]; {
		case b == '"':
			return i + 1, nil
		case b == '\\' && i+1 < len(line):
			i++
			switch e := line[i]; e {
			case 'n':
				*arg = append(*arg, '\n')
			case 'r':
				*arg = append(*arg, '\r')
			case 't':
				*arg = append(*arg, '\t')
			case 'x':
				if i+2 < len(line) {
					if v, err := strconv.ParseUint(line[i+1:i+3], 16, 8); err == nil {
						*arg = append(*arg, byte(v))
						i += 2
						continue
					}
				}
				return 0, fmt.Errorf("redis: a \\x not followed by two hex digits in %q", line)
			default:
				*arg = append(*arg, e)
			}
		default:
			*arg = append(*arg, b)
		}
	}
	return 0, fmt.Errorf("redis: an unterminated double quote in %q", line)
}

func singleQuoted(line string, i int, arg *[]byte) (int, error) {
	for ; i < len(line); i++ {
		switch b := line[i]; {
		case b == '\'':
			return i + 1, nil
		case b == '\\' && i+1 < len(line) && line[i+1] == '\'':
			*arg = append(*arg, '\'')
			i++
		default:
			*arg = append(*arg, b)
		}
	}
	return 0, fmt.Errorf("redis: an unterminated single quote in %q", line)
}
