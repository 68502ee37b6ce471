package servers

import (
	"context"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/cofferhq/coffer/addons"
	"github.com/cofferhq/coffer/engine"
)

// ThroughRestic backs src's dump up into a fresh restic repository as one stream and restores
// it from there into dst, as the backup and restore Jobs do: from the dump into restic and from
// restic into the restore, never through a file. It logs how long each way took.
func ThroughRestic(ctx context.Context, t testing.TB, src, dst addons.Database) {
	t.Helper()
	restic := &engine.Restic{Binary: Tool(t, "restic")}
	repo := engine.Repo{Location: engine.Location{Backend: engine.Backend{Local: &engine.LocalBackend{Path: t.TempDir()}}, Path: "dump"},
		Password: "coffer", CacheDir: filepath.Join(t.TempDir(), "cache")}
	if err := restic.Init(ctx, repo); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(src.Dump(ctx, pw)) }()
	sum, err := restic.BackupStream(ctx, repo, pr, engine.BackupOptions{StdinFilename: src.DumpName()})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("dumped into restic in %v", time.Since(start).Round(time.Millisecond))

	start = time.Now()
	rr, rw := io.Pipe()
	go func() {
		_, err := restic.RestoreStream(ctx, repo, sum.SnapshotID, rw, engine.RestoreOptions{})
		rw.CloseWithError(err)
	}()
	if err := dst.Restore(ctx, rr); err != nil {
		t.Fatal(err)
	}
	t.Logf("restored from restic in %v", time.Since(start).Round(time.Millisecond))
}
