package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cofferhq/coffer/addons"
	"github.com/cofferhq/coffer/addons/databases"
	"github.com/cofferhq/coffer/addons/redis"
	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	"github.com/cofferhq/coffer/api/shared"
	storagev1alpha1 "github.com/cofferhq/coffer/api/storage/v1alpha1"
	"github.com/cofferhq/coffer/controllers/verification"
	"github.com/cofferhq/coffer/engine"
	"github.com/cofferhq/coffer/test/servers"
)

// appBinding creates an AppBinding of a server on this machine, with its credentials' Secret.
func (f *fixture) appBinding(t *testing.T, name string, typ corev1alpha1.DatabaseType, host string, port int, user, password string) {
	t.Helper()
	ctx := context.Background()
	objs := []client.Object{
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: name + "-auth"},
			StringData: map[string]string{"username": user, "password": password}},
		&corev1alpha1.AppBinding{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: name},
			Spec: corev1alpha1.AppBindingSpec{Type: typ,
				ClientConfig: corev1alpha1.ClientConfig{Host: host, Port: int32(port)},
				Secret:       &corev1.LocalObjectReference{Name: name + "-auth"}}},
	}
	for _, obj := range objs {
		if err := f.h.env.Client.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
}

// testPostgresRoundTrip backs a PostgreSQL server up with `coffer backup --app-binding` and
// restores it into a second server with `coffer restore --app-binding`, as the Jobs do.
func testPostgresRoundTrip(t *testing.T, h *harness) {
	ctx := testContext(t)
	f := localFixture(t, h)
	src, dst := servers.StartPostgres(t), servers.StartPostgres(t)
	src.Psql(t, "postgres", "CREATE DATABASE shop")
	src.Psql(t, "shop", "CREATE TABLE users (id int PRIMARY KEY, name text); INSERT INTO users SELECT g, 'user ' || g FROM generate_series(1, 1500) g")
	f.appBinding(t, "source", corev1alpha1.DatabasePostgreSQL, src.Host, src.Port, src.User, src.Password)
	f.appBinding(t, "scratch", corev1alpha1.DatabasePostgreSQL, dst.Host, dst.Port, dst.User, dst.Password)

	f.snapshot(t, "snap")
	mustSucceed(t, "database backup", f.backup(ctx, "snap", "dump", "--app-binding", f.ns+"/source"))
	c := f.component(t, "snap", "dump")
	if c.Phase != storagev1alpha1.ComponentSucceeded || len(c.ResticStats) != 1 || c.ResticStats[0].Summary.HostPath != "/dumpall.sql" {
		t.Fatalf("component %+v", c)
	}

	f.restoreSession(t, "into-scratch", "snap")
	mustSucceed(t, "database restore", f.restore(ctx, "into-scratch", "dump", "--app-binding", "scratch"))
	if got := dst.Psql(t, "shop", "SELECT count(*), sum(id), max(name) FROM users"); got != "1500|1125750|user 999\n" {
		t.Fatalf("the restored table gives %q", got)
	}

	testQueryVerification(t, f)

	// Wrong credentials: the dump fails, saying why, and nothing is saved.
	f.appBinding(t, "locked-out", corev1alpha1.DatabasePostgreSQL, src.Host, src.Port, src.User, "not the password")
	f.snapshot(t, "locked-out")
	r := f.backup(ctx, "locked-out", "dump", "--app-binding", "locked-out")
	mustFail(t, "a dump with a wrong password", r, time.Minute)
	c = f.component(t, "locked-out", "dump")
	t.Logf("wrong password: %s", c.Error)
	if c.Phase != storagev1alpha1.ComponentFailed || !strings.Contains(c.Error, "password authentication failed") {
		t.Errorf("component = %s %q, want Failed with PostgreSQL's reason", c.Phase, c.Error)
	}
	snaps, err := f.engine().Snapshots(ctx, f.resticRepo("dump"), engine.SnapshotFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(snaps) != 1 {
		t.Errorf("the repository has %d restic snapshots, want only the good one", len(snaps))
	}

	testMisnamedSecretKeys(t, f, src)

	// An AppBinding naming a Service that does not exist says so.
	missing := &corev1alpha1.AppBinding{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "no-service"},
		Spec: corev1alpha1.AppBindingSpec{Type: corev1alpha1.DatabasePostgreSQL,
			ClientConfig: corev1alpha1.ClientConfig{Service: &corev1alpha1.ServiceReference{Name: "orders-db"}}}}
	if err := h.env.Client.Create(ctx, missing); err != nil {
		t.Fatal(err)
	}
	f.restoreSession(t, "no-service", "snap")
	r = f.restore(ctx, "no-service", "dump", "--app-binding", "no-service")
	mustFail(t, "a restore into a missing Service", r, time.Minute)
	if rc := f.restoreComponent(t, "no-service", "dump"); !strings.Contains(rc.Error, "spec.clientConfig.service: reading Service "+f.ns+"/orders-db") {
		t.Errorf("restore component error %q, want it to name the missing Service", rc.Error)
	}
}

