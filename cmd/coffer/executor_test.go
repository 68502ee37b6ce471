package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crenvtest "sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	"github.com/cofferhq/coffer/api/shared"
	storagev1alpha1 "github.com/cofferhq/coffer/api/storage/v1alpha1"
	"github.com/cofferhq/coffer/bench/corpus"
	"github.com/cofferhq/coffer/controllers/backends"
	"github.com/cofferhq/coffer/engine"
	"github.com/cofferhq/coffer/engine/blob"
	"github.com/cofferhq/coffer/test/envtest"
	"github.com/cofferhq/coffer/test/servers"
)

// executorRole is config/rbac/executor_role.yaml, all the executor may do; the tests run it
// as a user bound to exactly these rules, so a request it needs but the Job's ServiceAccount
// would lack fails here.
func executorRole(t *testing.T, root string) *rbacv1.ClusterRole {
	data, err := os.ReadFile(filepath.Join(root, "config", "rbac", "executor_role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var role rbacv1.ClusterRole
	if err := yaml.Unmarshal(data, &role); err != nil {
		t.Fatal(err)
	}
	return &role
}

// harness runs the real `coffer backup` and `coffer restore` commands against envtest as a
// least-privileged user, with the pinned restic.
type harness struct {
	env        *envtest.Env
	kubeconfig string
	restic     string
}

func newHarness(t *testing.T, env *envtest.Env) *harness {
	ctx := context.Background()
	const user = "coffer-executor"
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: user}, Rules: executorRole(t, env.RepoRoot).Rules}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: user},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: user},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}},
	}
	for _, obj := range []client.Object{role, binding} {
		if err := env.Client.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	u, err := env.Environment.AddUser(crenvtest.User{Name: user}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := u.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	return &harness{env: env, kubeconfig: path, restic: servers.Tool(t, "restic")}
}

// result is what one run of a command produced.
type result struct {
	stdout, stderr string
	err            error
	took           time.Duration
}

// run executes `coffer <args>` (a command that runs restic) as the executor user.
func (h *harness) run(ctx context.Context, args ...string) result {
	return h.command(ctx, append(args, "--restic", h.restic, "--progress-interval", "100ms")...)
}

// command executes `coffer <args>` as the executor user.
func (h *harness) command(ctx context.Context, args ...string) result {
	root := newRootCommand()
	var stdout bytes.Buffer
	var stderr syncBuffer
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	root.SetIn(strings.NewReader(""))
	root.SetArgs(append(args, "--kubeconfig", h.kubeconfig))
	start := time.Now()
	err := root.ExecuteContext(ctx)
	return result{stdout: stdout.String(), stderr: stderr.String(), err: err, took: time.Since(start)}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fixture is a namespace with a BackupStorage, a Repository and its encryption Secret.
type fixture struct {
	h       *harness
	ns      string
	repo    string
	backend engine.Backend
}

const (
	testPassword = "correct horse battery staple"
	repoPath     = "demo/app"
)

// newFixture creates the objects; storage is the BackupStorage's spec.storage (its Secret, for
// S3, is made from backend).
func newFixture(t *testing.T, h *harness, backend engine.Backend) *fixture {
	ctx := context.Background()
	ns := h.env.Namespace(t)
	f := &fixture{h: h, ns: ns, repo: "app", backend: backend}
	objs := []client.Object{
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "encryption"},
			StringData: map[string]string{backends.KeyResticPassword: testPassword}},
	}
	storage := storagev1alpha1.Backend{}
	switch {
	case backend.Local != nil:
		storage.Provider = storagev1alpha1.ProviderLocal
		storage.Local = &storagev1alpha1.LocalSpec{MountPath: backend.Local.Path,
			VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}
	case backend.S3 != nil:
		s := backend.S3
		storage.Provider = storagev1alpha1.ProviderS3
		storage.S3 = &storagev1alpha1.S3Spec{Endpoint: s.Endpoint, Bucket: s.Bucket, Prefix: s.Prefix,
			Region: s.Region, SecretName: "s3"}
		objs = append(objs, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "s3"},
			StringData: map[string]string{backends.KeyAWSAccessKeyID: s.AccessKeyID, backends.KeyAWSSecretAccessKey: s.SecretAccessKey}})
	}
	objs = append(objs,
		&storagev1alpha1.BackupStorage{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "storage"},
			Spec: storagev1alpha1.BackupStorageSpec{Storage: storage}},
		&storagev1alpha1.Repository{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: f.repo},
			Spec: storagev1alpha1.RepositorySpec{
				AppRef:           shared.TypedObjectReference{APIGroup: "apps", Kind: "Deployment", Name: "app"},
				StorageRef:       shared.ObjectReference{Name: "storage"},
				Path:             "/" + repoPath,
				EncryptionSecret: &shared.ObjectReference{Name: "encryption"},
			}},
	)
	for _, obj := range objs {
		if err := h.env.Client.Create(ctx, obj); err != nil {
			t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
		}
	}
	return f
}

