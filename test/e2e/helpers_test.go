//go:build e2e

package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	"github.com/cofferhq/coffer/api/shared"
	storagev1alpha1 "github.com/cofferhq/coffer/api/storage/v1alpha1"
	"github.com/cofferhq/coffer/bench/corpus"
	"github.com/cofferhq/coffer/controllers/backends"
)

// Host directories: the tests' volumes, and the local backup storage the manager mounts
// (config/local mounts /var/lib/coffer/backups at /backups).
const (
	volumesRoot  = "/var/lib/coffer-e2e"
	backupsHost  = "/var/lib/coffer/backups"
	backupsMount = "/backups"
	storageClass = "coffer-e2e-manual"
	password     = "e2e-not-secret"
)

type env struct {
	t   *testing.T
	ctx context.Context
	ns  string
}

// newEnv makes a namespace of the test's own, with the repository encryption Secret; the
// cleanup deletes the namespace, its volumes and its backups.
func newEnv(t *testing.T, prefix string) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	t.Cleanup(cancel)
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	e := &env{t: t, ctx: ctx, ns: prefix + "-" + hex.EncodeToString(b)}
	e.create(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: e.ns}})
	e.create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "encryption", Namespace: e.ns},
		StringData: map[string]string{backends.KeyResticPassword: password}})
	t.Cleanup(func() {
		ctx := context.Background()
		if t.Failed() {
			e.dump()
		}
		_ = kube.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: e.ns}})
		var pvs corev1.PersistentVolumeList
		if kube.List(ctx, &pvs, client.MatchingLabels{"coffer-e2e/namespace": e.ns}) == nil {
			for i := range pvs.Items {
				_ = kube.Delete(ctx, &pvs.Items[i])
			}
		}
		_ = os.RemoveAll(filepath.Join(volumesRoot, e.ns))
		_ = os.RemoveAll(filepath.Join(backupsHost, e.ns))
	})
	return e
}

func (e *env) create(obj client.Object) {
	e.t.Helper()
	if err := kube.Create(e.ctx, obj); err != nil {
		e.t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
}

// dump logs what a failed test needs to see: sessions, snapshots, restores, jobs and pods.
func (e *env) dump() {
	var bss corev1alpha1.BackupSessionList
	_ = kube.List(context.Background(), &bss, client.InNamespace(e.ns))
	for _, b := range bss.Items {
		e.t.Logf("BackupSession %s: phase %s conditions %+v snapshots %+v", b.Name, b.Status.Phase, b.Status.Conditions, b.Status.Snapshots)
	}
	var snaps storagev1alpha1.SnapshotList
	_ = kube.List(context.Background(), &snaps, client.InNamespace(e.ns))
	for _, s := range snaps.Items {
		e.t.Logf("Snapshot %s: phase %s components %+v", s.Name, s.Status.Phase, s.Status.Components)
	}
	var rss corev1alpha1.RestoreSessionList
	_ = kube.List(context.Background(), &rss, client.InNamespace(e.ns))
	for _, r := range rss.Items {
		e.t.Logf("RestoreSession %s: phase %s conditions %+v components %+v", r.Name, r.Status.Phase, r.Status.Conditions, r.Status.Components)
	}
	var bcs corev1alpha1.BackupConfigurationList
	_ = kube.List(context.Background(), &bcs, client.InNamespace(e.ns))
	for _, b := range bcs.Items {
		e.t.Logf("BackupConfiguration %s: phase %s status %+v", b.Name, b.Status.Phase, b.Status)
	}
	var bvss corev1alpha1.BackupVerificationSessionList
	_ = kube.List(context.Background(), &bvss, client.InNamespace(e.ns))
	for _, b := range bvss.Items {
		e.t.Logf("BackupVerificationSession %s: phase %s conditions %+v observations %+v", b.Name, b.Status.Phase, b.Status.Conditions, b.Status.Observations)
	}
	var pods corev1.PodList
	_ = kube.List(context.Background(), &pods, client.InNamespace(e.ns))
	for _, p := range pods.Items {
		e.t.Logf("Pod %s: %s %+v", p.Name, p.Status.Phase, p.Status.ContainerStatuses)
	}
}

// volume makes a PersistentVolume on a host directory bound to the claim namespace/claim,
// fills it with a generated corpus of size bytes (seed picks the content) and returns the
// directory.
func (e *env) volume(claim string, size int64, seed int64) string {
	e.t.Helper()
	dir := filepath.Join(volumesRoot, e.ns, claim)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		e.t.Fatal(err)
	}
	if size > 0 {
		if _, err := corpus.Generate(dir, corpus.Spec{Seed: seed, TotalBytes: size}); err != nil {
			e.t.Fatal(err)
		}
	}
	e.create(&corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: e.ns + "-" + claim, Labels: map[string]string{"coffer-e2e/namespace": e.ns}},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("2Gi")},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			StorageClassName:              storageClass,
			ClaimRef:                      &corev1.ObjectReference{Namespace: e.ns, Name: claim},
			PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: dir}},
		},
	})
	return dir
}

