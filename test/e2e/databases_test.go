//go:build e2e

package e2e

import (
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

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	"github.com/cofferhq/coffer/api/shared"
	storagev1alpha1 "github.com/cofferhq/coffer/api/storage/v1alpha1"
	"github.com/cofferhq/coffer/test/localcluster"
)

// appBindingRef is the target reference of an AppBinding.
func appBindingRef(name string) *shared.TypedObjectReference {
	return &shared.TypedObjectReference{APIGroup: corev1alpha1.GroupVersion.Group, Kind: shared.KindAppBinding, Name: name}
}

// server creates a database server's objects, waits for its pod to be Ready and returns the
// pod's IP (the host reaches the pod network; there is no DNS for Service names).
func (e *env) server(s localcluster.DatabaseServer) string {
	e.t.Helper()
	for _, obj := range s.Objects() {
		e.create(obj)
	}
	var pod corev1.Pod
	e.waitFor("pod "+s.Pod.Name+" Ready", 3*time.Minute, func() (bool, error) {
		if err := kube.Get(e.ctx, client.ObjectKeyFromObject(s.Pod), &pod); err != nil {
			return false, err
		}
		for _, c := range pod.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
	return pod.Status.PodIP
}

// appBinding points an AppBinding at a server's Service and credentials.
func (e *env) appBinding(name string, typ corev1alpha1.DatabaseType, s localcluster.DatabaseServer) {
	e.t.Helper()
	b := &corev1alpha1.AppBinding{ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: name},
		Spec: corev1alpha1.AppBindingSpec{Type: typ,
			ClientConfig: corev1alpha1.ClientConfig{Service: &corev1alpha1.ServiceReference{Name: s.Service.Name}}}}
	if s.Secret != nil {
		b.Spec.Secret = &corev1.LocalObjectReference{Name: s.Secret.Name}
	}
	e.create(b)
}

// verifiedDatabase backs up the AppBinding source with the addon's backup task and verifies the
// snapshot with the given queries and condition, restoring into the AppBinding scratch with the
// addon's restore task. It returns the finished verification and the time from the session's
// creation to its end.
func (e *env) verifiedDatabase(addon string, queries []corev1alpha1.VerifierQuery, condition string) (corev1alpha1.BackupVerificationSession, time.Duration) {
	e.t.Helper()
	e.localStorage("local")
	e.create(&corev1alpha1.BackupVerifier{ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: "queries"},
		Spec: corev1alpha1.BackupVerifierSpec{
			Type: corev1alpha1.VerifyQuery,
			RestoreOption: &corev1alpha1.RestoreOption{Target: appBindingRef("scratch"),
				AddonInfo: &corev1alpha1.AddonInfo{Name: addon, Tasks: []corev1alpha1.TaskReference{{Name: "logical-backup-restore"}}}},
			Scheduler:  &shared.SchedulerSpec{Schedule: never},
			Queries:    queries,
			Conditions: []corev1alpha1.VerificationCondition{{Name: "restored", Expression: condition}},
		}})
	repo := repoInfo("db-local", "local", "db")
	repo.BackupVerifier = &shared.ObjectReference{Name: "queries"}
	sess := session(never, repo)
	sess.Addon = &corev1alpha1.AddonInfo{Name: addon, Tasks: []corev1alpha1.TaskReference{{Name: "logical-backup"}}}
	e.backupConfiguration("db", appBindingRef("source"), []corev1alpha1.BackendReference{localBackend("")}, sess)
	start := time.Now()
	bs := e.finishedSession("db", 10*time.Minute)
	if bs.Status.Phase != corev1alpha1.BackupSessionSucceeded {
		e.t.Fatalf("backup %s: %+v", bs.Status.Phase, bs.Status.Conditions)
	}
	e.t.Logf("FIGURE %s: BackupSession to Succeeded: %s", addon, time.Since(start).Round(time.Second))

	if _, err := cluster.Kubectl(e.ctx, "create", "job", "-n", e.ns, "--from=cronjob/"+shared.VerifierCronJobName("db", "db-local"), "verify-now"); err != nil {
		e.t.Fatal(err)
	}
	bvs := e.finishedVerification("", 10*time.Minute)
	took := bvs.Status.Conditions[0].LastTransitionTime.Sub(bvs.CreationTimestamp.Time)
	for _, c := range bvs.Status.Conditions {
		if d := c.LastTransitionTime.Sub(bvs.CreationTimestamp.Time); d > took {
			took = d
		}
	}
	if bvs.Status.Phase != corev1alpha1.VerificationSucceeded || !shared.IsTrue(bvs.Status.Conditions, corev1alpha1.TypeBackupVerified) {
		e.t.Fatalf("verification %s: %+v\nobservations %+v", bvs.Status.Phase, bvs.Status.Conditions, bvs.Status.Observations)
	}
	var snap storagev1alpha1.Snapshot
	if err := kube.Get(e.ctx, client.ObjectKey{Namespace: e.ns, Name: bs.Status.Snapshots[0].Name}, &snap); err != nil {
		e.t.Fatal(err)
	}
	if snap.Status.VerificationStatus != storagev1alpha1.Verified || snap.Status.VerificationSession != bvs.Name {
		e.t.Fatalf("snapshot verification %q by %q", snap.Status.VerificationStatus, snap.Status.VerificationSession)
	}
	return bvs, took
}

