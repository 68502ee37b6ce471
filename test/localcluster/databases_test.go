package localcluster_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/testr"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cofferhq/coffer/test/localcluster"
)

// TestDatabaseImages proves that images built from the machine's Debian packages run the
// database servers the end-to-end suites back up: a PostgreSQL server initialized in its pod
// answers psql and pg_dumpall from another pod of the same image through its Service, beside
// Coffer's own binary; a ZooKeeper server answers the test process and ZooKeeper's own client in
// another pod; MariaDB and Redis answer their clients likewise. Building an image again gives
// the same reference, from the layer cache.
func TestDatabaseImages(t *testing.T) {
	c := localcluster.ForTest(t)
	ctx := logr.NewContext(t.Context(), testr.New(t))
	// The parallel subtests run after this function returns; t.Context ends after them.
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	t.Cleanup(cancel)
	ns := namespace(ctx, t, c)

	build := func(what string, f func(context.Context) (string, error)) string {
		t.Helper()
		began := time.Now()
		ref, err := f(ctx)
		if err != nil {
			t.Fatal(err)
		}
		first := time.Since(began)
		began = time.Now()
		again, err := f(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s image %s: built and imported in %s, built again in %s", what, ref, first.Round(10*time.Millisecond), time.Since(began).Round(10*time.Millisecond))
		if again != ref {
			t.Errorf("building the %s image again gave %s, want %s: the image is not reproducible", what, again, ref)
		}
		return ref
	}
	postgres := build("PostgreSQL", c.BuildPostgresImage)
	zookeeper := build("ZooKeeper", c.BuildZooKeeperImage)
	mariadb := build("MariaDB", c.BuildMariaDBImage)
	redis := build("Redis", c.BuildRedisImage)

	t.Run("PostgreSQL answers psql and pg_dumpall through its Service", func(t *testing.T) {
		t.Parallel()
		server := localcluster.PostgresServer(ns, "postgres", postgres, "e2e-secret")
		create(ctx, t, c.Client(), server.Objects()...)
		waitReady(ctx, t, c, server.Pod)
		host := server.Service.Spec.ClusterIP
		waitListening(ctx, t, net.JoinHostPort(host, strconv.Itoa(int(server.Port))))

		coffer := container("coffer", postgres)
		coffer.Args = []string{"version"}
		version := container("pg-dumpall-version", postgres)
		version.Command = []string{"pg_dumpall", "--version"}
		psql := container("psql", postgres)
		psql.Command = []string{"/bin/sh", "-c", `set -e
psql -v ON_ERROR_STOP=1 -q -t -A -c 'create table coffer_e2e (n int)' -c 'insert into coffer_e2e values (41), (1)' -c 'select sum(n) from coffer_e2e'
pg_dumpall > /tmp/dump.sql
grep -c '^CREATE TABLE public.coffer_e2e' /tmp/dump.sql`}
		psql.Env = []corev1.EnvVar{
			{Name: "PGHOST", Value: host},
			{Name: "PGPORT", Value: strconv.Itoa(int(server.Port))},
			{Name: "PGUSER", Value: "postgres"},
			{Name: "PGPASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: server.Secret.Name}, Key: "password",
			}}},
			{Name: "PGCONNECT_TIMEOUT", Value: "10"},
		}
		psql.VolumeMounts = []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}}
		j := job(ns, "psql", corev1.PodSpec{
			InitContainers: []corev1.Container{coffer, version},
			Containers:     []corev1.Container{psql},
			Volumes:        []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
		})
		create(ctx, t, c.Client(), j)
		waitComplete(ctx, t, c, j)
		if got := strings.TrimSpace(podLogs(ctx, t, c, j, "coffer")); got != "dev" {
			t.Errorf("coffer version printed %q, want dev", got)
		}
		if got := podLogs(ctx, t, c, j, "pg-dumpall-version"); !strings.HasPrefix(got, "pg_dumpall (PostgreSQL) ") {
			t.Errorf("pg_dumpall --version printed %q", got)
		}
		if got := strings.Fields(podLogs(ctx, t, c, j, "psql")); strings.Join(got, " ") != "42 1" {
			t.Errorf("psql and pg_dumpall printed %q, want the sum 42 and one CREATE TABLE of the table in the dump", got)
		}
	})

	t.Run("ZooKeeper answers the test and its own client through its Service", func(t *testing.T) {
		t.Parallel()
		server := localcluster.ZooKeeperServer(ns, "zookeeper", zookeeper)
		create(ctx, t, c.Client(), server.Objects()...)
		pod := waitReady(ctx, t, c, server.Pod)
		port := strconv.Itoa(int(server.Port))
		if got := fourLetterWord(t, net.JoinHostPort(pod.Status.PodIP, port), "ruok"); got != "imok" {
			t.Errorf("ruok to the pod answered %q, want imok", got)
		}
		host := server.Service.Spec.ClusterIP
		waitListening(ctx, t, net.JoinHostPort(host, port))
		if got := fourLetterWord(t, net.JoinHostPort(host, port), "srvr"); !strings.Contains(got, "Mode: standalone") {
			t.Errorf("srvr through the Service answered %q, want a standalone server's state", got)
		}

		zkCli := func(name string, args ...string) corev1.Container {
			ctr := container(name, zookeeper)
			ctr.Command = append([]string{"java", "-Xmx64m", "org.apache.zookeeper.ZooKeeperMain", "-server", host + ":" + port}, args...)
			ctr.VolumeMounts = []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}}
			return ctr
		}
		j := job(ns, "zkcli", corev1.PodSpec{
			InitContainers: []corev1.Container{zkCli("create", "create", "/coffer-e2e", "written-by-zkcli")},
			Containers:     []corev1.Container{zkCli("get", "get", "/coffer-e2e")},
			Volumes:        []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
		})
		create(ctx, t, c.Client(), j)
		waitComplete(ctx, t, c, j)
		if got := podLogs(ctx, t, c, j, "get"); !slices.Contains(strings.Split(got, "\n"), "written-by-zkcli") {
			t.Errorf("get /coffer-e2e printed %q, want the data create wrote", got)
		}
	})

	t.Run("MariaDB answers mariadb and mariadb-dump through its Service", func(t *testing.T) {
		t.Parallel()
		server := localcluster.MariaDBServer(ns, "mariadb", mariadb, "e2e-secret")
		create(ctx, t, c.Client(), server.Objects()...)
		waitReady(ctx, t, c, server.Pod)
		host := server.Service.Spec.ClusterIP
		waitListening(ctx, t, net.JoinHostPort(host, strconv.Itoa(int(server.Port))))

		client := container("mariadb", mariadb)
		client.Command = []string{"/bin/sh", "-c", `set -e
mariadb --no-defaults --host="$HOST" --user=root --password="$PASSWORD" --batch --skip-column-names \
  -e 'create database coffer_e2e; create table coffer_e2e.t (n int); insert into coffer_e2e.t values (41), (1); select sum(n) from coffer_e2e.t'
mariadb-dump --no-defaults --host="$HOST" --user=root --password="$PASSWORD" --all-databases > /tmp/dump.sql
grep -c '^CREATE DATABASE .*coffer_e2e' /tmp/dump.sql`}
		client.Env = []corev1.EnvVar{
			{Name: "HOST", Value: host},
			{Name: "PASSWORD", ValueFrom: secretKey(server.Secret.Name, "password")},
		}
		client.VolumeMounts = []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}}
		j := job(ns, "mariadb-client", corev1.PodSpec{
			Containers: []corev1.Container{client},
			Volumes:    []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
		})
		create(ctx, t, c.Client(), j)
		waitComplete(ctx, t, c, j)
		if got := strings.Fields(podLogs(ctx, t, c, j, "mariadb")); strings.Join(got, " ") != "42 1" {
			t.Errorf("mariadb and mariadb-dump printed %q, want the sum 42 and the database in the dump", got)
		}
	})

	t.Run("Redis answers redis-cli through its Service", func(t *testing.T) {
		t.Parallel()
		server := localcluster.RedisServer(ns, "redis", redis, "e2e-secret")
		create(ctx, t, c.Client(), server.Objects()...)
		waitReady(ctx, t, c, server.Pod)
		host := server.Service.Spec.ClusterIP
		waitListening(ctx, t, net.JoinHostPort(host, strconv.Itoa(int(server.Port))))

		client := container("redis-cli", redis)
		client.Command = []string{"/bin/sh", "-c", `set -e
redis-cli -h "$HOST" --no-auth-warning -a "$PASSWORD" set coffer-e2e written-by-redis-cli
redis-cli -h "$HOST" --no-auth-warning -a "$PASSWORD" get coffer-e2e
redis-cli -h "$HOST" --no-auth-warning -a wrong-password get coffer-e2e`}
		client.Env = []corev1.EnvVar{
			{Name: "HOST", Value: host},
			{Name: "PASSWORD", ValueFrom: secretKey(server.Secret.Name, "password")},
		}
		j := job(ns, "redis-cli", corev1.PodSpec{Containers: []corev1.Container{client}})
		create(ctx, t, c.Client(), j)
		waitComplete(ctx, t, c, j)
		logs := podLogs(ctx, t, c, j, "redis-cli")
		if got := strings.Split(logs, "\n"); len(got) < 2 || got[0] != "OK" || got[1] != "written-by-redis-cli" || !strings.Contains(logs, "NOAUTH") {
			t.Errorf("redis-cli printed %q, want OK, the value, and a refusal for a wrong password", logs)
		}
	})
}

