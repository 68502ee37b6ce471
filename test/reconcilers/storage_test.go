package reconcilers

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/cofferhq/coffer/api/shared"
	storagev1alpha1 "github.com/cofferhq/coffer/api/storage/v1alpha1"
	"github.com/cofferhq/coffer/controllers/backends"
	"github.com/cofferhq/coffer/test/servers"
)

const wait = 30 * time.Second

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// create creates the objects and, when the test ends, deletes them and waits until their
// finalizers ran, so no controller writes into a test's directory after it is removed.
func create(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := env.Client.Create(context.Background(), o); err != nil {
			t.Fatalf("creating %T %s: %v", o, o.GetName(), err)
		}
		t.Cleanup(func() {
			if err := env.Client.Delete(context.Background(), o); client.IgnoreNotFound(err) != nil {
				t.Errorf("deleting %s: %v", o.GetName(), err)
				return
			}
			gone(t, o)
		})
	}
}

// updateStatus applies mutate to the latest version of obj's status, retrying on conflicts with
// the controllers.
func updateStatus[T client.Object](t *testing.T, obj T, mutate func(T)) {
	t.Helper()
	update(t, obj, mutate, env.Client.Status().Update)
}

func localStorage(ns, name, dir string, mods ...func(*storagev1alpha1.BackupStorage)) *storagev1alpha1.BackupStorage {
	bs := &storagev1alpha1.BackupStorage{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: storagev1alpha1.BackupStorageSpec{Storage: storagev1alpha1.Backend{Provider: storagev1alpha1.ProviderLocal,
			Local: &storagev1alpha1.LocalSpec{MountPath: dir, VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: dir}}}}}}
	for _, m := range mods {
		m(bs)
	}
	return bs
}

func s3Storage(ns, name string, s *servers.S3, bucket, prefix, secret string) *storagev1alpha1.BackupStorage {
	return &storagev1alpha1.BackupStorage{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: storagev1alpha1.BackupStorageSpec{Storage: storagev1alpha1.Backend{Provider: storagev1alpha1.ProviderS3,
			S3: &storagev1alpha1.S3Spec{Endpoint: s.Endpoint, Bucket: bucket, Prefix: prefix, SecretName: secret, Region: "us-east-1"}}}}
}

func s3Secret(ns, name string, s *servers.S3) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, StringData: map[string]string{
		backends.KeyAWSAccessKeyID: s.AccessKey, backends.KeyAWSSecretAccessKey: s.SecretKey}}
}

func encryptionSecret(ns, name string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		StringData: map[string]string{backends.KeyResticPassword: "s3cret"}}
}

func newRepository(ns, name, storage, path string, mods ...func(*storagev1alpha1.Repository)) *storagev1alpha1.Repository {
	r := &storagev1alpha1.Repository{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: storagev1alpha1.RepositorySpec{
			AppRef:           shared.TypedObjectReference{APIGroup: "apps", Kind: "Deployment", Name: "app", Namespace: ns},
			StorageRef:       shared.ObjectReference{Name: storage, Namespace: ns},
			Path:             path,
			EncryptionSecret: &shared.ObjectReference{Name: "encryption", Namespace: ns}}}
	for _, m := range mods {
		m(r)
	}
	return r
}

// updateSpec applies mutate to the latest version of obj, retrying on conflicts with the
// controllers.
func updateSpec[T client.Object](t *testing.T, obj T, mutate func(T)) {
	t.Helper()
	update(t, obj, mutate, func(ctx context.Context, o client.Object, _ ...client.SubResourceUpdateOption) error {
		return env.Client.Update(ctx, o)
	})
}

func update[T client.Object](t *testing.T, obj T, mutate func(T), write func(context.Context, client.Object, ...client.SubResourceUpdateOption) error) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		mutate(obj)
		return write(context.Background(), obj)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// eventually polls get until cond holds, failing with the last object seen.