func localFixture(t *testing.T, h *harness) *fixture {
	return newFixture(t, h, engine.Backend{Local: &engine.LocalBackend{Path: t.TempDir()}})
}

// snapshot creates a Snapshot of the fixture's repository, as the backup controller would.
func (f *fixture) snapshot(t *testing.T, name string) {
	s := &storagev1alpha1.Snapshot{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: name},
		Spec: storagev1alpha1.SnapshotSpec{Repository: f.repo, Session: "daily", Version: "v1"}}
	if err := f.h.env.Client.Create(context.Background(), s); err != nil {
		t.Fatal(err)
	}
}

// restoreSession creates a RestoreSession of the fixture's repository.
func (f *fixture) restoreSession(t *testing.T, name, snapshot string, change ...func(*corev1alpha1.RestoreDataSource)) {
	rs := &corev1alpha1.RestoreSession{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: name},
		Spec: corev1alpha1.RestoreSessionSpec{DataSource: corev1alpha1.RestoreDataSource{Repository: f.repo, Snapshot: snapshot}}}
	for _, c := range change {
		c(&rs.Spec.DataSource)
	}
	if err := f.h.env.Client.Create(context.Background(), rs); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) backup(ctx context.Context, snapshot, component string, source ...string) result {
	return f.h.run(ctx, append([]string{"backup", "-n", f.ns, "--snapshot", snapshot, "--component", component}, source...)...)
}

func (f *fixture) restore(ctx context.Context, rs, component string, dest ...string) result {
	return f.h.run(ctx, append([]string{"restore", "-n", f.ns, "--restoresession", rs, "--component", component}, dest...)...)
}

func (f *fixture) component(t *testing.T, snapshot, component string) storagev1alpha1.Component {
	t.Helper()
	var s storagev1alpha1.Snapshot
	if err := f.h.env.Client.Get(context.Background(), client.ObjectKey{Namespace: f.ns, Name: snapshot}, &s); err != nil {
		t.Fatal(err)
	}
	c, ok := s.Status.Components[component]
	if !ok {
		t.Fatalf("Snapshot %s has no status.components[%s]: %+v", snapshot, component, s.Status)
	}
	return c
}

func (f *fixture) restoreComponent(t *testing.T, rs, component string) corev1alpha1.ComponentRestoreStatus {
	t.Helper()
	var s corev1alpha1.RestoreSession
	if err := f.h.env.Client.Get(context.Background(), client.ObjectKey{Namespace: f.ns, Name: rs}, &s); err != nil {
		t.Fatal(err)
	}
	c, ok := s.Status.Components[component]
	if !ok {
		t.Fatalf("RestoreSession %s has no status.components[%s]: %+v", rs, component, s.Status)
	}
	return c
}

// resticRepo is the component's restic repository, for looking at it with the engine directly.
func (f *fixture) resticRepo(component string) engine.Repo {
	return engine.Repo{Location: engine.Location{Backend: f.backend, Path: repoPath + "/" + engine.ComponentPath("v1", "daily", component)},
		Password: testPassword}
}

func (f *fixture) engine() *engine.Restic { return &engine.Restic{Binary: f.h.restic} }

// patchStatus merge-patches an object's status as the operator would.
func (f *fixture) patchStatus(t *testing.T, obj client.Object, status any) {
	data, err := json.Marshal(map[string]any{"status": status})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.h.env.Client.Status().Patch(context.Background(), obj, client.RawPatch(types.MergePatchType, data)); err != nil {
		t.Fatal(err)
	}
}

