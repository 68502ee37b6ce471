package main

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cofferhq/coffer/addons"
	"github.com/cofferhq/coffer/addons/databases"
	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	storagev1alpha1 "github.com/cofferhq/coffer/api/storage/v1alpha1"
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