func eventually[T client.Object](t *testing.T, obj T, what string, cond func(T) bool) T {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)
		if err == nil && cond(obj) {
			return obj
		}
		if time.Now().After(deadline) {
			data, _ := yaml.Marshal(obj)
			t.Fatalf("%s: not reached in %s (get: %v); last seen:\n%s", what, wait, err, data)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func gone(t *testing.T, obj client.Object) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)
		if apierrors.IsNotFound(err) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s %s still exists after %s (finalizers %v)", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetName(), wait, obj.GetFinalizers())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func storageReady(bs *storagev1alpha1.BackupStorage) bool {
	return bs.Status.Phase == storagev1alpha1.BackupStorageReady
}

func repoReady(r *storagev1alpha1.Repository) bool {
	return r.Status.Phase == storagev1alpha1.RepositoryReady
}

func condMessage(conds []metav1.Condition, t shared.ConditionType) string {
	if c := shared.FindCondition(conds, t); c != nil {
		return string(c.Status) + ": " + c.Message
	}
	return ""
}

func TestLocalStorageAndRepositoryBecomeReady(t *testing.T) {
	ns := env.Namespace(t)
	root := t.TempDir()
	create(t, encryptionSecret(ns, "encryption"), localStorage(ns, "local", root))
	bs := eventually(t, &storagev1alpha1.BackupStorage{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "local"}}, "storage Ready", storageReady)
	if shared.HasCondition(bs.Status.Conditions, storagev1alpha1.TypeBackendSecretFound) {
		t.Errorf("a backend without a Secret reports BackendSecretFound")
	}
	meta := readYAML[backends.BackendMeta](t, filepath.Join(root, "metadata.yaml"))
	if meta.Kind != "BackendMeta" || meta.OperatorVersion != "test" || meta.CreationTimestamp.IsZero() {
		t.Errorf("metadata.yaml = %+v", meta)
	}

	create(t, newRepository(ns, "app", "local", "/demo/app"))
	repo := eventually(t, &storagev1alpha1.Repository{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app"}}, "repository Ready", repoReady)
	stored := readYAML[backends.StoredRepository](t, filepath.Join(root, "demo/app/repository.yaml"))
	if stored.Metadata.Name != "app" || stored.Metadata.Namespace != ns || stored.Spec.Path != "/demo/app" || stored.Kind != "Repository" {
		t.Errorf("repository.yaml = %+v", stored)
	}
	if repo.Status.SnapshotCount == nil || *repo.Status.SnapshotCount != 0 || repo.Status.ObservedGeneration != repo.Generation {
		t.Errorf("repository status = %+v", repo.Status)
	}

	// The storage lists the repository with its size, and metadata.yaml names its directory.
	bs = eventually(t, bs, "storage lists the repository", func(bs *storagev1alpha1.BackupStorage) bool {
		return len(bs.Status.Repositories) == 1 && bs.Status.Repositories[0].Size != ""
	})
	if info := bs.Status.Repositories[0]; info.Name != "app" || info.Namespace != ns || info.Path != "demo/app" || bs.Status.TotalSize == "" {
		t.Errorf("repositories = %+v, totalSize %q", bs.Status.Repositories, bs.Status.TotalSize)
	}
	meta = readYAML[backends.BackendMeta](t, filepath.Join(root, "metadata.yaml"))
	if len(meta.Repositories) != 1 || meta.Repositories[0].Directory != "demo/app" {
		t.Errorf("metadata.yaml repositories = %+v", meta.Repositories)
	}
}

func TestS3StorageWaitsForItsSecret(t *testing.T) {
	ns := env.Namespace(t)
	s := servers.StartS3(t)
	s.CreateBucket(t, "backups")
	create(t, s3Storage(ns, "s3", s, "backups", "/team/prod/", "s3-creds"))
	key := &storagev1alpha1.BackupStorage{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "s3"}}
	bs := eventually(t, key, "secret reported missing", func(bs *storagev1alpha1.BackupStorage) bool {
		return shared.IsFalse(bs.Status.Conditions, storagev1alpha1.TypeBackendSecretFound)
	})
	if msg := condMessage(bs.Status.Conditions, storagev1alpha1.TypeBackendSecretFound); !strings.Contains(msg, ns+"/s3-creds does not exist") {
		t.Errorf("BackendSecretFound = %q", msg)
	}
	if bs.Status.Phase != storagev1alpha1.BackupStorageNotReady {
		t.Errorf("phase = %q", bs.Status.Phase)
	}

	// A Secret without the secret key is named as lacking it.
	incomplete := s3Secret(ns, "s3-creds", s)
	delete(incomplete.StringData, backends.KeyAWSSecretAccessKey)
	create(t, incomplete)
	eventually(t, key, "missing key named", func(bs *storagev1alpha1.BackupStorage) bool {
		return strings.Contains(condMessage(bs.Status.Conditions, storagev1alpha1.TypeBackendSecretFound), "lacks AWS_SECRET_ACCESS_KEY")
	})

	incomplete.StringData = map[string]string{backends.KeyAWSSecretAccessKey: s.SecretKey}
	if err := env.Client.Update(context.Background(), incomplete); err != nil {
		t.Fatal(err)
	}
	eventually(t, key, "storage Ready once the Secret is complete", storageReady)
	if _, err := os.Stat(filepath.Join(s.Dir, "backups/team/prod/metadata.yaml")); err != nil {
		t.Fatalf("metadata.yaml is not in the bucket under the prefix: %v", err)
	}

	create(t, encryptionSecret(ns, "encryption"), newRepository(ns, "db", "s3", "demo/db"))
	eventually(t, &storagev1alpha1.Repository{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "db"}}, "repository Ready", repoReady)
	if _, err := os.Stat(filepath.Join(s.Dir, "backups/team/prod/demo/db/repository.yaml")); err != nil {
		t.Fatalf("repository.yaml is not in the bucket: %v", err)
	}
}

