package engine_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cofferhq/coffer/bench/corpus"
	"github.com/cofferhq/coffer/engine"
	"github.com/cofferhq/coffer/test/servers"
)

// backendCase is a backend the engine is exercised against, each a real server or directory.
type backendCase struct {
	name string
	// open returns a fresh backend root and the engine that reaches it.
	open func(t *testing.T) (engine.Backend, *engine.Restic)
}

func newRestic(t *testing.T, env ...string) *engine.Restic {
	return &engine.Restic{Binary: servers.Tool(t, "restic"), Env: env, Host: "coffer-test",
		ProgressInterval: 100 * time.Millisecond, TempDir: t.TempDir()}
}

var backends = []backendCase{
	{"local", func(t *testing.T) (engine.Backend, *engine.Restic) {
		return engine.Backend{Local: &engine.LocalBackend{Path: t.TempDir()}}, newRestic(t)
	}},
	{"s3", func(t *testing.T) (engine.Backend, *engine.Restic) {
		s := servers.StartS3(t)
		s.CreateBucket(t, "coffer")
		return s.Backend("coffer", "backups/prod"), newRestic(t)
	}},
	{"gcs", func(t *testing.T) (engine.Backend, *engine.Restic) {
		g := servers.StartGCS(t)
		g.CreateBucket(t, "coffer")
		return g.Backend("coffer", "backups"), newRestic(t)
	}},
	{"azure", func(t *testing.T) (engine.Backend, *engine.Restic) {
		a := servers.StartAzure(t)
		a.CreateContainer(t, "coffer")
		return a.Backend("coffer", "backups"), newRestic(t, a.Env()...)
	}},
}

