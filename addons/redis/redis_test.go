package redis

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cofferhq/coffer/addons"
	"github.com/cofferhq/coffer/test/servers"
)

func conn(r *servers.Redis) Conn { return Conn{Host: r.Host, Port: r.Port, Password: r.Password} }

// connect is a client of the test's own, for filling and reading a server.
func connect(t *testing.T, ctx context.Context, r *servers.Redis) *client {
	t.Helper()
	cl, err := dial(ctx, net.JoinHostPort(r.Host, strconv.Itoa(r.Port)), "", r.Password, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.close)
	return cl
}

// pipeline sends commands and fails the test on any error reply; it returns the replies.
func pipeline(t *testing.T, cl *client, cmds [][]string) []reply {
	t.Helper()
	var out []reply
	for len(cmds) > 0 {
		batch := cmds[:min(len(cmds), 1000)]
		cmds = cmds[len(batch):]
		for _, c := range batch {
			cl.send(c...)
		}
		if err := cl.flush(); err != nil {
			t.Fatal(err)
		}
		for _, c := range batch {
			r, err := cl.read(c[0])
			if err != nil {
				t.Fatalf("%q: %v", c, err)
			}
			out = append(out, r)
		}
	}
	return out
}

// dataset is what the test puts into a server: each key's type and, for keys with a TTL, the
// TTL it was given.
type dataset struct {
	types map[int]map[string]string
	ttls  map[int]map[string]int64
	// set is when the TTLs were given.
	set time.Time
}

const largeSize = 1 << 20

func largeValue() string {
	rnd := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, largeSize)
	for i := range b {
		b[i] = byte(rnd.Uint32())
	}
	return string(b)
}

var binaryValue = func() string {
	b := make([]byte, 0, 260)
	for i := range 256 {
		b = append(b, byte(i))
	}
	return string(append(b, "\r\n$-1\r\n"...))
}()

const binaryKey = "key:\x00\xff\r\n with spaces \"quoted\""

// fill puts about 20,000 keys of every type into databases 0 and 3, some with TTLs, plus keys
// that expire within 100 ms (before or while the dump runs).
func fill(t *testing.T, ctx context.Context, r *servers.Redis) dataset {
	t.Helper()
	cl := connect(t, ctx, r)
	d := dataset{types: map[int]map[string]string{0: {}, 3: {}}, ttls: map[int]map[string]int64{0: {}, 3: {}}}
	var cmds [][]string
	add := func(db int, typ string, cmd ...string) {
		d.types[db][cmd[1]] = typ
		cmds = append(cmds, cmd)
	}
	add(0, "string", "SET", "str:empty", "")
	add(0, "string", "SET", "str:binary", binaryValue)
	add(0, "string", "SET", "str:large", largeValue())
	add(0, "string", "SET", "str:unicode", "ünïcödé ✓ 日本")
	add(0, "string", "SET", "str:int", "12345")
	add(0, "string", "SET", binaryKey, "binary key")
	add(0, "hash", "HSET", "hash:small", "a", "1", "b", "", "ç", "\x00")
	big := []string{"HSET", "hash:big"}
	for i := range 1000 {
		big = append(big, "field"+strconv.Itoa(i), strings.Repeat("v", i%70))
	}
	add(0, "hash", big...)
	add(0, "list", "RPUSH", "list:small", "x", "", "x", "y")
	long := []string{"RPUSH", "list:big"}
	for i := range 10000 {
		long = append(long, "item "+strconv.Itoa(i))
	}
	add(0, "list", long...)
	add(0, "set", "SADD", "set:ints", "1", "2", "3", "-40", "1000000")
	members := []string{"SADD", "set:big"}
	for i := range 500 {
		members = append(members, "member-"+strconv.Itoa(i))
	}
	add(0, "set", members...)
	add(0, "zset", "ZADD", "zset:small", "1", "a", "-2.5", "b", "+inf", "c", "-inf", "d")
	scored := []string{"ZADD", "zset:big"}
	for i := range 500 {
		scored = append(scored, strconv.FormatFloat(float64(i)/7, 'g', -1, 64), "m"+strconv.Itoa(i))
	}
	add(0, "zset", scored...)
	for i := 1; i <= 100; i++ {
		add(0, "stream", "XADD", "stream:events", strconv.Itoa(1700000000000+i)+"-0", "n", strconv.Itoa(i), "payload", strings.Repeat("p", i))
	}
	cmds = append(cmds,
		[]string{"XGROUP", "CREATE", "stream:events", "workers", "0"},
		[]string{"XREADGROUP", "GROUP", "workers", "alice", "COUNT", "10", "STREAMS", "stream:events", ">"},
		[]string{"XACK", "stream:events", "workers", "1700000000001-0", "1700000000002-0"},
		[]string{"XDEL", "stream:events", "1700000000050-0"})
	for i := range 15000 {
		add(0, "string", "SET", fmt.Sprintf("user:%05d", i), "user "+strconv.Itoa(i))
	}
	ttl := func(db int, key string, ms int64) {
		d.ttls[db][key] = ms
		cmds = append(cmds, []string{"PEXPIRE", key, strconv.FormatInt(ms, 10)})
	}
	for i := range 1000 {
		key := "ttl:" + strconv.Itoa(i)
		add(0, "string", "SET", key, "expiring")
		ttl(0, key, 3_600_000+int64(i))
	}
	for i := range 100 {
		cmds = append(cmds, []string{"SET", "brief:" + strconv.Itoa(i), "gone soon", "PX", strconv.Itoa(1 + i)})
	}
	pipeline(t, cl, cmds)

	cmds = [][]string{{"SELECT", "3"}}
	for i := range 3000 {
		key := "db3:" + strconv.Itoa(i)
		add(3, "hash", "HSET", key, "n", strconv.Itoa(i), "sq", strconv.Itoa(i*i))
		if i%10 == 0 {
			ttl(3, key, 7_200_000)
		}
	}
	pipeline(t, cl, cmds)
	d.set = time.Now()
	return d
}