func TestBackendProblemsAreReported(t *testing.T) {
	ns := env.Namespace(t)
	s := servers.StartS3(t)
	create(t, s3Secret(ns, "creds", s), s3Storage(ns, "nobucket", s, "missing", "", "creds"))
	bs := eventually(t, &storagev1alpha1.BackupStorage{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "nobucket"}}, "missing bucket reported",
		func(bs *storagev1alpha1.BackupStorage) bool {
			return shared.IsFalse(bs.Status.Conditions, storagev1alpha1.TypeBackendInitialized)
		})
	if msg := condMessage(bs.Status.Conditions, storagev1alpha1.TypeBackendInitialized); !strings.Contains(strings.ToLower(msg), "bucket") {
		t.Errorf("BackendInitialized = %q, want the missing bucket named", msg)
	}
	if _, err := os.Stat(filepath.Join(s.Dir, "missing")); err == nil {
		t.Error("the controller created the missing bucket")
	}

	// A repository on a storage that is not ready says so; one without a password says which key.
	create(t, encryptionSecret(ns, "encryption"), newRepository(ns, "r1", "nobucket", "r1"))
	eventually(t, &storagev1alpha1.Repository{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "r1"}}, "storage not ready named",
		func(r *storagev1alpha1.Repository) bool {
			return strings.Contains(condMessage(r.Status.Conditions, storagev1alpha1.TypeRepositoryInitialized), "nobucket is not Ready")
		})

	root := t.TempDir()
	create(t, localStorage(ns, "local", root))
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "nopass"}, StringData: map[string]string{"other": "x"}},
		newRepository(ns, "r2", "local", "r2", func(r *storagev1alpha1.Repository) { r.Spec.EncryptionSecret.Name = "nopass" }))
	eventually(t, &storagev1alpha1.Repository{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "r2"}}, "missing password named",
		func(r *storagev1alpha1.Repository) bool {
			return strings.Contains(condMessage(r.Status.Conditions, storagev1alpha1.TypeRepositoryInitialized), "lacks RESTIC_PASSWORD") &&
				r.Status.Phase == storagev1alpha1.RepositoryNotReady
		})
	if _, err := os.Stat(filepath.Join(root, "r2/repository.yaml")); err == nil {
		t.Error("repository.yaml was written for a repository without a password")
	}
}