func mustSucceed(t *testing.T, what string, r result) {
	t.Helper()
	if r.err != nil {
		t.Fatalf("%s failed after %s: %v\nstderr:\n%s", what, r.took.Round(time.Millisecond), r.err, r.stderr)
	}
}

func mustFail(t *testing.T, what string, r result, within time.Duration) {
	t.Helper()
	if r.err == nil {
		t.Fatalf("%s succeeded, want a failure\nstderr:\n%s", what, r.stderr)
	}
	if r.took > within {
		t.Errorf("%s took %s to fail, want under %s", what, r.took.Round(time.Millisecond), within)
	}
}

func generate(t *testing.T, seed, size int64) (string, string) {
	dir := filepath.Join(t.TempDir(), "data")
	m, err := corpus.Generate(dir, corpus.Spec{Seed: seed, TotalBytes: size})
	if err != nil {
		t.Fatal(err)
	}
	return dir, m.Hash
}

func hashTree(t *testing.T, dir string) string {
	h, err := corpus.HashTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func randomFile(t *testing.T, seed byte, size int) (string, []byte) {
	data := make([]byte, size)
	_, _ = rand.NewChaCha8([32]byte{seed}).Read(data)
	p := filepath.Join(t.TempDir(), "dump.bin")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p, data
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

var resticID = regexp.MustCompile(`^[0-9a-f]{64}$`)

// TestExecutor runs `coffer backup` and `coffer restore` against a real API server and real
// backends. The cases are independent (a namespace and a backend root each) and run in parallel.
func TestExecutor(t *testing.T) {
	env := envtest.Start(t)
	h := newHarness(t, env)
	s3 := servers.StartS3(t)
	s3.CreateBucket(t, "coffer")

	t.Run("directory round trip local", func(t *testing.T) {
		t.Parallel()
		testDirectoryRoundTrip(t, h, engine.Backend{Local: &engine.LocalBackend{Path: t.TempDir()}}, "--verify-subset", "100%")
	})
	t.Run("directory round trip s3", func(t *testing.T) {
		t.Parallel()
		testDirectoryRoundTrip(t, h, s3.Backend("coffer", "backups/"+strings.ReplaceAll(t.Name(), "/", "-")))
	})
	t.Run("stream round trip through commands, and a wrong password", func(t *testing.T) {
		t.Parallel()
		testStreamRoundTrip(t, h)
	})
	t.Run("database round trip", func(t *testing.T) {
		t.Parallel()
		testPostgresRoundTrip(t, h)
	})
	t.Run("script verification", func(t *testing.T) {
		t.Parallel()
		testScriptVerification(t, h)
	})
	for _, typ := range []corev1alpha1.DatabaseType{corev1alpha1.DatabaseMariaDB, corev1alpha1.DatabaseRedis, corev1alpha1.DatabaseZooKeeper} {
		t.Run("database round trip "+string(typ), func(t *testing.T) {
			t.Parallel()
			testDatabaseRoundTrip(t, h, typ)
		})
	}
	t.Run("missing bucket", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, h, s3.Backend("no-such-bucket", "backups"))
		f.snapshot(t, "snap")
		r := f.backup(testContext(t), "snap", "data", "--path", t.TempDir())
		mustFail(t, "backup into a missing bucket", r, 20*time.Second)
		c := f.component(t, "snap", "data")
		t.Logf("after %s: %s", r.took.Round(time.Millisecond), c.Error)
		if c.Phase != storagev1alpha1.ComponentFailed || !strings.Contains(c.Error, "no-such-bucket") {
			t.Errorf("component = %s %q, want Failed naming the bucket", c.Phase, c.Error)
		}
		if _, err := os.Stat(filepath.Join(s3.Dir, "no-such-bucket")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("the bucket was created: %v", err)
		}
	})
	t.Run("unreachable endpoint", func(t *testing.T) {
		t.Parallel()
		dead := servers.StartS3(t)
		dead.CreateBucket(t, "coffer")
		dead.Stop()
		f := newFixture(t, h, dead.Backend("coffer", "backups"))
		f.snapshot(t, "snap")
		r := f.backup(testContext(t), "snap", "data", "--path", t.TempDir())
		mustFail(t, "backup to a stopped server", r, 30*time.Second)
		c := f.component(t, "snap", "data")
		t.Logf("after %s: %s", r.took.Round(time.Millisecond), c.Error)
		if c.Phase != storagev1alpha1.ComponentFailed || !strings.Contains(c.Error, "connection refused") && !strings.Contains(c.Error, "unreachable") {
			t.Errorf("component = %s %q, want Failed saying the endpoint is unreachable", c.Phase, c.Error)
		}
	})
	t.Run("failing command saves no snapshot", func(t *testing.T) {
		t.Parallel()
		f := localFixture(t, h)
		f.snapshot(t, "snap")
		file, _ := randomFile(t, 6, 2_000_000)
		ctx := testContext(t)
		r := f.backup(ctx, "snap", "dump", "--command", fmt.Sprintf("cat %q; echo 'pg_dump: connection lost' >&2; exit 1", file))
		mustFail(t, "backup of a failing command", r, time.Minute)
		if !strings.Contains(r.stderr, "pg_dump: connection lost") {
			t.Errorf("the command's stderr did not reach ours: %q", r.stderr)
		}
		c := f.component(t, "snap", "dump")
		t.Logf("after %s: %s", r.took.Round(time.Millisecond), c.Error)
		if c.Phase != storagev1alpha1.ComponentFailed || !strings.Contains(c.Error, "exit status 1") ||
			!strings.Contains(c.Error, "pg_dump: connection lost") {
			t.Errorf("component = %s %q, want Failed with the exit status and the command's last words", c.Phase, c.Error)
		}
		if len(c.ResticStats) != 0 {
			t.Errorf("a failed backup reports restic stats %+v", c.ResticStats)
		}
		snaps, err := f.engine().Snapshots(ctx, f.resticRepo("dump"), engine.SnapshotFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(snaps) != 0 {
			t.Errorf("the truncated stream was saved: %+v", snaps)
		}
	})
	t.Run("concurrent components", func(t *testing.T) {
		t.Parallel()
		f := localFixture(t, h)
		f.snapshot(t, "snap")
		ctx := testContext(t)
		dirs := map[string]string{}
		for i, comp := range []string{"pod-0", "pod-1"} {
			dirs[comp], _ = generate(t, int64(10+i), 1<<20)
		}
		var wg sync.WaitGroup
		results := map[string]result{}
		var mu sync.Mutex
		for comp, dir := range dirs {
			wg.Go(func() {
				r := f.backup(ctx, "snap", comp, "--path", dir)
				mu.Lock()
				results[comp] = r
				mu.Unlock()
			})
		}
		wg.Wait()
		ids := map[string]bool{}
		for comp := range dirs {
			mustSucceed(t, "backup of "+comp, results[comp])
			c := f.component(t, "snap", comp)
			if c.Phase != storagev1alpha1.ComponentSucceeded || len(c.ResticStats) != 1 || c.ResticStats[0].Summary == nil {
				t.Fatalf("component %s = %+v, want Succeeded with a summary", comp, c)
			}
			ids[c.ResticStats[0].Summary.ID] = true
		}
		if len(ids) != 2 {
			t.Errorf("the components share a restic snapshot ID: %v", ids)
		}
	})
	t.Run("terminated", func(t *testing.T) {
		t.Parallel()
		f := localFixture(t, h)
		f.snapshot(t, "snap")
		ctx, cancel := context.WithCancel(testContext(t))
		defer cancel()
		done := make(chan result, 1)
		go func() { done <- f.backup(ctx, "snap", "dump", "--command", "echo partial; sleep 60") }()
		// Progress is reported once restic backs up, so the repository exists by then.
		eventually(t, "progress of the running backup", func() error {
			var s storagev1alpha1.Snapshot
			if err := env.Client.Get(ctx, client.ObjectKey{Namespace: f.ns, Name: "snap"}, &s); err != nil {
				return err
			}
			c := s.Status.Components["dump"]
			if c.Phase != storagev1alpha1.ComponentRunning || len(c.ResticStats) == 0 || c.ResticStats[0].Progress == nil {
				return fmt.Errorf("phase %q, stats %+v", c.Phase, c.ResticStats)
			}
			return nil
		})
		cancel()
		r := <-done
		mustFail(t, "terminated backup", r, 30*time.Second)
		c := f.component(t, "snap", "dump")
		t.Logf("after %s: %s", r.took.Round(time.Millisecond), c.Error)
		if c.Phase != storagev1alpha1.ComponentFailed || !strings.HasPrefix(c.Error, "executor terminated: ") {
			t.Errorf("component = %s %q, want Failed: executor terminated", c.Phase, c.Error)
		}
		snaps, err := f.engine().Snapshots(testContext(t), f.resticRepo("dump"), engine.SnapshotFilter{})
		if err != nil || len(snaps) != 0 {
			t.Errorf("snapshots after termination = %v, %v; want none", snaps, err)
		}
	})
}

// testDirectoryRoundTrip backs a tree up, restores it by name and as "latest", bit-exact, and
// checks what the statuses say.
func testDirectoryRoundTrip(t *testing.T, h *harness, backend engine.Backend, backupArgs ...string) {
	ctx := testContext(t)
	f := newFixture(t, h, backend)
	dir, want := generate(t, 1, 4<<20)
	f.snapshot(t, "snap-1")
	r := f.backup(ctx, "snap-1", "data", append([]string{"--path", dir, "--exclude", "*.nothing", "--cache-dir", t.TempDir()}, backupArgs...)...)
	mustSucceed(t, "backup", r)

	c := f.component(t, "snap-1", "data")
	if c.Phase != storagev1alpha1.ComponentSucceeded || c.Error != "" {
		t.Errorf("phase %s, error %q; want Succeeded", c.Phase, c.Error)
	}
	if c.Path != "repository/v1/daily/data" || c.Driver != shared.DriverRestic {
		t.Errorf("path %q, driver %q", c.Path, c.Driver)
	}
	if c.SizeBytes == nil || *c.SizeBytes != 4<<20 || c.Size != "4.000 MiB" {
		t.Errorf("size %q, sizeBytes %v; want 4.000 MiB, %d", c.Size, c.SizeBytes, 4<<20)
	}
	if c.Integrity == nil || !*c.Integrity {
		t.Errorf("integrity %v, want true", c.Integrity)
	}
	if c.Duration == "" {
		t.Error("no duration")
	}
	if len(c.ResticStats) != 1 || c.ResticStats[0].Summary == nil {
		t.Fatalf("resticStats %+v, want one summary", c.ResticStats)
	}
	sum := c.ResticStats[0].Summary
	if !resticID.MatchString(sum.ID) || sum.HostPath != dir || sum.Size != "4.000 MiB" || sum.Uploaded == "" ||
		sum.StartTime == nil || sum.EndTime == nil || sum.EndTime.Before(sum.StartTime) {
		t.Errorf("summary %+v", sum)
	}

	// The restic repository is where the layout puts it.
	bk, err := blob.Open(ctx, backend)
	if err != nil {
		t.Fatal(err)
	}
	defer bk.Close()
	if ok, err := bk.Exists(ctx, repoPath+"/repository/v1/daily/data/config"); !ok || err != nil {
		t.Errorf("no restic config at %s/repository/v1/daily/data: %v", repoPath, err)
	}

	// By name.
	f.restoreSession(t, "by-name", "snap-1")
	target := filepath.Join(t.TempDir(), "restored")
	mustSucceed(t, "restore", f.restore(ctx, "by-name", "data", "--target", target))
	if got := hashTree(t, target); got != want {
		t.Fatal("the restored tree differs from the original")
	}
	rc := f.restoreComponent(t, "by-name", "data")
	if rc.Phase != storagev1alpha1.ComponentSucceeded || rc.Error != "" || rc.Duration == "" ||
		rc.Progress == nil || rc.Progress.PercentDone != "100.0%" || rc.Progress.BytesDone != 4<<20 {
		t.Errorf("restore component %+v (progress %+v)", rc, rc.Progress)
	}

	// "latest" passes over a newer failed Snapshot and a newer Snapshot of another repository.
	future := func(d time.Duration) *metav1.Time { return new(metav1.NewTime(time.Now().Add(d))) }
	f.snapshot(t, "snap-2-failed")
	f.patchStatus(t, &storagev1alpha1.Snapshot{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "snap-2-failed"}},
		storagev1alpha1.SnapshotStatus{SnapshotTime: future(time.Hour),
			Components: map[string]storagev1alpha1.Component{"data": {Phase: storagev1alpha1.ComponentFailed}}})
	other := &storagev1alpha1.Snapshot{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "other-repo"},
		Spec: storagev1alpha1.SnapshotSpec{Repository: "other", Session: "daily"}}
	if err := h.env.Client.Create(ctx, other); err != nil {
		t.Fatal(err)
	}
	f.patchStatus(t, other, storagev1alpha1.SnapshotStatus{SnapshotTime: future(2 * time.Hour),
		Components: map[string]storagev1alpha1.Component{"data": {Phase: storagev1alpha1.ComponentSucceeded,
			ResticStats: []storagev1alpha1.ResticStats{{Summary: &storagev1alpha1.ResticSummary{ID: strings.Repeat("0", 64)}}}}}})
	f.restoreSession(t, "latest", corev1alpha1.LatestSnapshot)
	target = filepath.Join(t.TempDir(), "latest")
	r = f.restore(ctx, "latest", "data", "--target", target)
	mustSucceed(t, "restore of latest", r)
	if !strings.Contains(r.stderr, "Snapshot "+f.ns+"/snap-1") {
		t.Errorf("latest did not resolve to snap-1: %s", r.stderr)
	}
	if got := hashTree(t, target); got != want {
		t.Fatal("the tree restored as latest differs from the original")
	}
}