// A Secret without the username and password keys is named, rather than met later as an
// authentication failure.
func testMisnamedSecretKeys(t *testing.T, f *fixture, pg *servers.Postgres) {
	ctx := testContext(t)
	objs := []client.Object{
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "misnamed"},
			StringData: map[string]string{"user": pg.User, "pass": pg.Password}},
		&corev1alpha1.AppBinding{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "misnamed"},
			Spec: corev1alpha1.AppBindingSpec{Type: corev1alpha1.DatabasePostgreSQL,
				ClientConfig: corev1alpha1.ClientConfig{Host: pg.Host, Port: int32(pg.Port)},
				Secret:       &corev1.LocalObjectReference{Name: "misnamed"}}},
	}
	for _, obj := range objs {
		if err := f.h.env.Client.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	f.snapshot(t, "misnamed")
	mustFail(t, "a dump with a misnamed Secret", f.backup(ctx, "misnamed", "dump", "--app-binding", "misnamed"), time.Minute)
	if c := f.component(t, "misnamed", "dump"); !strings.Contains(c.Error, "spec.secret: Secret "+f.ns+"/misnamed has neither a username nor a password key") {
		t.Errorf("component error %q, want it to name the Secret and its keys", c.Error)
	}
}

func TestServiceAddress(t *testing.T) {
	svc := func(ip string, ports ...int32) *corev1.Service {
		s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "db", Name: "pg"}, Spec: corev1.ServiceSpec{ClusterIP: ip}}
		for _, p := range ports {
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Port: p})
		}
		return s
	}
	for _, tc := range []struct {
		svc           *corev1.Service
		port          int32
		want, wantErr string
	}{
		{svc: svc("10.0.0.7", 5432), want: "10.0.0.7:5432"},
		{svc: svc("10.0.0.7", 5432, 9187), port: 5432, want: "10.0.0.7:5432"},
		{svc: svc("10.0.0.7", 5432, 9187), wantErr: "has 2 ports: say which with port"},
		{svc: svc("10.0.0.7", 5432), port: 6432, wantErr: "has no port 6432"},
		{svc: svc("None", 5432), wantErr: "headless"},
	} {
		host, port, err := serviceAddress(tc.svc, tc.port)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%v port %d: %v, want %q", tc.svc.Spec, tc.port, err, tc.wantErr)
			}
			continue
		}
		if err != nil || host+":"+strconv.Itoa(port) != tc.want {
			t.Errorf("%v port %d: %s:%d %v, want %s", tc.svc.Spec, tc.port, host, port, err, tc.want)
		}
	}
}

// Every type an AppBinding may name has a library.
func TestEveryDatabaseTypeOpens(t *testing.T) {
	for _, typ := range []corev1alpha1.DatabaseType{corev1alpha1.DatabasePostgreSQL, corev1alpha1.DatabaseMariaDB,
		corev1alpha1.DatabaseMySQL, corev1alpha1.DatabaseRedis, corev1alpha1.DatabaseZooKeeper} {
		if _, err := databases.Open(string(typ), addons.Connection{}); err != nil {
			t.Errorf("%s: %v", typ, err)
		}
	}
}