func TestUsagePolicyIsEnforced(t *testing.T) {
	ns := env.Namespace(t)
	other := env.Namespace(t)
	root := t.TempDir()
	// The default usage policy admits only the storage's own namespace.
	same := shared.NamespacesFromSame
	create(t, localStorage(ns, "local", root, func(bs *storagev1alpha1.BackupStorage) {
		bs.Spec.UsagePolicy = &shared.UsagePolicy{AllowedNamespaces: shared.AllowedNamespaces{From: &same}}
	}))
	create(t, encryptionSecret(other, "encryption"), newRepository(other, "app", "local", "other/app", func(r *storagev1alpha1.Repository) {
		r.Spec.StorageRef.Namespace = ns
	}))
	eventually(t, &storagev1alpha1.Repository{ObjectMeta: metav1.ObjectMeta{Namespace: other, Name: "app"}}, "usage policy refusal",
		func(r *storagev1alpha1.Repository) bool {
			return strings.Contains(condMessage(r.Status.Conditions, storagev1alpha1.TypeRepositoryInitialized), "does not allow namespace")
		})
}

func TestStorageOverExistingDataRecreatesObjects(t *testing.T) {
	ns := env.Namespace(t)
	root := t.TempDir()
	// Files as another cluster left them: metadata.yaml, a repository and one snapshot.
	snapTime := metav1.NewTime(time.Date(2026, 11, 1, 2, 0, 0, 0, time.UTC))
	writeYAML(t, filepath.Join(root, "metadata.yaml"), backends.NewBackendMeta("old", time.Now()))
	oldRepo := newRepository(ns, "app", "elsewhere", "demo/app")
	writeYAML(t, filepath.Join(root, "demo/app/repository.yaml"), backends.StoreRepository(oldRepo))
	snap := &storagev1alpha1.Snapshot{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app-daily-1"},
		Spec: storagev1alpha1.SnapshotSpec{Repository: "app", Session: "daily", Version: "v1", DeletionPolicy: storagev1alpha1.DeletionPolicyDelete},
		Status: storagev1alpha1.SnapshotStatus{Phase: storagev1alpha1.SnapshotSucceeded, SnapshotTime: &snapTime, TotalComponents: 1,
			Components: map[string]storagev1alpha1.Component{"data": {Path: "repository/v1/daily/data", Phase: storagev1alpha1.ComponentSucceeded,
				ResticStats: []storagev1alpha1.ResticStats{{Summary: &storagev1alpha1.ResticSummary{ID: "abc123"}}}}}}}
	writeYAML(t, filepath.Join(root, "demo/app/snapshots/app-daily-1.yaml"), backends.StoreSnapshot(snap))

	// What must not be re-created: a repository in a namespace this cluster lacks, and a
	// repository.yaml that is not one.
	writeYAML(t, filepath.Join(root, "elsewhere/app/repository.yaml"), backends.StoreRepository(newRepository("no-such-namespace", "app", "x", "elsewhere/app")))
	if err := os.MkdirAll(filepath.Join(root, "demo/broken"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "demo/broken/repository.yaml"), []byte("{not yaml"), 0o644); err != nil {
		t.Fatal(err)
	}

	create(t, encryptionSecret(ns, "encryption"), localStorage(ns, "restored", root))
	eventually(t, &storagev1alpha1.BackupStorage{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "restored"}}, "storage Ready", storageReady)

	repo := eventually(t, &storagev1alpha1.Repository{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app"}}, "repository re-created and Ready", repoReady)
	if repo.Spec.StorageRef.Name != "restored" || repo.Spec.Path != "demo/app" {
		t.Errorf("re-created repository spec = %+v", repo.Spec)
	}
	got := eventually(t, &storagev1alpha1.Snapshot{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app-daily-1"}}, "snapshot re-created with status",
		func(s *storagev1alpha1.Snapshot) bool { return s.Status.Phase == storagev1alpha1.SnapshotSucceeded })
	if id := got.Status.Components["data"].ResticStats[0].Summary.ID; id != "abc123" {
		t.Errorf("snapshot component lost its restic ID: %q", id)
	}
	repo = eventually(t, repo, "repository counts the snapshot", func(r *storagev1alpha1.Repository) bool {
		return r.Status.SnapshotCount != nil && *r.Status.SnapshotCount == 1 && r.Status.LastBackupTime != nil
	})
	if len(repo.Status.ComponentPaths) != 1 || repo.Status.ComponentPaths[0] != "repository/v1/daily/data" {
		t.Errorf("componentPaths = %v", repo.Status.ComponentPaths)
	}
	bs := eventually(t, &storagev1alpha1.BackupStorage{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "restored"}}, "synced repository listed",
		func(bs *storagev1alpha1.BackupStorage) bool {
			return len(bs.Status.Repositories) == 1 && bs.Status.Repositories[0].Synced != nil && *bs.Status.Repositories[0].Synced
		})
	if _, ok := bs.Annotations[backends.SyncedAnnotation]; !ok {
		t.Error("the storage does not record that it synced, so an outage would sync again")
	}

	// A repository deleted with policy Delete is not brought back by the storage later.
	if err := env.Client.Delete(context.Background(), repo); err != nil {
		t.Fatal(err)
	}
	gone(t, repo)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(bs), bs); err != nil {
			return err
		}
		bs.Spec.RuntimeSettings = &shared.RuntimeSettings{} // any spec change: a new reconcile
		return env.Client.Update(context.Background(), bs)
	})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, bs, "storage reconciled", func(bs *storagev1alpha1.BackupStorage) bool {
		return bs.Status.ObservedGeneration == bs.Generation && len(bs.Status.Repositories) == 0
	})
	if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(repo), repo); !apierrors.IsNotFound(err) {
		t.Errorf("a deleted repository came back: %v", err)
	}
}