// testStreamRoundTrip backs up a command's output (reporting progress while it runs), restores
// it into a command and to stdout, and then fails a restore with the wrong password.
func testStreamRoundTrip(t *testing.T, h *harness) {
	ctx := testContext(t)
	f := localFixture(t, h)
	file, data := randomFile(t, 2, 3_000_000)
	want := append(append([]byte{}, data...), data...)
	f.snapshot(t, "snap")

	// Watch for a progress report while the command pauses halfway.
	sawProgress := make(chan *storagev1alpha1.ResticProgress, 1)
	watchCtx, stopWatch := context.WithCancel(ctx)
	go func() {
		defer close(sawProgress)
		for watchCtx.Err() == nil {
			var s storagev1alpha1.Snapshot
			if h.env.Client.Get(watchCtx, client.ObjectKey{Namespace: f.ns, Name: "snap"}, &s) == nil {
				if st := s.Status.Components["dump"].ResticStats; len(st) == 1 && st[0].Progress != nil {
					sawProgress <- st[0].Progress
					return
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	r := f.backup(ctx, "snap", "dump", "--command", fmt.Sprintf("cat %q; sleep 1; cat %q", file, file), "--stdin-filename", "dump.sql")
	stopWatch()
	mustSucceed(t, "stream backup", r)
	if p := <-sawProgress; p == nil {
		t.Error("no progress was written while the backup ran")
	}
	c := f.component(t, "snap", "dump")
	if c.Phase != storagev1alpha1.ComponentSucceeded || c.SizeBytes == nil || *c.SizeBytes != int64(len(want)) ||
		c.Integrity == nil || !*c.Integrity || len(c.ResticStats) != 1 || c.ResticStats[0].Summary == nil ||
		c.ResticStats[0].Summary.HostPath != "/dump.sql" || c.ResticStats[0].Progress != nil {
		t.Fatalf("component %+v", c)
	}

	f.restoreSession(t, "into-command", "snap")
	out := filepath.Join(t.TempDir(), "restored.sql")
	mustSucceed(t, "restore into a command", f.restore(ctx, "into-command", "dump", "--command", fmt.Sprintf("cat > %q", out)))
	if got, err := os.ReadFile(out); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("the command received %d bytes (%v), want the %d backed up", len(got), err, len(want))
	}
	if rc := f.restoreComponent(t, "into-command", "dump"); rc.Phase != storagev1alpha1.ComponentSucceeded {
		t.Errorf("restore component %+v", rc)
	}

	f.restoreSession(t, "to-stdout", "snap")
	r = f.restore(ctx, "to-stdout", "dump", "--stdout")
	mustSucceed(t, "restore to stdout", r)
	if !bytes.Equal([]byte(r.stdout), want) {
		t.Fatalf("stdout has %d bytes, want the %d backed up", len(r.stdout), len(want))
	}

	// A command that fails fails the restore.
	f.restoreSession(t, "failing-command", "snap")
	r = f.restore(ctx, "failing-command", "dump", "--command", "head -c 10 >/dev/null; echo 'psql: relation exists' >&2; exit 3")
	mustFail(t, "restore into a failing command", r, time.Minute)
	rc := f.restoreComponent(t, "failing-command", "dump")
	t.Logf("failing command after %s: %s", r.took.Round(time.Millisecond), rc.Error)
	if rc.Phase != storagev1alpha1.ComponentFailed ||
		!strings.Contains(rc.Error, "exit status 3") || !strings.Contains(rc.Error, "psql: relation exists") {
		t.Errorf("restore component = %s %q, want Failed with the command's exit status and words", rc.Phase, rc.Error)
	}
	if strings.Contains(rc.Error, "head -c 10") {
		t.Errorf("the error quotes the --command script, which may hold credentials: %q", rc.Error)
	}

	// The RestoreSession's own encryption Secret, holding another password.
	wrong := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "wrong"},
		StringData: map[string]string{backends.KeyResticPassword: "not the password"}}
	if err := h.env.Client.Create(ctx, wrong); err != nil {
		t.Fatal(err)
	}
	f.restoreSession(t, "wrong-password", "snap", func(ds *corev1alpha1.RestoreDataSource) {
		ds.EncryptionSecret = &shared.ObjectReference{Name: "wrong"}
	})
	r = f.restore(ctx, "wrong-password", "dump", "--stdout")
	mustFail(t, "restore with the wrong password", r, time.Minute)
	if r.stdout != "" {
		t.Errorf("a failed restore wrote %d bytes", len(r.stdout))
	}
	rc = f.restoreComponent(t, "wrong-password", "dump")
	t.Logf("wrong password after %s: %s", r.took.Round(time.Millisecond), rc.Error)
	if rc.Phase != storagev1alpha1.ComponentFailed || !strings.Contains(rc.Error, "wrong password") {
		t.Errorf("restore component = %s %q, want Failed: wrong password", rc.Phase, rc.Error)
	}

	// A component that did not succeed (say, its integrity check failed) is not restored.
	f.patchStatus(t, &storagev1alpha1.Snapshot{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "snap"}},
		map[string]any{"components": map[string]any{"dump": map[string]any{"phase": "Failed", "error": "repository damaged"}}})
	f.restoreSession(t, "damaged", "snap")
	r = f.restore(ctx, "damaged", "dump", "--stdout")
	mustFail(t, "restore of a failed component", r, time.Minute)
	if rc = f.restoreComponent(t, "damaged", "dump"); rc.Phase != storagev1alpha1.ComponentFailed || !strings.Contains(rc.Error, "not Succeeded") {
		t.Errorf("restore component = %s %q, want Failed: the component is not Succeeded", rc.Phase, rc.Error)
	}
}

