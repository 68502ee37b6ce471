package zookeeper

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/go-logr/logr"
	"github.com/go-zookeeper/zk"

	"github.com/cofferhq/coffer/addons"
)

// Conn is how a ZooKeeper server is reached.
type Conn struct {
	Host string
	Port int
	// User and Password, when User is set, authenticate the session with the digest scheme.
	// A dump has to read every znode and a restore over existing znodes to change their ACLs,
	// whatever those ACLs say, which only the superuser (the server's superDigest) may.
	User     string
	Password string
	// ConnectTimeout bounds opening the session; 10 s when zero.
	ConnectTimeout time.Duration
}

// FromConnection is the Conn of an AppBinding's connection.
func FromConnection(c addons.Connection) Conn {
	return Conn{Host: c.Host, Port: c.Port, User: c.Username, Password: c.Password}
}

var _ addons.Database = Conn{}

// DumpName is the dump's file name inside a snapshot.
func (Conn) DumpName() string { return "znodes.jsonl" }

const (
	// formatName and formatVersion are the dump's first line; a reader refuses a version it
	// does not know rather than guess at fields.
	formatName    = "coffer.dev/zookeeper-znodes"
	formatVersion = 1

	// sessionTimeout also bounds a request the server does not answer: the client drops a
	// connection silent for two thirds of it, failing what was in flight.
	sessionTimeout = 30 * time.Second
)

type header struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
}

// znode is one line of a dump after the header.
type znode struct {
	Path string `json:"path"`
	// Data is null for a znode made without data, which ZooKeeper keeps apart from empty data.
	Data []byte `json:"data"`
	ACL  []acl  `json:"acl"`
	// Sequence is the number ZooKeeper would give the znode's next sequential child.
	Sequence int32 `json:"sequence,omitempty"`
}

type acl struct {
	Perms  int32  `json:"perms"`
	Scheme string `json:"scheme"`
	ID     string `json:"id"`
}

// Dump streams every persistent znode into w as JSON Lines: a header line, then one line per
// znode, parents before children and children in name order. Ephemeral znodes belong to a
// client's session and the /zookeeper subtree to the server, so neither is dumped.
func (c Conn) Dump(ctx context.Context, w io.Writer) error {
	s, err := c.connect(ctx)
	if err != nil {
		return err
	}
	defer s.close()
	bw := bufio.NewWriterSize(w, 256<<10)
	enc := json.NewEncoder(bw)
	if err := enc.Encode(header{Format: formatName, Version: formatVersion}); err != nil {
		return err
	}
	err = s.walk("/", func(p string) (*zk.Stat, error) {
		data, st, err := s.conn.Get(p)
		if err != nil {
			return nil, s.fail("reading", p, err)
		}
		if st.EphemeralOwner != 0 {
			return nil, nil
		}
		acls, _, err := s.conn.GetACL(p)
		if err != nil {
			return nil, s.fail("reading the ACL of", p, err)
		}
		z := znode{Path: p, Data: data, Sequence: sequence(st)}
		for _, a := range acls {
			z.ACL = append(z.ACL, acl{Perms: a.Perms, Scheme: a.Scheme, ID: a.ID})
		}
		return st, enc.Encode(z)
	})
	if err != nil {
		return err
	}
	return bw.Flush()
}

// Restore creates the znodes of a Dump read from r, into an empty server or one that has some
// of them already: an existing znode takes the dump's data and ACL, so restoring twice leaves
// the same tree. Znodes the dump does not have are left alone. Changing an existing znode takes
// ADMIN permission on it, which the superuser always has.
//
// A znode's own ACL could forbid creating its children, or forbid the restoring user anything
// at all, so each znode is made (or, if it exists, set) with an ACL giving the restoring session
// every permission, and takes the dump's ACL only once its whole subtree is restored: the dump
// lists parents before children, so a znode is done when a line names a path outside it. Until
// then only the restoring session may touch it. A restore that fails part-way gives the znodes
// it had open their ACLs back if it still can; running it again finishes the job.
func (c Conn) Restore(ctx context.Context, r io.Reader) error {
	s, err := c.connect(ctx)
	if err != nil {
		return err
	}
	defer s.close()
	dec := json.NewDecoder(bufio.NewReaderSize(r, 1<<20))
	var h header
	if err := dec.Decode(&h); err != nil {
		return fmt.Errorf("reading the dump's header: %w", err)
	}
	if h.Format != formatName {
		return fmt.Errorf("not a ZooKeeper dump: its header names format %q, not %q", h.Format, formatName)
	}
	if h.Version != formatVersion {
		return fmt.Errorf("the ZooKeeper dump has format version %d; this Coffer reads version %d", h.Version, formatVersion)
	}
	rs := restorer{s: s, building: zk.WorldACL(zk.PermAll)}
	if c.User != "" {
		// The "auth" scheme stands for the identities the session authenticated with.
		rs.building = zk.AuthACL(zk.PermAll)
	}
	if err := rs.run(dec); err != nil {
		rs.abandon()
		return err
	}
	return nil
}