func TestDeletionPolicies(t *testing.T) {
	ns := env.Namespace(t)
	keepRoot, wipeRoot := t.TempDir(), t.TempDir()
	create(t, encryptionSecret(ns, "encryption"),
		localStorage(ns, "keep", keepRoot),
		localStorage(ns, "wipe", wipeRoot, func(bs *storagev1alpha1.BackupStorage) {
			bs.Spec.DeletionPolicy = storagev1alpha1.BackupStorageWipeOut
		}),
		newRepository(ns, "kept", "keep", "kept"),
		newRepository(ns, "wiped", "wipe", "wiped", func(r *storagev1alpha1.Repository) { r.Spec.DeletionPolicy = storagev1alpha1.DeletionPolicyWipeOut }),
		newRepository(ns, "alone", "keep", "alone", func(r *storagev1alpha1.Repository) { r.Spec.DeletionPolicy = storagev1alpha1.DeletionPolicyWipeOut }),
	)
	for _, name := range []string{"kept", "wiped", "alone"} {
		eventually(t, &storagev1alpha1.Repository{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}, name+" Ready", repoReady)
	}
	// Restic data the executor would have written.
	for _, f := range []string{filepath.Join(keepRoot, "kept/repository/v1/daily/data/config"), filepath.Join(wipeRoot, "wiped/repository/v1/daily/data/config"),
		filepath.Join(keepRoot, "alone/repository/v1/daily/data/config")} {
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte("restic"), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	// A WipeOut repository takes its directory with it; its storage's other data stays.
	alone := &storagev1alpha1.Repository{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "alone"}}
	if err := env.Client.Delete(context.Background(), alone); err != nil {
		t.Fatal(err)
	}
	gone(t, alone)
	if _, err := os.Stat(filepath.Join(keepRoot, "alone")); !os.IsNotExist(err) {
		t.Errorf("WipeOut repository left its directory: %v", err)
	}

	// Delete policy: the storage's Repositories go, the files stay.
	keep := &storagev1alpha1.BackupStorage{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "keep"}}
	if err := env.Client.Delete(context.Background(), keep); err != nil {
		t.Fatal(err)
	}
	gone(t, keep)
	gone(t, &storagev1alpha1.Repository{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "kept"}})
	for _, f := range []string{"metadata.yaml", "kept/repository.yaml", "kept/repository/v1/daily/data/config"} {
		if _, err := os.Stat(filepath.Join(keepRoot, f)); err != nil {
			t.Errorf("Delete policy lost %s: %v", f, err)
		}
	}

	// WipeOut: everything this storage wrote goes; what others wrote on the same root stays.
	foreign := filepath.Join(wipeRoot, "kubestash/app/repository.yaml")
	writeYAML(t, foreign, backends.StoreRepository(newRepository(ns, "theirs", "other", "kubestash/app")))
	wipe := &storagev1alpha1.BackupStorage{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "wipe"}}
	if err := env.Client.Delete(context.Background(), wipe); err != nil {
		t.Fatal(err)
	}
	gone(t, wipe)
	if _, err := os.Stat(foreign); err != nil {
		t.Errorf("WipeOut deleted another installation's repository: %v", err)
	}
	entries, _ := os.ReadDir(wipeRoot)
	if len(entries) != 1 || entries[0].Name() != "kubestash" {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("WipeOut left %v in the backend", names)
	}
}

