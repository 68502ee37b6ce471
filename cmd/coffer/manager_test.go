package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cofferhq/coffer/test/envtest"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func get(url string) (int, string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

func eventually(t *testing.T, what string, f func() error) {
	t.Helper()
	var err error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if err = f(); err == nil {
			return
		}
	}
	t.Fatalf("%s: %v", what, err)
}

// TestManager runs `coffer manager` against a real API server: the probes answer, the metrics
// endpoint serves Prometheus text, the replica takes the leader-election Lease, and releases it
// when it stops.
func TestManager(t *testing.T) {
	env := envtest.Start(t)
	ns := env.Namespace(t)
	o := managerOptions{
		metricsAddr:             freeAddr(t),
		probeAddr:               freeAddr(t),
		leaderElect:             true,
		leaderElectionNamespace: ns,
		leaderElectionID:        "coffer-manager-test",
		gracefulShutdown:        5 * time.Second,
		executorImage:           "coffer.dev/coffer:test",
		executorServiceAccount:  "coffer-executor",
		executorClusterRole:     "coffer-executor-role",
	}
	mgr, err := newManager(env.Config, o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	defer func() {
		cancel()
		<-done
	}()

	for _, path := range []string{"/healthz", "/readyz"} {
		eventually(t, path, func() error {
			code, body, err := get("http://" + o.probeAddr + path)
			if err == nil && code != http.StatusOK {
				err = fmt.Errorf("status %d: %s", code, body)
			}
			return err
		})
	}

	lease := &coordinationv1.Lease{}
	eventually(t, "leader election Lease", func() error {
		if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: o.leaderElectionID}, lease); err != nil {
			return err
		}
		if lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity == "" {
			return fmt.Errorf("the Lease has no holder")
		}
		return nil
	})

	eventually(t, "metrics", func() error {
		code, body, err := get("http://" + o.metricsAddr + "/metrics")
		if err != nil {
			return err
		}
		if code != http.StatusOK || !strings.Contains(body, "leader_election_master_status") {
			return fmt.Errorf("status %d, no leader_election_master_status in %d bytes", code, len(body))
		}
		return nil
	})

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("manager stopped with %v", err)
	}
	done <- nil // let the deferred cleanup's receive return
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: o.leaderElectionID}, lease); err != nil {
		t.Fatal(err)
	}
	if lease.Spec.HolderIdentity != nil && *lease.Spec.HolderIdentity != "" {
		t.Fatalf("the Lease is still held by %q after shutdown", *lease.Spec.HolderIdentity)
	}
}

func TestNewLogger(t *testing.T) {
	tests := map[string]struct {
		format, level string
		wantErr       string
	}{
		"json info":     {format: "json", level: "info"},
		"console debug": {format: "console", level: "debug"},
		"bad format":    {format: "xml", level: "info", wantErr: `--log-format: "xml" is neither json nor console`},
		"bad level":     {format: "json", level: "loud", wantErr: "--log-level"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := newLogger(tc.format, tc.level)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}