func TestFlags(t *testing.T) {
	tests := map[string]struct {
		args    []string
		wantErr string
	}{
		"backup with two sources": {args: []string{"backup", "-n", "ns", "--snapshot", "s", "--component", "c", "--path", "/d", "--stdin"},
			wantErr: "none of the others can be"},
		"backup without a source": {args: []string{"backup", "-n", "ns", "--snapshot", "s", "--component", "c"},
			wantErr: "at least one of the flags in the group [path stdin command app-binding] is required"},
		"backup exclude without path": {args: []string{"backup", "-n", "ns", "--snapshot", "s", "--component", "c", "--stdin", "--exclude", "x"},
			wantErr: "--exclude applies only to --path"},
		"backup without a component": {args: []string{"backup", "-n", "ns", "--snapshot", "s", "--stdin"},
			wantErr: "--component is required"},
		"restore without a destination": {args: []string{"restore", "-n", "ns", "--restoresession", "r", "--component", "c"},
			wantErr: "at least one of the flags in the group [target stdout command app-binding] is required"},
		"restore without a session": {args: []string{"restore", "-n", "ns", "--component", "c", "--stdout"},
			wantErr: `required flag(s) "restoresession" not set`},
	}
	t.Setenv("COMPONENT_NAME", "")
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			root := newRootCommand()
			root.SetArgs(tc.args)
			root.SetOut(io.Discard)
			root.SetErr(io.Discard)
			err := root.Execute()
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}