func (e *env) claim(name string) {
	e.t.Helper()
	sc := storageClass
	e.create(&corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: &sc,
			VolumeName:       e.ns + "-" + name,
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("2Gi")}},
		},
	})
}

// localStorage is a BackupStorage on the host directory the manager mounts.
func (e *env) localStorage(name string) {
	e.t.Helper()
	hp := corev1.HostPathDirectoryOrCreate
	e.create(&storagev1alpha1.BackupStorage{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns},
		Spec: storagev1alpha1.BackupStorageSpec{
			Storage: storagev1alpha1.Backend{Provider: storagev1alpha1.ProviderLocal, Local: &storagev1alpha1.LocalSpec{
				VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: backupsHost, Type: &hp}},
				MountPath:    backupsMount,
				SubPath:      e.ns,
			}},
			DeletionPolicy: storagev1alpha1.BackupStorageDeletionPolicy("WipeOut"),
		},
	})
	e.waitFor(fmt.Sprintf("BackupStorage %s Ready", name), 2*time.Minute, func() (bool, error) {
		var bs storagev1alpha1.BackupStorage
		err := kube.Get(e.ctx, client.ObjectKey{Namespace: e.ns, Name: name}, &bs)
		return err == nil && bs.Status.Phase == storagev1alpha1.BackupStorageReady, client.IgnoreNotFound(err)
	})
}

// hostDataDir is where a local repository's data lives on the host.
func (e *env) hostDataDir() string { return filepath.Join(backupsHost, e.ns) }

func (e *env) waitFor(what string, timeout time.Duration, cond func() (bool, error)) {
	e.t.Helper()
	err := wait.PollUntilContextTimeout(e.ctx, time.Second, timeout, true, func(context.Context) (bool, error) { return cond() })
	if err != nil {
		e.t.Fatalf("waiting for %s: %v", what, err)
	}
}

func repoInfo(name, backend, dir string) corev1alpha1.RepositoryInfo {
	return corev1alpha1.RepositoryInfo{Name: name, Backend: backend, Directory: dir,
		EncryptionSecret: &shared.ObjectReference{Name: "encryption"}, DeletionPolicy: corev1alpha1.RepositoryWipeOut}
}

// sessions lists the BackupSessions of a configuration, oldest first.
func (e *env) sessions(bc string) []corev1alpha1.BackupSession {
	var list corev1alpha1.BackupSessionList
	if err := kube.List(e.ctx, &list, client.InNamespace(e.ns)); err != nil {
		e.t.Fatal(err)
	}
	var out []corev1alpha1.BackupSession
	for _, b := range list.Items {
		if b.Spec.Invoker.Name == bc {
			out = append(out, b)
		}
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].CreationTimestamp.Before(&out[j-1].CreationTimestamp); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// finishedSession waits for a session of bc other than those in skip to end, and returns it.
func (e *env) finishedSession(bc string, timeout time.Duration, skip ...string) corev1alpha1.BackupSession {
	e.t.Helper()
	var got corev1alpha1.BackupSession
	skipped := map[string]bool{}
	for _, s := range skip {
		skipped[s] = true
	}
	e.waitFor("a finished BackupSession of "+bc, timeout, func() (bool, error) {
		for _, b := range e.sessions(bc) {
			switch b.Status.Phase {
			case corev1alpha1.BackupSessionSucceeded, corev1alpha1.BackupSessionFailed, corev1alpha1.BackupSessionSkipped:
				if !skipped[b.Name] {
					got = b
					return true, nil
				}
			}
		}
		return false, nil
	})
	return got
}

// restore runs a RestoreSession of the latest snapshot of repository into target and waits
// for it to finish.
func (e *env) restore(name, repository string, target shared.TypedObjectReference, components ...string) corev1alpha1.RestoreSession {
	e.t.Helper()
	e.create(&corev1alpha1.RestoreSession{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns},
		Spec: corev1alpha1.RestoreSessionSpec{
			Target:     &target,
			DataSource: corev1alpha1.RestoreDataSource{Repository: repository, Snapshot: corev1alpha1.LatestSnapshot, Components: components},
		},
	})
	var rs corev1alpha1.RestoreSession
	e.waitFor("RestoreSession "+name, 5*time.Minute, func() (bool, error) {
		if err := kube.Get(e.ctx, client.ObjectKey{Namespace: e.ns, Name: name}, &rs); err != nil {
			return false, err
		}
		return rs.Status.Phase.Finished(), nil
	})
	return rs
}

func hashDir(t *testing.T, dir string) string {
	t.Helper()
	h, err := corpus.HashTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// emptyDir removes what is inside dir, keeping dir (the volume's root).
func emptyDir(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range entries {
		if err := os.RemoveAll(filepath.Join(dir, en.Name())); err != nil {
			t.Fatal(err)
		}
	}
}

func mustQuantity(s string) resource.Quantity { return resource.MustParse(s) }

func intOrString(port int) intstr.IntOrString { return intstr.FromInt32(int32(port)) }