type restorer struct {
	s *session
	// building is the ACL of a znode whose subtree is being restored.
	building []zk.ACL
	// open is the znode restored last and its ancestors, root first: they still have the
	// building ACL.
	open []znode
}

func (r *restorer) run(dec *json.Decoder) error {
	for n := 1; ; n++ {
		var z znode
		err := dec.Decode(&z)
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("reading znode %d of the dump: %w", n, err)
		}
		if err := r.add(z); err != nil {
			return err
		}
	}
	for len(r.open) > 0 {
		if err := r.finish(); err != nil {
			return err
		}
	}
	return nil
}

// abandon gives the open znodes the dump's ACLs, as far as the session still can, so that a
// failed restore does not leave them, the root first, to the restoring user alone.
func (r *restorer) abandon() {
	for i := len(r.open) - 1; i >= 0; i-- {
		_, _ = r.s.conn.SetACL(r.open[i].Path, r.open[i].zkACL(), -1)
	}
	r.open = nil
}

func (r *restorer) add(z znode) error {
	if !strings.HasPrefix(z.Path, "/") {
		return fmt.Errorf("the dump has a znode path %q, which is not absolute", z.Path)
	}
	for len(r.open) > 0 && !within(z.Path, r.open[len(r.open)-1].Path) {
		if err := r.finish(); err != nil {
			return err
		}
	}
	if z.Path != "/" && (len(r.open) == 0 || r.open[len(r.open)-1].Path != parent(z.Path)) {
		return fmt.Errorf("the dump has znode %s without its parent before it", z.Path)
	}
	// Open before it is put, so that a failure part-way through put is undone by abandon.
	opened := z
	opened.Data = nil // up to 1 MiB a znode, times the depth
	r.open = append(r.open, opened)
	return r.put(z)
}

// put makes z, or sets it if it exists, with the building ACL and the dump's data. Opening an
// existing znode takes ADMIN permission on it.
func (r *restorer) put(z znode) error {
	if z.Path != "/" {
		_, err := r.s.conn.Create(z.Path, z.Data, zk.FlagPersistent, r.building)
		if err == nil {
			return nil
		}
		if !errors.Is(err, zk.ErrNodeExists) {
			return r.s.fail("creating", z.Path, err)
		}
	}
	if _, err := r.s.conn.SetACL(z.Path, r.building, -1); err != nil {
		return r.s.fail("opening the ACL of the existing", z.Path, err)
	}
	if _, err := r.s.conn.Set(z.Path, z.Data, -1); err != nil {
		return r.s.fail("setting the data of", z.Path, err)
	}
	return nil
}

// finish closes the innermost open znode, whose subtree is complete.
func (r *restorer) finish() error {
	z := r.open[len(r.open)-1]
	if err := r.advance(z); err != nil {
		return err
	}
	if _, err := r.s.conn.SetACL(z.Path, z.zkACL(), -1); err != nil {
		return r.s.fail("setting the ACL of", z.Path, err)
	}
	r.open = r.open[:len(r.open)-1]
	return nil
}

// advance brings the number z's next sequential child gets up to the source's. Left behind, a
// sequential child made after the restore would take a name the source had already given, and
// ZooKeeper fails such a create as if the node existed, or it would sort before older siblings.
// Nothing sets the number but creating children, so a child is created and deleted as many
// times as the number lags, many times in each transaction.
func (r *restorer) advance(z znode) error {
	if z.Sequence == 0 {
		return nil
	}
	ok, st, err := r.s.conn.Exists(z.Path)
	if err == nil && !ok {
		err = zk.ErrNoNode
	}
	if err != nil {
		return r.s.fail("reading", z.Path, err)
	}
	lag := int(z.Sequence - sequence(st))
	if lag <= 0 {
		return nil
	}
	tmp := child(z.Path, "coffer-restore-sequence")
	create := &zk.CreateRequest{Path: tmp, Acl: r.building, Flags: zk.FlagPersistent}
	remove := &zk.DeleteRequest{Path: tmp, Version: -1}
	// A transaction well under jute.maxbuffer (1 MiB by default), which bounds a request and
	// a transaction log entry the server reads back when it starts.
	batch := max(1, (256<<10)/(2*len(tmp)+64))
	ops := make([]any, 0, 2*min(lag, batch))
	for lag > 0 {
		n := min(lag, batch)
		ops = ops[:0]
		for range n {
			ops = append(ops, create, remove)
		}
		res, err := r.s.conn.Multi(ops...)
		for i := 0; err == nil && i < len(res); i++ {
			err = res[i].Error
		}
		if err != nil {
			return r.s.fail("advancing the sequence numbers of", z.Path, err)
		}
		lag -= n
	}
	return nil
}