// waitReady waits for the pod to be Ready and returns it; it fails the test with the pod's
// description and log when a container ends or it takes too long.
func waitReady(ctx context.Context, t *testing.T, c *localcluster.Cluster, pod *corev1.Pod) *corev1.Pod {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	fail := func(why string) {
		t.Helper()
		desc, _ := c.Kubectl(context.Background(), "--namespace", pod.Namespace, "describe", "pod", pod.Name)
		logs, _ := c.Kubectl(context.Background(), "--namespace", pod.Namespace, "logs", pod.Name, "--all-containers", "--tail=40")
		previous, _ := c.Kubectl(context.Background(), "--namespace", pod.Namespace, "logs", pod.Name, "--all-containers", "--tail=40", "--previous")
		t.Fatalf("pod %s: %s\n%s\nlogs:\n%s\nlogs of the previous start:\n%s", pod.Name, why, desc, logs, previous)
	}
	for {
		var p corev1.Pod
		if err := c.Client().Get(ctx, client.ObjectKeyFromObject(pod), &p); err == nil {
			for _, cond := range p.Status.Conditions {
				if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue {
					return &p
				}
			}
			for _, st := range p.Status.ContainerStatuses {
				if st.State.Terminated != nil || st.RestartCount > 0 {
					fail(fmt.Sprintf("container %s ended", st.Name))
				}
			}
		}
		select {
		case <-ctx.Done():
			fail("not Ready: " + ctx.Err().Error())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// waitListening waits until address accepts connections: for a ClusterIP, until kube-proxy has
// written the rules of the Service's new endpoint (a second or so after the pod is Ready), so
// that a client pod started next does not meet a refusal.
func waitListening(ctx context.Context, t *testing.T, address string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		conn, err := (&net.Dialer{Timeout: 2 * time.Second}).DialContext(ctx, "tcp", address)
		if err == nil {
			conn.Close()
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s does not accept connections: %v", address, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// fourLetterWord sends one of ZooKeeper's four-letter commands and returns the answer.
func fourLetterWord(t *testing.T, address, word string) string {
	t.Helper()
	conn, err := net.DialTimeout("tcp", address, 5*time.Second)
	if err != nil {
		t.Fatalf("dialing ZooKeeper at %s: %v", address, err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, word); err != nil {
		t.Fatalf("sending %s to %s: %v", word, address, err)
	}
	answer, err := io.ReadAll(bufio.NewReader(conn))
	if err != nil {
		t.Fatalf("reading the answer to %s from %s: %v", word, address, err)
	}
	return strings.TrimSpace(string(answer))
}

func secretKey(secret, key string) *corev1.EnvVarSource {
	return &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Key: key}}
}