// psql runs SQL in a PostgreSQL server's pod as the superuser.
func (e *env) psql(s localcluster.DatabaseServer, password, db, sql string) string {
	e.t.Helper()
	out, err := cluster.Kubectl(e.ctx, "exec", "-n", e.ns, s.Pod.Name, "--", "sh", "-c",
		fmt.Sprintf("PGPASSWORD=%s psql -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -U postgres -d %s -c '%s'", password, db, strings.ReplaceAll(sql, "'", `'\''`)))
	if err != nil {
		e.t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// The done-when of database verification, on the real cluster: a PostgreSQL server with about
// 100 MB of data is backed up by the postgres addon's Job (pg_dumpall streamed into restic), the
// verifier restores the snapshot into a scratch server through the addon's restore Job, its
// verifier Job queries the scratch server, and the condition over the query and the restore
// holds: BackupVerified, the Snapshot Verified.
func TestVerificationOfAPostgreSQLBackup(t *testing.T) {
	e := newEnv(t, "pg")
	image, err := cluster.BuildPostgresImage(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	source := localcluster.PostgresServer(e.ns, "source", image, "source-pass")
	scratch := localcluster.PostgresServer(e.ns, "scratch", image, "scratch-pass")
	e.server(source)
	e.server(scratch)
	e.psql(source, "source-pass", "postgres", "CREATE DATABASE shop")
	// 100,000 users of about 1 KB each: 100 MB in the dump.
	e.psql(source, "source-pass", "shop", `CREATE TABLE users (id bigint PRIMARY KEY, name text, bio text);
		INSERT INTO users SELECT g, 'user ' || g, repeat(md5(g::text), 31) FROM generate_series(1, 100000) g`)
	size := e.psql(source, "source-pass", "shop", "SELECT pg_database_size('shop')")
	e.appBinding("source", corev1alpha1.DatabasePostgreSQL, source)
	e.appBinding("scratch", corev1alpha1.DatabasePostgreSQL, scratch)

	bvs, took := e.verifiedDatabase("postgres-addon",
		[]corev1alpha1.VerifierQuery{{Name: "users", Database: "shop", Table: "users"},
			{Name: "newest", Database: "shop", Statement: "SELECT max(id) FROM users"}},
		"queries.users.rowCount >= 1000 && restore.duration < duration('5m') && queries.newest.scalar == 100000")
	t.Logf("FIGURE BackupVerificationSession creation to BackupVerified, PostgreSQL of %s bytes: %s", size, took.Round(time.Second))
	q := bvs.Status.Observations.Queries
	if len(q) != 2 || q[0].RowCount == nil || *q[0].RowCount != 100000 {
		t.Fatalf("query observations %+v", q)
	}
	if got := e.psql(scratch, "scratch-pass", "shop", "SELECT count(*), sum(length(bio)) FROM users"); got != "100000|99200000" {
		t.Fatalf("the scratch server holds %q", got)
	}
}

// The same for ZooKeeper: a tree of znodes is dumped by the zookeeper addon through Coffer's own
// image, restored into a scratch server, counted there by the verifier Job, and verified.
func TestVerificationOfAZooKeeperBackup(t *testing.T) {
	e := newEnv(t, "zk")
	image, err := cluster.BuildZooKeeperImage(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	source := localcluster.ZooKeeperServer(e.ns, "source", image)
	scratch := localcluster.ZooKeeperServer(e.ns, "scratch", image)
	sourceIP := e.server(source)
	scratchIP := e.server(scratch)
	conn := dialZooKeeper(t, sourceIP)
	want := map[string]string{}
	for _, p := range []string{"/app", "/app/config", "/app/users"} {
		if _, err := conn.Create(p, nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 1200 {
		p := fmt.Sprintf("/app/users/u%04d", i)
		want[p] = fmt.Sprintf(`{"id":%d,"name":"user %d"}`, i, i)
		if _, err := conn.Create(p, []byte(want[p]), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	e.appBinding("source", corev1alpha1.DatabaseZooKeeper, source)
	e.appBinding("scratch", corev1alpha1.DatabaseZooKeeper, scratch)

	bvs, took := e.verifiedDatabase("zookeeper-addon",
		[]corev1alpha1.VerifierQuery{{Name: "users", Table: "/app/users"}, {Name: "first", Statement: "get /app/users/u0000"}},
		"queries.users.rowCount >= 1000 && restore.duration < duration('5m') && queries.first.rows[0].data == '"+strings.ReplaceAll(want["/app/users/u0000"], `"`, `\"`)+"'")
	t.Logf("FIGURE BackupVerificationSession creation to BackupVerified, ZooKeeper of %d znodes: %s", len(want)+3, took.Round(time.Second))
	if q := bvs.Status.Observations.Queries; len(q) != 2 || q[0].RowCount == nil || *q[0].RowCount != 1200 {
		t.Fatalf("query observations %+v", q)
	}
	restored := dialZooKeeper(t, scratchIP)
	for p, data := range want {
		got, _, err := restored.Get(p)
		if err != nil || string(got) != data {
			t.Fatalf("scratch %s = %q, %v; want %q", p, got, err, data)
		}
	}
}

func dialZooKeeper(t *testing.T, ip string) *zk.Conn {
	t.Helper()
	conn, _, err := zk.Connect([]string{net.JoinHostPort(ip, strconv.Itoa(localcluster.ZooKeeperPort))}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	return conn
}