func (z znode) zkACL() []zk.ACL {
	acls := make([]zk.ACL, len(z.ACL))
	for i, a := range z.ACL {
		acls[i] = zk.ACL{Perms: a.Perms, Scheme: a.Scheme, ID: a.ID}
	}
	return acls
}

// sequence is the number ZooKeeper would give z's next sequential child: the count of children
// ever created under it. Stat does not show it but a cversion of creations plus deletions, that
// is twice the creations less the children.
func sequence(st *zk.Stat) int32 {
	return int32((int64(st.Cversion) + int64(st.NumChildren)) / 2)
}

// Query runs one verification query. A Table query counts the znodes under the path q.Table
// names, not itself, that a Dump would keep (no ephemeral znodes, nothing under /zookeeper when
// counting from /): Columns ["count"], one row. A Statement is one of
//
//	get PATH     the znode: Columns ["path", "data"], one row
//	ls PATH      its children, in name order: Columns ["path", "data"], a row each
//	getAcl PATH  its ACL: Columns ["scheme", "id", "perms"], perms as zkCli writes them ("cdrwa")
//
// Data is the znode's bytes when they are UTF-8, else "base64:" and their base64. A path that
// does not exist is an error naming it. Database and Schema mean nothing to ZooKeeper.
func (c Conn) Query(ctx context.Context, q addons.Query, maxRows int) (*addons.Result, error) {
	var verb, p string
	if q.Table == "" {
		verb, p, _ = strings.Cut(strings.TrimSpace(q.Statement), " ")
		p = strings.TrimSpace(p)
		verb = strings.ToLower(verb)
		if p == "" || (verb != "get" && verb != "ls" && verb != "getacl") {
			return nil, fmt.Errorf(`ZooKeeper statement %q: want "get PATH", "ls PATH" or "getAcl PATH"`, q.Statement)
		}
	}
	s, err := c.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer s.close()
	res := &addons.Result{}
	keep := func(row ...string) {
		res.Count++
		if maxRows == 0 || len(res.Rows) < maxRows {
			res.Rows = append(res.Rows, row)
		}
	}
	switch verb {
	case "":
		n, err := s.count(q.Table)
		if err != nil {
			return nil, err
		}
		res.Columns = []string{"count"}
		keep(strconv.FormatInt(n, 10))
		res.Count = n
	case "get":
		data, _, err := s.conn.Get(p)
		if err != nil {
			return nil, s.fail("reading", p, err)
		}
		res.Columns = []string{"path", "data"}
		keep(p, text(data))
	case "ls":
		names, _, err := s.conn.Children(p)
		if err != nil {
			return nil, s.fail("listing the children of", p, err)
		}
		slices.Sort(names)
		res.Columns = []string{"path", "data"}
		for _, name := range names {
			cp := child(p, name)
			if maxRows > 0 && len(res.Rows) >= maxRows {
				res.Count++
				continue
			}
			data, _, err := s.conn.Get(cp)
			if errors.Is(err, zk.ErrNoNode) {
				continue // deleted since the listing
			}
			if err != nil {
				return nil, s.fail("reading", cp, err)
			}
			keep(cp, text(data))
		}
	case "getacl":
		acls, _, err := s.conn.GetACL(p)
		if err != nil {
			return nil, s.fail("reading the ACL of", p, err)
		}
		res.Columns = []string{"scheme", "id", "perms"}
		for _, a := range acls {
			keep(a.Scheme, a.ID, perms(a.Perms))
		}
	}
	return res, nil
}

// count is the number of znodes under p that a dump keeps.
func (s *session) count(p string) (int64, error) {
	var n int64
	err := s.walk(p, func(q string) (*zk.Stat, error) {
		ok, st, err := s.conn.Exists(q)
		if err == nil && !ok {
			err = zk.ErrNoNode
		}
		if err != nil {
			return nil, s.fail("reading", q, err)
		}
		if st.EphemeralOwner != 0 {
			return nil, nil
		}
		if q != p {
			n++
		}
		return st, nil
	})
	return n, err
}

func text(data []byte) string {
	if utf8.Valid(data) {
		return string(data)
	}
	return "base64:" + base64.StdEncoding.EncodeToString(data)
}