// keys lists a database's keys, each once.
func keys(t *testing.T, cl *client, db int) []string {
	t.Helper()
	if err := cl.selectDB(db); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for cursor := "0"; ; {
		page, err := cl.do("SCAN", cursor, "COUNT", "1000")
		if err != nil {
			t.Fatal(err)
		}
		var ks []string
		if cursor, ks, err = scanPage(page); err != nil {
			t.Fatal(err)
		}
		for _, k := range ks {
			seen[k] = true
		}
		if cursor == "0" {
			break
		}
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// values reads each key's type, TTL and value, the value in a form that does not depend on
// the order a hash table happens to iterate in.
func values(t *testing.T, cl *client, db int, ks []string) (types, vals []string, ttls []int64) {
	t.Helper()
	if err := cl.selectDB(db); err != nil {
		t.Fatal(err)
	}
	var cmds [][]string
	for _, k := range ks {
		cmds = append(cmds, []string{"TYPE", k}, []string{"PTTL", k})
	}
	rs := pipeline(t, cl, cmds)
	cmds = cmds[:0]
	for i, k := range ks {
		types = append(types, string(rs[2*i].str))
		ttls = append(ttls, rs[2*i+1].num)
		switch types[i] {
		case "string":
			cmds = append(cmds, []string{"GET", k})
		case "hash":
			cmds = append(cmds, []string{"HGETALL", k})
		case "list":
			cmds = append(cmds, []string{"LRANGE", k, "0", "-1"})
		case "set":
			cmds = append(cmds, []string{"SMEMBERS", k})
		case "zset":
			cmds = append(cmds, []string{"ZRANGE", k, "0", "-1", "WITHSCORES"})
		case "stream":
			cmds = append(cmds, []string{"XINFO", "STREAM", k, "FULL"})
		default:
			t.Fatalf("key %q in db %d has type %q", k, db, types[i])
		}
	}
	for i, r := range pipeline(t, cl, cmds) {
		switch types[i] {
		case "hash":
			var pairs []string
			for j := 0; j+1 < len(r.elems); j += 2 {
				pairs = append(pairs, r.elems[j].text()+"="+r.elems[j+1].text())
			}
			slices.Sort(pairs)
			vals = append(vals, strings.Join(pairs, "\x00"))
		case "set":
			slices.SortFunc(r.elems, func(a, b reply) int { return bytes.Compare(a.str, b.str) })
			vals = append(vals, r.text())
		default:
			vals = append(vals, r.text())
		}
	}
	return types, vals, ttls
}

func digest(t *testing.T, cl *client) string {
	t.Helper()
	r, err := cl.do("DEBUG", "DIGEST")
	if err != nil {
		t.Fatal(err)
	}
	return r.text()
}

// A server with every type of value in two databases, binary and empty and large values, and
// keys with TTLs is dumped through restic into a repository and restored from it into a fresh
// server: every key then has the same type and value, and the time it had left (less the time
// the backup took). The streams go from the Redis connection into restic and from restic into
// the other server's, never through a file.
func TestDumpAndRestoreThroughTheEngine(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	src, dst := servers.StartRedis(t), servers.StartRedis(t)
	data := fill(t, ctx, src)

	servers.ThroughRestic(ctx, t, conn(src), conn(dst))
	elapsed := time.Since(data.set)

	s, d := connect(t, ctx, src), connect(t, ctx, dst)
	for _, db := range []int{0, 3} {
		srcKeys, dstKeys := keys(t, s, db), keys(t, d, db)
		if !slices.Equal(srcKeys, dstKeys) {
			t.Fatalf("db %d: the source has %d keys, the restored server %d", db, len(srcKeys), len(dstKeys))
		}
		if len(dstKeys) != len(data.types[db]) {
			t.Fatalf("db %d has %d keys, and the test wrote %d (and some that expire at once)", db, len(dstKeys), len(data.types[db]))
		}
		srcTypes, srcVals, _ := values(t, s, db, srcKeys)
		dstTypes, dstVals, dstTTLs := values(t, d, db, dstKeys)
		for i, k := range dstKeys {
			if want := data.types[db][k]; srcTypes[i] != want || dstTypes[i] != want {
				t.Errorf("db %d key %q: type %s, restored as %s, written as %s", db, k, srcTypes[i], dstTypes[i], want)
			}
			if srcVals[i] != dstVals[i] {
				t.Errorf("db %d key %q: restored %.200q, want %.200q", db, k, dstVals[i], srcVals[i])
			}
			given, hasTTL := data.ttls[db][k]
			switch {
			case !hasTTL && dstTTLs[i] != -1:
				t.Errorf("db %d key %q has no TTL, and its restored PTTL is %d", db, k, dstTTLs[i])
			case hasTTL && (dstTTLs[i] > given || dstTTLs[i] < given-elapsed.Milliseconds()):
				t.Errorf("db %d key %q was given %d ms %v ago, and its restored PTTL is %d", db, k, given, elapsed, dstTTLs[i])
			}
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	// The values are the ones written, not only the same on both servers.
	if err := d.selectDB(0); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{"str:large": largeValue(), "str:binary": binaryValue, "str:empty": "", binaryKey: "binary key"} {
		if r, err := d.do("GET", key); err != nil || r.null || string(r.str) != want {
			t.Errorf("GET %q on the restored server: %d bytes (nil: %v), %v; want %d bytes", key, len(r.str), r.null, err, len(want))
		}
	}
	// Redis' own digest of every database, independent of how this package reads values.
	if got, want := digest(t, d), digest(t, s); got != want {
		t.Errorf("DEBUG DIGEST of the restored server is %s, and the source's %s", got, want)
	}

	t.Run("queries", func(t *testing.T) { testQueries(t, ctx, conn(dst)) })

	// A value Redis cannot read stops the restore, and the error says which key.
	var bad bytes.Buffer
	w := newDumpWriter(&bad)
	if err := w.key(0, "fine", 0, strings.NewReader(dumpOf(t, d, "str:int")), int64(len(dumpOf(t, d, "str:int")))); err != nil {
		t.Fatal(err)
	}
	if err := w.key(0, "broken value", 0, strings.NewReader("not a DUMP payload"), 18); err != nil {
		t.Fatal(err)
	}
	if err := w.end(); err != nil {
		t.Fatal(err)
	}
	if err := conn(dst).Restore(ctx, &bad); err == nil || !strings.Contains(err.Error(), `RESTORE "broken value" in db 0`) || !strings.Contains(err.Error(), "DUMP payload") {
		t.Fatalf("restoring a value Redis cannot read: %v", err)
	}
}

func dumpOf(t *testing.T, cl *client, key string) string {
	t.Helper()
	r, err := cl.do("DUMP", key)
	if err != nil || r.null {
		t.Fatalf("DUMP %q: %v (nil: %v)", key, err, r.null)
	}
	return string(r.str)
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
		rows    string
		columns string
	}{
		"an integer":                 {query: addons.Query{Statement: "DBSIZE"}, count: 1, rows: "16015", columns: "value"},
		"in another database":        {query: addons.Query{Database: "3", Statement: "dbsize"}, count: 1, rows: "3000", columns: "value"},
		"a string":                   {query: addons.Query{Statement: "GET str:unicode"}, count: 1, rows: "ünïcödé ✓ 日本", columns: "value"},
		"a quoted key":               {query: addons.Query{Statement: `GET "key:\x00\xff\r\n with spaces \"quoted\""`}, count: 1, rows: "binary key", columns: "value"},
		"a status":                   {query: addons.Query{Statement: "TYPE list:big"}, count: 1, rows: "list", columns: "value"},
		"a nil":                      {query: addons.Query{Statement: "GET missing"}, count: 0, rows: "", columns: "value"},
		"an array, cut at maxRows":   {query: addons.Query{Statement: "LRANGE list:small 0 -1"}, maxRows: 3, count: 4, rows: "x,,x", columns: "value"},
		"nils in an array":           {query: addons.Query{Statement: "MGET str:int missing"}, count: 2, rows: "12345,", columns: "value"},
		"nested arrays":              {query: addons.Query{Statement: "XRANGE stream:events - + COUNT 1"}, count: 1, rows: `["1700000000001-0",["n","1","payload","p"]]`, columns: "value"},
		"keys matching a pattern":    {query: addons.Query{Table: "user:*"}, count: 15000, rows: "15000", columns: "count"},
		"a pattern in database 3":    {query: addons.Query{Database: "3", Table: "db3:1??"}, count: 100, rows: "100", columns: "count"},
		"a pattern matching nothing": {query: addons.Query{Table: "nothing:*"}, count: 0, rows: "0", columns: "count"},
	} {
		t.Run(name, func(t *testing.T) {
			res, err := c.Query(ctx, tc.query, tc.maxRows)
			if err != nil {
				t.Fatal(err)
			}
			if res.Count != tc.count || rows(res) != tc.rows || strings.Join(res.Columns, ",") != tc.columns {
				t.Fatalf("got count %d, rows %q, columns %q; want %d, %q, %q", res.Count, rows(res), res.Columns, tc.count, tc.rows, tc.columns)
			}
		})
	}
	for name, tc := range map[string]struct {
		query addons.Query
		want  string
	}{
		"an error reply names the command": {addons.Query{Statement: "hget str:unicode field"}, "redis: HGET: WRONGTYPE"},
		"an unknown command":               {addons.Query{Statement: "NOSUCHCOMMAND a b"}, "redis: NOSUCHCOMMAND: ERR unknown command"},
		"a database that is not a number":  {addons.Query{Database: "shop", Statement: "DBSIZE"}, `database "shop" is not a database number`},
		"a database out of range":          {addons.Query{Database: "99", Statement: "DBSIZE"}, "redis: SELECT: ERR DB index is out of range"},
		"a schema":                         {addons.Query{Schema: "public", Table: "user:*"}, "Redis has none"},
		"an unterminated quote":            {addons.Query{Statement: `GET "open`}, "unterminated double quote"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := c.Query(ctx, tc.query, 0); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error saying %q", err, tc.want)
			}
		})
	}
	wrong := c
	wrong.Password = "wrong"
	if _, err := wrong.Query(ctx, addons.Query{Statement: "PING"}, 0); err == nil || !strings.Contains(err.Error(), "redis: AUTH: WRONGPASS") {
		t.Fatalf("a wrong password: %v", err)
	}
}

func TestSplitCommand(t *testing.T) {
	for name, tc := range map[string]struct {
		line string
		want []string
		err  string
	}{
		"words":                   {line: "  SET  key\tvalue \n", want: []string{"SET", "key", "value"}},
		"double quotes":           {line: `SET "a key" "a \"value\""`, want: []string{"SET", "a key", `a "value"`}},
		"escapes":                 {line: `SET k "\x00\xFF\r\n\t\\"`, want: []string{"SET", "k", "\x00\xff\r\n\t\\"}},
		"single quotes":           {line: `SET k 'it\'s "raw" \n'`, want: []string{"SET", "k", `it's "raw" \n`}},
		"empty quoted":            {line: `SET k ""`, want: []string{"SET", "k", ""}},
		"quotes inside a word":    {line: `GET user:"a b":x`, want: []string{"GET", "user:a b:x"}},
		"blank":                   {line: " \t ", err: "an empty statement"},
		"unterminated":            {line: `GET "k`, err: "unterminated double quote"},
		"unterminated single":     {line: `GET 'k`, err: "unterminated single quote"},
		"a bad hex escape":        {line: `GET "\xZZ"`, err: `\x not followed by two hex digits`},
		"an escape at the end":    {line: `GET "\`, err: "unterminated double quote"},
		"unicode is kept as is":   {line: "GET ключ", want: []string{"GET", "ключ"}},
		"a backslash unquoted":    {line: `GET a\b`, want: []string{"GET", `a\b`}},
		"an unknown escape keeps": {line: `GET "\q"`, want: []string{"GET", "q"}},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := splitCommand(tc.line)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %q, %v; want an error saying %q", got, err, tc.err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// dumpKey reads a pipeline's PTTL and DUMP replies; these are the ones a server sends for keys
// that vanish or expire while they are dumped.
func TestDumpKeySkipsWhatIsGone(t *testing.T) {
	replies := strings.Join([]string{
		":-2", "$3", "abc", // gone when PTTL asked, a new key when DUMP did: skipped
		":5000", "$-1", // expired or deleted between PTTL and DUMP: skipped
		":0", "$1", "q", // expiring that millisecond: skipped, not restored without a TTL
		":-1", "$3", "xyz", // no TTL
		":1234", "$2", "zz", // a TTL
		"",
	}, "\r\n")
	cl := &client{ctx: context.Background(), r: bufio.NewReader(strings.NewReader(replies))}
	var buf bytes.Buffer
	w := newDumpWriter(&buf)
	for _, k := range []string{"recreated", "deleted", "expiring", "kept", "ttl"} {
		if err := cl.dumpKey(7, k, w); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
	}
	if err := w.end(); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, &buf)
	if want := "7 kept 0 xyz\n7 ttl 1234 zz\n"; got != want {
		t.Fatalf("the dump holds\n%s\nwant\n%s", got, want)
	}
}

// readAll reads a dump into a line per key: db, key, TTL, value.
func readAll(t *testing.T, r io.Reader) string {
	t.Helper()
	d, err := newDumpReader(r)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	for {
		rec, ok, err := d.next()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return out.String()
		}
		v, err := io.ReadAll(d.payload(rec))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&out, "%d %s %d %s\n", rec.db, rec.key, rec.ttl, v)
	}
}

func TestDumpFormat(t *testing.T) {
	var buf bytes.Buffer
	w := newDumpWriter(&buf)
	for i, k := range []string{"a", "", "\x00\xff", strings.Repeat("k", 300)} {
		v := strings.Repeat("v", i*200)
		if err := w.key(i*5, k, int64(i)*1_000_000_000_000, strings.NewReader(v), int64(len(v))); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.end(); err != nil {
		t.Fatal(err)
	}
	dump := buf.Bytes()
	want := fmt.Sprintf("0 a 0 \n5  1000000000000 %s\n10 \x00\xff 2000000000000 %s\n15 %s 3000000000000 %s\n",
		strings.Repeat("v", 200), strings.Repeat("v", 400), strings.Repeat("k", 300), strings.Repeat("v", 600))
	if got := readAll(t, bytes.NewReader(dump)); got != want {
		t.Fatalf("read back\n%.300q\nwant\n%.300q", got, want)
	}

	// Whatever is cut off, and whichever byte is altered, the reader says the dump is not whole.
	readsWhole := func(r io.Reader) error {
		d, err := newDumpReader(r)
		if err != nil {
			return err
		}
		for {
			rec, ok, err := d.next()
			if err != nil || !ok {
				return err
			}
			if _, err := io.Copy(io.Discard, d.payload(rec)); err != nil {
				return err
			}
		}
	}
	for n := range len(dump) {
		if err := readsWhole(bytes.NewReader(dump[:n])); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("the first %d of %d bytes: %v, want ErrCorrupt", n, len(dump), err)
		}
	}
	for i := range dump {
		altered := bytes.Clone(dump)
		altered[i] ^= 0x10
		if err := readsWhole(bytes.NewReader(altered)); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("byte %d of %d altered: %v, want ErrCorrupt", i, len(dump), err)
		}
	}
	if err := readsWhole(bytes.NewReader(append(bytes.Clone(dump), 0))); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("a byte after the end: %v", err)
	}

	// A newer format is refused as such, not as corruption.
	if _, err := newDumpReader(strings.NewReader("COFFER-REDIS-DUMP 2\n")); err == nil || errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "version is 2") {
		t.Fatalf("a newer version: %v", err)
	}
	// A failed stream is its own error, not a corrupt dump.
	failing := io.MultiReader(bytes.NewReader(dump[:len(dump)/2]), failingReader{})
	if err := readsWhole(failing); errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "restic exited") {
		t.Fatalf("a stream that fails: %v", err)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("restic exited 1") }