func readYAML[T any](t *testing.T, file string) *T {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var v T
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return &v
}

func writeYAML(t *testing.T, file string, v any) {
	t.Helper()
	data, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestSnapshotFileFollowsTheObject(t *testing.T) {
	ns := env.Namespace(t)
	root := t.TempDir()
	create(t, encryptionSecret(ns, "encryption"), localStorage(ns, "local", root), newRepository(ns, "app", "local", "demo/app"))
	eventually(t, &storagev1alpha1.Repository{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app"}}, "repository Ready", repoReady)

	snap := &storagev1alpha1.Snapshot{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app-daily-1"},
		Spec: storagev1alpha1.SnapshotSpec{Repository: "app", Session: "daily"}}
	create(t, snap)
	file := filepath.Join(root, "demo/app/snapshots/app-daily-1.yaml")
	eventually(t, snap, "pending snapshot uploaded", func(s *storagev1alpha1.Snapshot) bool {
		return shared.IsTrue(s.Status.Conditions, storagev1alpha1.TypeSnapshotMetadataUploaded) && s.Status.Phase == storagev1alpha1.SnapshotPending
	})
	if _, err := os.Stat(file); err != nil {
		t.Fatalf("snapshot file missing: %v", err)
	}

	// Two components report as executors do; the snapshot succeeds once both have.
	start := metav1.NewTime(time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC))
	size := int64(3 << 20)
	updateStatus(t, snap, func(snap *storagev1alpha1.Snapshot) {
		snap.Status.TotalComponents = 2
		snap.Status.Components = map[string]storagev1alpha1.Component{
			"data": {Phase: storagev1alpha1.ComponentSucceeded, Path: "repository/v1/daily/data", SizeBytes: &size, Integrity: ptr.To(true),
				ResticStats: []storagev1alpha1.ResticStats{{Summary: &storagev1alpha1.ResticSummary{ID: "a1", StartTime: &start}}}},
			"logs": {Phase: storagev1alpha1.ComponentRunning, Path: "repository/v1/daily/logs"},
		}
	})
	snap = eventually(t, snap, "running while a component runs", func(s *storagev1alpha1.Snapshot) bool {
		return s.Status.Phase == storagev1alpha1.SnapshotRunning && s.Status.Size == "3.000 MiB"
	})
	updateStatus(t, snap, func(snap *storagev1alpha1.Snapshot) {
		c := snap.Status.Components["logs"]
		c.Phase, c.SizeBytes, c.Integrity = storagev1alpha1.ComponentSucceeded, &size, ptr.To(true)
		snap.Status.Components["logs"] = c
	})
	snap = eventually(t, snap, "succeeded", func(s *storagev1alpha1.Snapshot) bool { return s.Status.Phase == storagev1alpha1.SnapshotSucceeded })
	if snap.Status.Size != "6.000 MiB" || snap.Status.Integrity == nil || !*snap.Status.Integrity || !snap.Status.SnapshotTime.Equal(&start) {
		t.Errorf("aggregates: size %q integrity %v time %v", snap.Status.Size, snap.Status.Integrity, snap.Status.SnapshotTime)
	}
	stored := readYAML[backends.StoredSnapshot](t, file)
	if stored.Status.Phase != storagev1alpha1.SnapshotSucceeded || stored.Status.Components["logs"].Phase != storagev1alpha1.ComponentSucceeded {
		t.Errorf("the file lags the object: phase %q", stored.Status.Phase)
	}
	eventually(t, &storagev1alpha1.Repository{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app"}}, "repository counts it",
		func(r *storagev1alpha1.Repository) bool {
			return r.Status.SnapshotCount != nil && *r.Status.SnapshotCount == 1 && r.Status.LastBackupTime != nil &&
				len(r.Status.RecentSnapshots) == 1 && r.Status.RecentSnapshots[0].Phase == storagev1alpha1.SnapshotSucceeded
		})

	// A failed component fails the snapshot with its message.
	bad := &storagev1alpha1.Snapshot{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app-daily-2"},
		Spec: storagev1alpha1.SnapshotSpec{Repository: "app", Session: "daily"}}
	create(t, bad)
	updateStatus(t, bad, func(bad *storagev1alpha1.Snapshot) {
		bad.Status.TotalComponents = 1
		bad.Status.Components = map[string]storagev1alpha1.Component{"data": {Phase: storagev1alpha1.ComponentFailed, Error: "wrong password"}}
	})
	eventually(t, bad, "failed", func(s *storagev1alpha1.Snapshot) bool { return s.Status.Phase == storagev1alpha1.SnapshotFailed })

	// Delete policy: the object goes, the file stays for a later re-creation.
	if err := env.Client.Delete(context.Background(), snap); err != nil {
		t.Fatal(err)
	}
	gone(t, snap)
	if _, err := os.Stat(file); err != nil {
		t.Errorf("a Snapshot with deletionPolicy Delete took its file: %v", err)
	}
	// WipeOut: the file goes with the object.
	badFile := filepath.Join(root, "demo/app/snapshots/app-daily-2.yaml")
	eventually(t, bad, "failed snapshot uploaded", func(*storagev1alpha1.Snapshot) bool { _, err := os.Stat(badFile); return err == nil })
	bad.Spec.DeletionPolicy = storagev1alpha1.DeletionPolicyWipeOut
	if err := env.Client.Update(context.Background(), bad); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Delete(context.Background(), bad); err != nil {
		t.Fatal(err)
	}
	gone(t, bad)
	if _, err := os.Stat(badFile); !os.IsNotExist(err) {
		t.Errorf("a WipeOut Snapshot left its file: %v", err)
	}
}

func TestDefaultStorageIsUnique(t *testing.T) {
	ns := env.Namespace(t)
	isDefault := func(bs *storagev1alpha1.BackupStorage) { bs.Spec.Default = true }
	create(t, localStorage(ns, "first", t.TempDir(), isDefault))
	first := eventually(t, &storagev1alpha1.BackupStorage{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "first"}}, "sole default",
		func(bs *storagev1alpha1.BackupStorage) bool {
			return storageReady(bs) && shared.IsFalse(bs.Status.Conditions, storagev1alpha1.TypeDefaultStorageConflict)
		})
	if got, err := backends.DefaultStorage(context.Background(), env.Client, ns); err != nil || got.Name != "first" {
		t.Fatalf("DefaultStorage = %v, %v", got, err)
	}

	create(t, localStorage(ns, "second", t.TempDir(), isDefault), localStorage(ns, "plain", t.TempDir()))
	for _, name := range []string{"first", "second"} {
		bs := eventually(t, &storagev1alpha1.BackupStorage{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}, name+" reports the conflict",
			func(bs *storagev1alpha1.BackupStorage) bool {
				return shared.IsTrue(bs.Status.Conditions, storagev1alpha1.TypeDefaultStorageConflict)
			})
		if bs.Status.Phase != storagev1alpha1.BackupStorageReady {
			t.Errorf("%s: a default conflict must not make the storage NotReady", name)
		}
	}
	plain := eventually(t, &storagev1alpha1.BackupStorage{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "plain"}}, "plain Ready", storageReady)
	if shared.HasCondition(plain.Status.Conditions, storagev1alpha1.TypeDefaultStorageConflict) {
		t.Error("a storage that is not default reports a default conflict")
	}
	if _, err := backends.DefaultStorage(context.Background(), env.Client, ns); err == nil || !strings.Contains(err.Error(), "first, second") {
		t.Fatalf("two defaults: %v", err)
	}

	// The second gives up default: the first is alone again.
	second := &storagev1alpha1.BackupStorage{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "second"}}
	if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(second), second); err != nil {
		t.Fatal(err)
	}
	second.Spec.Default = false
	if err := env.Client.Update(context.Background(), second); err != nil {
		t.Fatal(err)
	}
	eventually(t, first, "conflict resolved", func(bs *storagev1alpha1.BackupStorage) bool {
		return shared.IsFalse(bs.Status.Conditions, storagev1alpha1.TypeDefaultStorageConflict)
	})
}