func perms(p int32) string {
	var b strings.Builder
	for _, f := range []struct {
		bit    int32
		letter byte
	}{{zk.PermCreate, 'c'}, {zk.PermDelete, 'd'}, {zk.PermRead, 'r'}, {zk.PermWrite, 'w'}, {zk.PermAdmin, 'a'}} {
		if p&f.bit != 0 {
			b.WriteByte(f.letter)
		}
	}
	return b.String()
}

// session is one open ZooKeeper session.
type session struct {
	ctx  context.Context
	conn *zk.Conn
	done chan struct{}
}

// connect opens a session, authenticated when c.User is set. The client library reconnects by
// itself and never gives up, so opening is bounded here; once open, the session is closed when
// ctx is done, which fails the request in flight.
func (c Conn) connect(ctx context.Context) (*session, error) {
	addr := net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
	timeout := c.ConnectTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	log := &clientLog{log: logr.FromContextOrDiscard(ctx).WithValues("zookeeper", addr)}
	conn, events, err := zk.Connect([]string{addr}, sessionTimeout, zk.WithLogger(log), zk.WithLogInfo(false))
	if err != nil {
		return nil, fmt.Errorf("connecting to ZooKeeper at %s: %w", addr, err)
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	// Events are dropped when nobody reads them fast enough, so the state is polled too.
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for conn.State() != zk.StateHasSession {
		select {
		case <-events:
		case <-tick.C:
		case <-deadline.C:
			conn.Close()
			return nil, fmt.Errorf("connecting to ZooKeeper at %s: no session within %v (last: %s)", addr, timeout, log.lastMessage())
		case <-ctx.Done():
			conn.Close()
			return nil, fmt.Errorf("connecting to ZooKeeper at %s: %w", addr, ctx.Err())
		}
	}
	s := &session{ctx: ctx, conn: conn, done: make(chan struct{})}
	go func() {
		select {
		case <-ctx.Done():
			conn.Close()
		case <-s.done:
		}
	}()
	if c.User != "" {
		if err := conn.AddAuth("digest", []byte(c.User+":"+c.Password)); err != nil {
			s.close()
			return nil, fmt.Errorf("authenticating to ZooKeeper at %s as %s: %w", addr, c.User, err)
		}
	}
	return s, nil
}

func (s *session) close() {
	close(s.done)
	s.conn.Close()
}

// walk visits p and then, parents before children and children in name order, every znode
// under it except /zookeeper's. visit returns the znode's Stat, or nil to skip its subtree. A
// znode deleted while the walk goes on is skipped, p aside: a dump of a live server is as fuzzy
// as the server's own snapshots.
func (s *session) walk(p string, visit func(p string) (*zk.Stat, error)) error {
	st, err := visit(p)
	if err != nil || st == nil || st.NumChildren == 0 {
		return err
	}
	names, _, err := s.conn.Children(p)
	if err != nil {
		return s.fail("listing the children of", p, err)
	}
	slices.Sort(names)
	for _, name := range names {
		if p == "/" && name == "zookeeper" {
			continue
		}
		err := s.walk(child(p, name), visit)
		if err != nil && !errors.Is(err, zk.ErrNoNode) {
			return err
		}
	}
	return nil
}

// fail is err as the error of doing op to znode p; once ctx is done, ctx's error is the cause,
// whatever the closed connection made of it.
func (s *session) fail(op, p string, err error) error {
	if cerr := s.ctx.Err(); cerr != nil {
		err = cerr
	}
	return &nodeError{op: op, path: p, err: err}
}

type nodeError struct {
	op, path string
	err      error
}

func (e *nodeError) Error() string {
	switch {
	case errors.Is(e.err, zk.ErrNoNode):
		return "znode " + e.path + " does not exist"
	case errors.Is(e.err, zk.ErrNoAuth):
		// The server's word for it is "not authenticated", whatever the session is.
		return e.op + " znode " + e.path + ": the znode's ACL does not allow it (" + e.err.Error() + ")"
	}
	return e.op + " znode " + e.path + ": " + e.err.Error()
}

func (e *nodeError) Unwrap() error { return e.err }

// clientLog takes the client library's messages, which it would otherwise print, to the
// context's logger, and keeps the last one: it says why a session could not be opened.
type clientLog struct {
	log  logr.Logger
	mu   sync.Mutex
	last string
}

func (l *clientLog) Printf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.mu.Lock()
	l.last = msg
	l.mu.Unlock()
	l.log.V(1).Info(msg)
}

func (l *clientLog) lastMessage() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last == "" {
		return "no answer"
	}
	return l.last
}

func child(p, name string) string {
	if p == "/" {
		return "/" + name
	}
	return p + "/" + name
}

func parent(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

// within reports whether p is strictly under dir.
func within(p, dir string) bool {
	if dir == "/" {
		return p != "/"
	}
	return strings.HasPrefix(p, dir+"/")
}