// verifyQueries runs `coffer verify` for a session whose Query verifier restores into the
// AppBinding scratch and runs queries there, and returns what it recorded.
func verifyQueries(t *testing.T, f *fixture, queries ...corev1alpha1.VerifierQuery) []corev1alpha1.QueryObservation {
	t.Helper()
	ctx := testContext(t)
	objs := []client.Object{
		&corev1alpha1.BackupConfiguration{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "db"},
			Spec: corev1alpha1.BackupConfigurationSpec{
				Target:   &shared.TypedObjectReference{APIGroup: corev1alpha1.GroupVersion.Group, Kind: shared.KindAppBinding, Name: "source"},
				Backends: []corev1alpha1.BackendReference{{Name: "local", StorageRef: &shared.ObjectReference{Name: "storage"}}},
				Sessions: []corev1alpha1.Session{{SessionConfig: corev1alpha1.SessionConfig{Name: "daily", Scheduler: &shared.SchedulerSpec{Schedule: "0 1 * * *"}},
					Repositories: []corev1alpha1.RepositoryInfo{{Name: f.repo, Backend: "local", Directory: repoPath,
						BackupVerifier: &shared.ObjectReference{Name: "queries"}}}}},
			}},
		&corev1alpha1.BackupVerifier{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "queries"},
			Spec: corev1alpha1.BackupVerifierSpec{
				Type:          corev1alpha1.VerifyQuery,
				RestoreOption: &corev1alpha1.RestoreOption{Target: &shared.TypedObjectReference{Kind: shared.KindAppBinding, Name: "scratch"}},
				Queries:       queries,
			}},
	}
	for _, obj := range objs {
		if err := f.h.env.Client.Create(ctx, obj); err != nil {
			t.Fatalf("creating %T: %v", obj, err)
		}
	}
	bvs := verification.NewSession(f.ns, "db", "daily", f.repo, 0, time.Now())
	if err := f.h.env.Client.Create(ctx, bvs); err != nil {
		t.Fatal(err)
	}
	mustSucceed(t, "coffer verify", f.h.command(ctx, "verify", "-n", f.ns, "--session", bvs.Name))
	if err := f.h.env.Client.Get(ctx, client.ObjectKeyFromObject(bvs), bvs); err != nil {
		t.Fatal(err)
	}
	obs := bvs.Status.Observations
	if obs == nil || len(obs.Queries) != len(queries) {
		t.Fatalf("observations %+v", obs)
	}
	return obs.Queries
}

// testQueryVerification checks what `coffer verify` records of PostgreSQL queries: counts,
// first rows, typed values, and a failing query's error, without failing the command.
func testQueryVerification(t *testing.T, f *fixture) {
	q := verifyQueries(t, f,
		corev1alpha1.VerifierQuery{Name: "users", Database: "shop", Table: "users"},
		corev1alpha1.VerifierQuery{Name: "newest", Database: "shop", Statement: "SELECT id, name, id * 1.5 AS half, id > 1000 AS big, '007' AS code FROM users ORDER BY id DESC LIMIT 30"},
		corev1alpha1.VerifierQuery{Name: "broken", Database: "shop", Statement: "SELECT * FROM missing"})
	users, newest, broken := q[0], q[1], q[2]
	if users.Name != "users" || users.Error != "" || users.RowCount == nil || *users.RowCount != 1500 || string(users.Scalar.Raw) != "1500" {
		t.Errorf("users: %+v", users)
	}
	if newest.RowCount == nil || *newest.RowCount != 30 || string(newest.Scalar.Raw) != "1500" ||
		strings.Join(newest.Columns, ",") != "id,name,half,big,code" {
		t.Errorf("newest: %+v", newest)
	}
	var rows []map[string]any
	if err := json.Unmarshal(newest.Rows.Raw, &rows); err != nil || len(rows) != corev1alpha1.MaxObservedRows {
		t.Fatalf("newest keeps %d rows (%v), want %d", len(rows), err, corev1alpha1.MaxObservedRows)
	}
	if r := rows[0]; r["id"] != 1500.0 || r["name"] != "user 1500" || r["half"] != 2250.0 || r["code"] != "007" {
		t.Errorf("first row %v: numbers should be JSON numbers, '007' a string", r)
	}
	if broken.Error == "" || !strings.Contains(broken.Error, `relation "missing" does not exist`) || broken.RowCount != nil {
		t.Errorf("broken: %+v", broken)
	}
}