func repoAt(t *testing.T, b engine.Backend, path string) engine.Repo {
	return engine.Repo{Location: engine.Location{Backend: b, Path: path}, Password: "s3cret", CacheDir: filepath.Join(t.TempDir(), "cache")}
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// smallCorpus writes a corpus of a few MiB with compressible and random files.
func smallCorpus(t *testing.T, size int64) (string, corpus.Spec) {
	dir := filepath.Join(t.TempDir(), "data")
	spec := corpus.Spec{Seed: 7, TotalBytes: size}
	if _, err := corpus.Generate(dir, spec); err != nil {
		t.Fatal(err)
	}
	return dir, spec
}

func hashTree(t *testing.T, dir string) string {
	h, err := corpus.HashTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestRoundTrip(t *testing.T) {
	for _, bc := range backends {
		t.Run(bc.name, func(t *testing.T) {
			ctx := ctxFor(t)
			b, r := bc.open(t)
			repo := repoAt(t, b, "demo/app/repository/v1/daily/data")
			if err := r.Init(ctx, repo); err != nil {
				t.Fatalf("init: %v", err)
			}
			if err := r.Init(ctx, repo); err != nil {
				t.Fatalf("second init must be a no-op: %v", err)
			}

			dir, spec := smallCorpus(t, 6<<20)
			var progress []engine.Progress
			sum, err := r.BackupDirectory(ctx, repo, dir, engine.BackupOptions{Tags: []string{"daily"},
				Progress: func(p engine.Progress) { progress = append(progress, p) }})
			if err != nil {
				t.Fatalf("backup: %v", err)
			}
			if sum.SnapshotID == "" || sum.TotalBytesProcessed < 6<<20 || sum.FilesNew == 0 || len(sum.Paths) != 1 || sum.Paths[0] != dir {
				t.Fatalf("summary does not describe the backup: %+v", sum)
			}
			_ = progress // progress is best-effort on small trees; the stream test asserts it

			target := filepath.Join(t.TempDir(), "restored")
			rs, err := r.RestoreDirectory(ctx, repo, sum.SnapshotID, target, engine.RestoreOptions{})
			if err != nil {
				t.Fatalf("restore: %v", err)
			}
			if got, want := hashTree(t, target), hashTree(t, dir); got != want {
				t.Fatalf("restored tree differs from the original")
			}
			if rs.BytesRestored < 6<<20 {
				t.Errorf("restore summary counts %d bytes", rs.BytesRestored)
			}

			// An incremental backup after a 5% change stores far less than the first.
			if _, err := corpus.Mutate(dir, spec, 0.05); err != nil {
				t.Fatal(err)
			}
			inc, err := r.BackupDirectory(ctx, repo, dir, engine.BackupOptions{})
			if err != nil {
				t.Fatalf("incremental backup: %v", err)
			}
			if inc.DataAdded >= sum.DataAdded/2 || inc.FilesUnmodified == 0 {
				t.Errorf("incremental backup added %d bytes (first: %d), unmodified %d", inc.DataAdded, sum.DataAdded, inc.FilesUnmodified)
			}
			target2 := filepath.Join(t.TempDir(), "restored2")
			if _, err := r.RestoreDirectory(ctx, repo, "latest", target2, engine.RestoreOptions{}); err != nil {
				t.Fatalf("restore latest: %v", err)
			}
			if hashTree(t, target2) != hashTree(t, dir) {
				t.Fatalf("restored incremental tree differs from the original")
			}

			// A stream: a dump-like reader, restored bit-exact to a writer.
			var dump bytes.Buffer
			if err := corpus.WriteDump(&dump, corpus.DumpSpec{Seed: 3, Size: 3 << 20}); err != nil {
				t.Fatal(err)
			}
			want := sha256.Sum256(dump.Bytes())
			ssum, err := r.BackupStream(ctx, repo, bytes.NewReader(dump.Bytes()), engine.BackupOptions{StdinFilename: "dump.sql"})
			if err != nil {
				t.Fatalf("stream backup: %v", err)
			}
			h := sha256.New()
			var reports int
			if _, err := r.RestoreStream(ctx, repo, ssum.SnapshotID, h, engine.RestoreOptions{Progress: func(engine.Progress) { reports++ }}); err != nil {
				t.Fatalf("stream restore: %v", err)
			}
			if !bytes.Equal(h.Sum(nil), want[:]) {
				t.Fatalf("restored stream differs from the original")
			}
			if reports == 0 {
				t.Errorf("stream restore reported no progress")
			}

			snaps, err := r.Snapshots(ctx, repo, engine.SnapshotFilter{})
			if err != nil {
				t.Fatal(err)
			}
			if len(snaps) != 3 || snaps[2].Paths[0] != "/dump.sql" || snaps[0].Host != "coffer-test" || snaps[0].Summary == nil {
				t.Fatalf("snapshots = %+v", snaps)
			}
			tagged, err := r.Snapshots(ctx, repo, engine.SnapshotFilter{Tags: []string{"daily"}})
			if err != nil || len(tagged) != 1 || tagged[0].ID != sum.SnapshotID {
				t.Fatalf("tag filter: %v %+v", err, tagged)
			}

			if err := r.Check(ctx, repo, engine.CheckOptions{ReadData: true}); err != nil {
				t.Fatalf("check: %v", err)
			}
			st, err := r.Stats(ctx, repo)
			if err != nil || st.TotalSize == 0 || st.SnapshotsCount != 3 {
				t.Fatalf("stats: %v %+v", err, st)
			}

			res, err := r.Forget(ctx, repo, engine.RetentionPolicy{Last: 1}, true)
			if err != nil {
				t.Fatalf("forget: %v", err)
			}
			if len(res.Removed) != 1 || len(res.Kept) != 2 {
				t.Fatalf("forget per host+paths group keeps the newest of each: %+v", res)
			}
			if err := r.Check(ctx, repo, engine.CheckOptions{ReadDataSubset: "50%"}); err != nil {
				t.Fatalf("check after prune: %v", err)
			}
			if _, err := r.RestoreDirectory(ctx, repo, inc.SnapshotID, filepath.Join(t.TempDir(), "r3"), engine.RestoreOptions{}); err != nil {
				t.Fatalf("the kept snapshot must restore after prune: %v", err)
			}
		})
	}
}

// A writer that fails must stop the restore promptly, not leave restic blocked on its output.
func TestFailingWriterStopsTheRestore(t *testing.T) {
	ctx := ctxFor(t)
	b, r := backends[0].open(t)
	repo := repoAt(t, b, "repo")
	if err := r.Init(ctx, repo); err != nil {
		t.Fatal(err)
	}
	var dump bytes.Buffer
	if err := corpus.WriteDump(&dump, corpus.DumpSpec{Seed: 1, Size: 8 << 20}); err != nil {
		t.Fatal(err)
	}
	sum, err := r.BackupStream(ctx, repo, &dump, engine.BackupOptions{StdinFilename: "dump.sql"})
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Paths) != 1 || sum.Paths[0] != "/dump.sql" {
		t.Errorf("stream summary paths = %v", sum.Paths)
	}
	_, err = r.RestoreStream(ctx, repo, sum.SnapshotID, failingWriter{}, engine.RestoreOptions{})
	expectKind(t, err, engine.ErrTargetFailed, "disk full")
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestErrorsAreClassified(t *testing.T) {
	ctx := ctxFor(t)
	b, r := backends[0].open(t)
	repo := repoAt(t, b, "repo")

	_, err := r.Snapshots(ctx, repo, engine.SnapshotFilter{})
	expectKind(t, err, engine.ErrRepositoryNotFound, "repository does not exist")

	if err := r.Init(ctx, repo); err != nil {
		t.Fatal(err)
	}
	wrong := repo
	wrong.Password = "not-it"
	expectKind(t, r.Init(ctx, wrong), engine.ErrWrongPassword, "wrong password")
	_, err = r.BackupStream(ctx, wrong, strings.NewReader("x"), engine.BackupOptions{})
	expectKind(t, err, engine.ErrWrongPassword, "wrong password")
	// A stream larger than the pipe: restic's refusal, not the broken pipe, is the error.
	_, err = r.BackupStream(ctx, wrong, io.LimitReader(zeros{}, 64<<20), engine.BackupOptions{})
	expectKind(t, err, engine.ErrWrongPassword, "wrong password")
	// A source that blocks forever does not keep restic's own failure from being returned.
	blocked := make(chan struct{})
	defer close(blocked)
	_, err = r.BackupStream(ctx, wrong, blockingReader{blocked}, engine.BackupOptions{})
	expectKind(t, err, engine.ErrWrongPassword, "wrong password")

	_, err = r.RestoreStream(ctx, repo, "deadbeef", io.Discard, engine.RestoreOptions{})
	expectKind(t, err, engine.ErrSnapshotNotFound, "deadbeef")

	_, err = r.Forget(ctx, repo, engine.RetentionPolicy{}, true)
	expectKind(t, err, engine.ErrInvalidArgument, "keeps nothing")

	noPass := repo
	noPass.Password = ""
	expectKind(t, r.Init(ctx, noPass), engine.ErrInvalidArgument, "RESTIC_PASSWORD")
}

func TestUnreachableAndMissingBucket(t *testing.T) {
	s := servers.StartS3(t)
	r := newRestic(t)
	ctx := ctxFor(t)

	// A missing bucket: restic would create it on init; on open it is reported, not created.
	repo := repoAt(t, s.Backend("missing", ""), "repo")
	_, err := r.Snapshots(ctx, repo, engine.SnapshotFilter{})
	if err == nil {
		t.Fatal("listing a repository in a missing bucket succeeded")
	}
	t.Logf("missing bucket: %v", err)
	if k := engine.KindOf(err); k != engine.ErrBucketNotFound && k != engine.ErrRepositoryNotFound {
		t.Fatalf("missing bucket: kind %q, error %v", k, err)
	}
	if _, err := os.Stat(filepath.Join(s.Dir, "missing")); err == nil {
		t.Fatal("listing created the bucket")
	}

	// Wrong credentials.
	s.CreateBucket(t, "coffer")
	bad := s.Backend("coffer", "")
	bad.S3.SecretAccessKey = "wrong"
	_, err = r.Snapshots(ctx, repoAt(t, bad, "repo"), engine.SnapshotFilter{})
	expectKind(t, err, engine.ErrAccessDenied, "")
}

func TestFailingSourceSavesNoSnapshot(t *testing.T) {
	ctx := ctxFor(t)
	b, r := backends[0].open(t)
	repo := repoAt(t, b, "repo")
	if err := r.Init(ctx, repo); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("pg_dump: connection lost")
	src := io.MultiReader(strings.NewReader(strings.Repeat("INSERT INTO t VALUES (1);\n", 100000)), errReader{boom})
	_, err := r.BackupStream(ctx, repo, src, engine.BackupOptions{StdinFilename: "dump.sql"})
	expectKind(t, err, engine.ErrSourceFailed, "connection lost")
	if !errors.Is(err, boom) {
		t.Errorf("the source's error is not wrapped: %v", err)
	}
	snaps, err := r.Snapshots(ctx, repo, engine.SnapshotFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(snaps) != 0 {
		t.Fatalf("a truncated stream was saved as snapshot %s", snaps[0].ShortID)
	}
	// The interrupted restic removed its lock: an exclusive operation runs at once.
	if err := r.Check(ctx, repo, engine.CheckOptions{}); err != nil {
		t.Fatalf("check after an aborted backup: %v", err)
	}
	if _, err := r.BackupStream(ctx, repo, strings.NewReader("ok"), engine.BackupOptions{}); err != nil {
		t.Fatalf("backup after a failed one: %v", err)
	}
}

// TestKilledBackupLeavesUsableRepository kills restic with SIGKILL in the middle of a backup
// and requires that the repository passes check and takes the next backup.
func TestKilledBackupLeavesUsableRepository(t *testing.T) {
	for _, bc := range backends[:2] { // local and S3: the two kinds of write path
		t.Run(bc.name, func(t *testing.T) {
			ctx := ctxFor(t)
			b, r := bc.open(t)
			repo := repoAt(t, b, "repo")
			if err := r.Init(ctx, repo); err != nil {
				t.Fatal(err)
			}
			dir, _ := smallCorpus(t, 48<<20)

			// SIGKILL restic once a third of the data went through: no chance to clean up.
			killer := *r
			killer.ReadConcurrency = 1
			var proc *os.Process
			engine.SetOnStart(&killer, func(p *os.Process) { proc = p })
			killedAt := int64(-1)
			_, err := killer.BackupDirectory(ctx, repo, dir, engine.BackupOptions{Progress: func(p engine.Progress) {
				if killedAt < 0 && p.TotalBytes > 0 && p.BytesDone > p.TotalBytes/3 {
					killedAt = p.BytesDone
					_ = proc.Signal(syscall.SIGKILL)
				}
			}})
			if killedAt < 0 {
				t.Fatalf("the backup finished before it could be killed (err %v)", err)
			}
			if err == nil {
				t.Fatal("a killed backup reported success")
			}
			t.Logf("killed backup: %v", err)

			snaps, lerr := r.Snapshots(ctx, repo, engine.SnapshotFilter{})
			if lerr != nil {
				t.Fatal(lerr)
			}
			if len(snaps) != 0 {
				t.Fatalf("a killed backup left snapshot %s", snaps[0].ShortID)
			}
			if err := r.Unlock(ctx, repo); err != nil {
				t.Fatal(err)
			}
			if err := r.Check(ctx, repo, engine.CheckOptions{ReadData: true}); err != nil {
				t.Fatalf("check after SIGKILL: %v", err)
			}
			sum, err := r.BackupDirectory(ctx, repo, dir, engine.BackupOptions{})
			if err != nil {
				t.Fatalf("backup after SIGKILL: %v", err)
			}
			target := filepath.Join(t.TempDir(), "restored")
			if _, err := r.RestoreDirectory(ctx, repo, sum.SnapshotID, target, engine.RestoreOptions{}); err != nil {
				t.Fatal(err)
			}
			if hashTree(t, target) != hashTree(t, dir) {
				t.Fatal("restore after a killed backup differs")
			}
		})
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

type blockingReader struct{ done <-chan struct{} }

func (b blockingReader) Read([]byte) (int, error) {
	<-b.done
	return 0, io.EOF
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func expectKind(t *testing.T, err error, kind engine.Kind, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %q", kind)
	}
	if !errors.Is(err, kind) {
		t.Fatalf("error %q is %q, want %q", err, engine.KindOf(err), kind)
	}
	if !strings.Contains(err.Error(), msg) {
		t.Fatalf("error %q does not mention %q", err, msg)
	}
}

func TestUnreachableEndpointFailsInBoundedTime(t *testing.T) {
	s := servers.StartS3(t)
	s.CreateBucket(t, "coffer")
	r := newRestic(t)
	r.RetryTimeout = 2 * time.Second
	ctx := ctxFor(t)
	repo := repoAt(t, s.Backend("coffer", ""), "repo")
	if err := r.Init(ctx, repo); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	start := time.Now()
	_, err := r.BackupStream(ctx, repo, strings.NewReader("data"), engine.BackupOptions{})
	expectKind(t, err, engine.ErrUnreachable, "connection refused")
	t.Logf("after %s: %v", time.Since(start), err)
	if d := time.Since(start); d > time.Minute {
		t.Errorf("gave up only after %s", d)
	}
}
