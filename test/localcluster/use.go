package localcluster

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/testr"
	"golang.org/x/sys/unix"
)

// Use brings the cluster up, or joins the one running, for a user that will later let go of it:
// a test package, or a command. It holds a shared lock on <work dir>/.inuse until release is
// called. release tears the cluster down only if this call started it, and only once every other
// user has released it too: a cluster that `make run` left running, or that another test package
// started, is left alone.
func Use(ctx context.Context, cfg Config) (c *Cluster, release func(context.Context) error, err error) {
	if os.Geteuid() != 0 {
		return nil, nil, ErrNotRoot
	}
	l, err := newLayout(cfg.WorkDir)
	if err != nil {
		return nil, nil, err
	}
	// Shared first, then Up's exclusive lock: Down below takes them in the same order.
	inUse, err := lockFile(l.inUseFile(), unix.LOCK_SH)
	if err != nil {
		return nil, nil, err
	}
	c, err = Up(ctx, cfg)
	if err != nil {
		inUse.unlock()
		return nil, nil, err
	}
	release = func(ctx context.Context) error {
		inUse.unlock()
		if !c.started {
			return nil
		}
		logr.FromContextOrDiscard(ctx).Info("waiting for other users of the local cluster to finish before tearing it down")
		excl, err := lockFile(l.inUseFile(), unix.LOCK_EX)
		if err != nil {
			return err
		}
		defer excl.unlock()
		return Down(ctx, l.dir)
	}
	return c, release, nil
}

// ForTest is Use for one test: it fails the test (never skips it) when the cluster cannot be
// brought up, saying how to fix it, logs through t, and releases the cluster when the test
// ends, tearing it down if the test started it.
func ForTest(t testing.TB) *Cluster {
	t.Helper()
	ctx := logr.NewContext(context.Background(), testr.NewWithInterface(t, testr.Options{}))
	ctx, cancel := context.WithTimeout(ctx, 20*time.Minute) // a cold build of the binaries
	defer cancel()
	c, release, err := Use(ctx, Config{})
	if err != nil {
		t.Fatalf("localcluster: %v", err)
	}
	t.Cleanup(func() {
		// The test's logger must not be used after the test ends.
		if err := release(context.Background()); err != nil {
			t.Errorf("localcluster: %v", err)
		}
	})
	return c
}