// testDatabaseRoundTrip backs up a server of every other type through `coffer backup
// --app-binding`, restores it into a second server with `coffer restore --app-binding`, and
// counts the restored data with `coffer verify`, as the Jobs do. (The addons' own tests compare
// the round trips byte for byte.)
func testDatabaseRoundTrip(t *testing.T, h *harness, typ corev1alpha1.DatabaseType) {
	ctx := testContext(t)
	f := localFixture(t, h)
	const n = 1200
	var count corev1alpha1.VerifierQuery
	switch typ {
	case corev1alpha1.DatabaseMariaDB:
		src, dst := servers.StartMariaDB(t), servers.StartMariaDB(t)
		src.SQL(t, "", "CREATE DATABASE shop")
		src.SQL(t, "shop", fmt.Sprintf("CREATE TABLE users (id INT PRIMARY KEY, name TEXT); INSERT INTO users SELECT seq, CONCAT('user ', seq) FROM seq_1_to_%d", n))
		f.appBinding(t, "source", typ, src.Host, src.Port, src.User, src.Password)
		f.appBinding(t, "scratch", typ, dst.Host, dst.Port, dst.User, dst.Password)
		count = corev1alpha1.VerifierQuery{Name: "users", Schema: "shop", Table: "users"}
	case corev1alpha1.DatabaseRedis:
		src, dst := servers.StartRedis(t), servers.StartRedis(t)
		var mset strings.Builder
		mset.WriteString("MSET")
		for i := range n {
			fmt.Fprintf(&mset, " user:%d \"user %d\"", i, i)
		}
		conn := redis.Conn{Host: src.Host, Port: src.Port, Password: src.Password}
		if _, err := conn.Query(ctx, addons.Query{Statement: mset.String()}, 1); err != nil {
			t.Fatal(err)
		}
		f.appBinding(t, "source", typ, src.Host, src.Port, "", src.Password)
		f.appBinding(t, "scratch", typ, dst.Host, dst.Port, "", dst.Password)
		count = corev1alpha1.VerifierQuery{Name: "users", Table: "user:*"}
	case corev1alpha1.DatabaseZooKeeper:
		src, dst := servers.StartZooKeeper(t), servers.StartZooKeeper(t)
		conn, _, err := zk.Connect([]string{net.JoinHostPort(src.Host, strconv.Itoa(src.Port))}, 10*time.Second, zk.WithLogInfo(false))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := conn.Create("/users", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if _, err := conn.Create(fmt.Sprintf("/users/u%d", i), []byte(fmt.Sprintf("user %d", i)), 0, zk.WorldACL(zk.PermAll)); err != nil {
				t.Fatal(err)
			}
		}
		f.appBinding(t, "source", typ, src.Host, src.Port, src.User, src.Password)
		f.appBinding(t, "scratch", typ, dst.Host, dst.Port, dst.User, dst.Password)
		count = corev1alpha1.VerifierQuery{Name: "users", Table: "/users"}
	}

	f.snapshot(t, "snap")
	mustSucceed(t, "database backup", f.backup(ctx, "snap", "dump", "--app-binding", "source"))
	f.restoreSession(t, "into-scratch", "snap")
	mustSucceed(t, "database restore", f.restore(ctx, "into-scratch", "dump", "--app-binding", "scratch"))
	q := verifyQueries(t, f, count)
	if q[0].Error != "" || q[0].RowCount == nil || *q[0].RowCount != n {
		t.Fatalf("%s: the restored server counts %+v, want %d", typ, q[0], n)
	}
}
