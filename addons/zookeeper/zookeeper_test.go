package zookeeper_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"path"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/cofferhq/coffer/addons"
	"github.com/cofferhq/coffer/addons/zookeeper"
	"github.com/cofferhq/coffer/test/servers"
)

func conn(s *servers.ZooKeeper) zookeeper.Conn {
	return zookeeper.Conn{Host: s.Host, Port: s.Port, User: s.User, Password: s.Password}
}

type quiet struct{}

func (quiet) Printf(string, ...any) {}

// client is a session of the test's own, made with the client library alone, not with the code
// under test.
func client(t *testing.T, s *servers.ZooKeeper, user, password string) *zk.Conn {
	t.Helper()
	c, _, err := zk.Connect([]string{s.Addr()}, 30*time.Second, zk.WithLogger(quiet{}), zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if user != "" {
		if err := c.AddAuth("digest", []byte(user+":"+password)); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// fixture is what populate made that a test checks beyond the tree itself.
type fixture struct {
	// ephemeral znodes, which a dump leaves out.
	ephemeral []string
	// app is the number of znodes under /app that a dump keeps.
	app int64
	// sequential are the parents of sequential znodes.
	sequential []string
}

// populate makes a tree with what a dump can get wrong: nil, empty, binary and large data,
// paths JSON escapes, ACLs that forbid creating children or reading at all, sequential znodes
// some of which were deleted, a container, and ephemeral znodes of a live session. /app has
// services*101 + 1 znodes.
func populate(t *testing.T, s *servers.ZooKeeper, services int) fixture {
	t.Helper()
	c := client(t, s, s.User, s.Password)
	open := zk.WorldACL(zk.PermAll)
	create := func(c *zk.Conn, p string, data []byte, flags int32, acl []zk.ACL) string {
		t.Helper()
		got, err := c.Create(p, data, flags, acl)
		if err != nil {
			t.Fatalf("creating %s: %v", p, err)
		}
		return got
	}
	check := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}

	check(c.Set("/", []byte("the root's own data"), -1))
	create(c, "/app", []byte("app"), zk.FlagPersistent, open)
	for i := range services {
		svc := fmt.Sprintf("/app/svc-%02d", i)
		ops := []any{&zk.CreateRequest{Path: svc, Data: []byte(svc), Acl: open}}
		for k := range 100 {
			var data []byte
			switch k % 10 {
			case 0: // nil
			case 1:
				data = []byte{}
			default:
				data = random(rng.IntN(300))
			}
			ops = append(ops, &zk.CreateRequest{Path: fmt.Sprintf("%s/key-%03d", svc, k), Data: data, Acl: open})
		}
		check(c.Multi(ops...))
	}
	create(c, "/app/blob", random(900<<10), zk.FlagPersistent, open)
	create(c, "/config", []byte(`{"replicas": 3, "name": "ünïcödé"}`), zk.FlagPersistent, open)

	// ZooKeeper refuses surrogates, hence no emoji.
	create(c, "/ünïcödé", []byte("ü"), zk.FlagPersistent, open)
	create(c, "/ünïcödé/日本語", []byte("日本語"), zk.FlagPersistent, open)
	create(c, "/ünïcödé/日本語/with space", nil, zk.FlagPersistent, open)
	create(c, `/ünïcödé/"quoted" \back\slash`, []byte("\x00\xff\n"), zk.FlagPersistent, open)

	// Children under a znode whose ACL no longer lets anyone create them.
	create(c, "/readonly", []byte("r"), zk.FlagPersistent, open)
	create(c, "/readonly/a", []byte("a"), zk.FlagPersistent, open)
	create(c, "/readonly/a/b", nil, zk.FlagPersistent, zk.WorldACL(zk.PermRead))
	check(c.SetACL("/readonly", zk.WorldACL(zk.PermRead), -1))
	// Alice's alone: only she and the superuser may even read them.
	alice := zk.DigestACL(zk.PermAll, "alice", "alice's password")
	create(c, "/secret", []byte("s3cr3t"), zk.FlagPersistent, alice)
	create(c, "/secret/inner", []byte{0, 1, 2}, zk.FlagPersistent, alice)
	create(c, "/mixed", nil, zk.FlagPersistent, []zk.ACL{{Perms: zk.PermRead, Scheme: "world", ID: "anyone"}, alice[0], {Perms: zk.PermAll, Scheme: "ip", ID: "10.0.0.0/8"}})

	// Sequential znodes, the first ones since deleted: the next number is not the count left.
	create(c, "/queue", nil, zk.FlagPersistent, open)
	for i := range 40 {
		create(c, "/queue/item-", []byte(strconv.Itoa(i)), zk.FlagSequence, open)
	}
	for i := range 15 {
		if err := c.Delete(fmt.Sprintf("/queue/item-%010d", i), -1); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.CreateContainer("/containers", []byte("c"), zk.FlagContainer, open); err != nil {
		t.Fatal(err)
	}
	create(c, "/containers/c1", []byte("c1"), zk.FlagPersistent, open)

	// Ephemeral znodes of another session, alive while the dump runs.
	app := client(t, s, "", "")
	fx := fixture{app: int64(services)*101 + 1, sequential: []string{"/queue", "/locks", "/app/svc-00"}}
	fx.ephemeral = append(fx.ephemeral, create(app, "/app/svc-00/leader", []byte("me"), zk.FlagEphemeral, open))
	create(c, "/locks", nil, zk.FlagPersistent, open)
	for range 3 {
		fx.ephemeral = append(fx.ephemeral, create(app, "/locks/lock-", nil, zk.FlagEphemeralSequential, open))
	}
	return fx
}

// node is a znode as the tests compare them.
type node struct {
	Path string
	Data []byte
	ACL  []zk.ACL
	// Cversion and NumChildren give the next sequential child's number, (cversion+children)/2.
	Sequence int32
}

// tree is every znode but the ephemeral ones and /zookeeper's, parents first, read as the
// superuser.
func tree(t *testing.T, s *servers.ZooKeeper) []node {
	t.Helper()
	c := client(t, s, s.User, s.Password)
	var nodes []node
	var walk func(p string)
	walk = func(p string) {
		data, st, err := c.Get(p)
		if err != nil {
			t.Fatalf("reading %s: %v", p, err)
		}
		if st.EphemeralOwner != 0 {
			return
		}
		acl, _, err := c.GetACL(p)
		if err != nil {
			t.Fatalf("reading the ACL of %s: %v", p, err)
		}
		nodes = append(nodes, node{Path: p, Data: data, ACL: acl, Sequence: (st.Cversion + st.NumChildren) / 2})
		children, _, err := c.Children(p)
		if err != nil {
			t.Fatalf("listing %s: %v", p, err)
		}
		slices.Sort(children)
		for _, name := range children {
			if p != "/" || name != "zookeeper" {
				walk(path.Join(p, name))
			}
		}
	}
	walk("/")
	return nodes
}

// sameTree fails the test at the first znode that differs, nil data and empty data included.
func sameTree(t *testing.T, what string, got, want []node) {
	t.Helper()
	show := func(nodes []node, i int) string {
		if i >= len(nodes) {
			return "(none)"
		}
		n := nodes[i]
		return fmt.Sprintf("%s data=%.60q (nil: %v, %d bytes) acl=%v sequence=%d", n.Path, n.Data, n.Data == nil, len(n.Data), n.ACL, n.Sequence)
	}
	for i := range max(len(got), len(want)) {
		if i >= len(got) || i >= len(want) || !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("%s: znode %d of %d differs:\n got %s\nwant %s", what, i, len(want), show(got, i), show(want, i))
		}
	}
}

// A server with a few thousand znodes of every kind is dumped through restic into a repository
// and restored from it into a fresh server: the two trees are then the same, znode for znode,
// data, ACL and next sequence number, less the ephemeral znodes. The streams go from the
// source into restic and from restic into the target, never through a file.
func TestZooKeeperDumpAndRestoreThroughTheEngine(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	src, dst := servers.StartZooKeeper(t), servers.StartZooKeeper(t)
	fx := populate(t, src, 30)
	want := tree(t, src)
	var nilData, emptyData bool
	for _, n := range want {
		nilData = nilData || n.Data == nil
		emptyData = emptyData || (n.Data != nil && len(n.Data) == 0)
	}
	if !nilData || !emptyData || len(want) < 3000 {
		t.Fatalf("the fixture has %d znodes, nil data %v, empty data %v", len(want), nilData, emptyData)
	}

	servers.ThroughRestic(ctx, t, conn(src), conn(dst))
	sameTree(t, "the restored server", tree(t, dst), want)
	d := client(t, dst, dst.User, dst.Password)
	for _, p := range fx.ephemeral {
		if ok, _, err := d.Exists(p); err != nil || ok {
			t.Fatalf("the ephemeral znode %s was restored (%v)", p, err)
		}
	}

	t.Run("queries", func(t *testing.T) {
		c := conn(dst)
		res, err := c.Query(ctx, addons.Query{Table: "/app"}, 10)
		if err != nil || res.Count != fx.app || !reflect.DeepEqual(res.Columns, []string{"count"}) || !reflect.DeepEqual(res.Rows, [][]string{{strconv.FormatInt(fx.app, 10)}}) {
			t.Errorf("counting /app: %+v, %v; want %d", res, err, fx.app)
		}
		if res, err := c.Query(ctx, addons.Query{Table: "/"}, 10); err != nil || res.Count != int64(len(want)-1) {
			t.Errorf("counting /: %+v, %v; want %d", res, err, len(want)-1)
		}
		for stmt, row := range map[string][]string{
			"get /config":       {"/config", `{"replicas": 3, "name": "ünïcödé"}`},
			"get /secret/inner": {"/secret/inner", "\x00\x01\x02"},
			`  GET   /ünïcödé/"quoted" \back\slash `: {`/ünïcödé/"quoted" \back\slash`, "base64:AP8K"},
			"get /mixed": {"/mixed", ""},
		} {
			res, err := c.Query(ctx, addons.Query{Statement: stmt}, 10)
			if err != nil || res.Count != 1 || !reflect.DeepEqual(res.Columns, []string{"path", "data"}) || !reflect.DeepEqual(res.Rows, [][]string{row}) {
				t.Errorf("%q: %+v, %v; want the row %q", stmt, res, err, row)
			}
		}
		res, err = c.Query(ctx, addons.Query{Statement: "ls /queue"}, 5)
		if err != nil || res.Count != 25 || len(res.Rows) != 5 || !reflect.DeepEqual(res.Rows[0], []string{"/queue/item-0000000015", "15"}) {
			t.Errorf("ls /queue: %+v, %v; want 25 children, the first 5 of them from item-0000000015", res, err)
		}
		res, err = c.Query(ctx, addons.Query{Statement: "getAcl /mixed"}, 0)
		wantACL := [][]string{{"world", "anyone", "r"}, {"digest", zk.DigestACL(0, "alice", "alice's password")[0].ID, "cdrwa"}, {"ip", "10.0.0.0/8", "cdrwa"}}
		if err != nil || res.Count != 3 || !reflect.DeepEqual(res.Rows, wantACL) {
			t.Errorf("getAcl /mixed: %+v, %v; want %q", res, err, wantACL)
		}
		for _, q := range []addons.Query{{Table: "/missing/deeper"}, {Statement: "get /missing"}, {Statement: "ls /missing"}, {Statement: "getAcl /missing"}} {
			if _, err := c.Query(ctx, q, 10); err == nil || !strings.Contains(err.Error(), "znode /missing") || !strings.Contains(err.Error(), "does not exist") {
				t.Errorf("%+v: %v, want it to say the znode does not exist", q, err)
			}
		}
		if _, err := c.Query(ctx, addons.Query{Statement: "rmr /app"}, 10); err == nil || !strings.Contains(err.Error(), `want "get PATH", "ls PATH" or "getAcl PATH"`) {
			t.Errorf("an unknown statement: %v", err)
		}
	})

	// Restoring again into the same server meets every znode: it sets them as they were.
	var dump bytes.Buffer
	if err := conn(src).Dump(ctx, &dump); err != nil {
		t.Fatal(err)
	}
	if err := conn(dst).Restore(ctx, &dump); err != nil {
		t.Fatalf("restoring into a server that has the znodes already: %v", err)
	}
	sameTree(t, "the server restored twice", tree(t, dst), want)
	if err := conn(dst).Restore(ctx, strings.NewReader(`{"format":"something else"}`+"\n")); err == nil || !strings.Contains(err.Error(), "not a ZooKeeper dump") {
		t.Fatalf("restoring what is not a dump: %v", err)
	}

	// A sequential znode made after the restore gets the number it would have got in the source.
	s := client(t, src, src.User, src.Password)
	for _, p := range fx.sequential {
		next, err := s.Create(p+"/next-", nil, zk.FlagSequence, zk.WorldACL(zk.PermAll))
		if err != nil {
			t.Fatal(err)
		}
		got, err := d.Create(p+"/next-", nil, zk.FlagSequence, zk.WorldACL(zk.PermAll))
		if err != nil || got != next {
			t.Errorf("the next sequential child of %s in the restored server: %s, %v; the source's is %s", p, got, err, next)
		}
	}
}

// A user who is not the superuser restores znodes whose ACLs forbid them to create children
// and more: each subtree is restored before its root takes the dump's ACL. Restoring again
// needs ADMIN on the existing znodes, which that user does not have on all of them: the restore
// says where, and leaves no znode restricted to the restoring user.
func TestZooKeeperRestoreAsAnOrdinaryUser(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	src, dst := servers.StartZooKeeper(t), servers.StartZooKeeper(t)
	populate(t, src, 2)
	want := tree(t, src)
	var dump bytes.Buffer
	if err := conn(src).Dump(ctx, &dump); err != nil {
		t.Fatal(err)
	}
	restorer := zookeeper.Conn{Host: dst.Host, Port: dst.Port, User: "restorer", Password: "restorer's password"}
	if err := restorer.Restore(ctx, bytes.NewReader(dump.Bytes())); err != nil {
		t.Fatal(err)
	}
	sameTree(t, "the server restored by an ordinary user", tree(t, dst), want)

	err := restorer.Restore(ctx, bytes.NewReader(dump.Bytes()))
	if err == nil || !strings.Contains(err.Error(), "znode /mixed: the znode's ACL does not allow it") {
		t.Fatalf("restoring over a znode the user may not administer: %v", err)
	}
	sameTree(t, "the server after a failed restore", tree(t, dst), want)
}

// A server that does not answer is an error within the connect timeout, saying why.
func TestZooKeeperUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	c := zookeeper.Conn{Host: "127.0.0.1", Port: port, ConnectTimeout: 2 * time.Second}
	err = c.Dump(context.Background(), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "no session within 2s") || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("dumping from a closed port: %v", err)
	}
}
