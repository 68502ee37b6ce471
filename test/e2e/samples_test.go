//go:build e2e

package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	storagev1alpha1 "github.com/cofferhq/coffer/api/storage/v1alpha1"
	"github.com/cofferhq/coffer/bench/corpus"
	"github.com/cofferhq/coffer/test/envtest"
)

// The demo `make run` gives a newcomer: config/samples, applied as make run applies them, back up
// the claim demo/data and restore the first snapshot into demo/restored, bit-exact.
func TestSamplesBackUpAndRestore(t *testing.T) {
	const (
		demo     = "/var/lib/coffer/demo"
		data     = demo + "/data"
		restored = demo + "/restored"
	)
	root, err := envtest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	// Not t.Context(): the cleanup below still needs the API.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	t.Cleanup(cancel)
	e := &env{t: t, ctx: ctx, ns: "demo"}
	// The samples' objects have fixed names: a demo left by `make run` goes first, and so does
	// this test's when it ends.
	removeDemo := func() {
		objs := []client.Object{&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "demo"}},
			&corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "demo-data"}},
			&corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "demo-restored"}}}
		for _, o := range objs {
			if err := kube.Delete(e.ctx, o); client.IgnoreNotFound(err) != nil {
				t.Fatal(err)
			}
		}
		for _, o := range objs {
			e.waitFor("the demo's "+o.GetName()+" gone", 2*time.Minute, func() (bool, error) {
				err := kube.Get(e.ctx, client.ObjectKeyFromObject(o), o)
				return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
			})
		}
		for _, dir := range []string{demo, filepath.Join(backupsHost, "demo")} {
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
		}
	}
	removeDemo()
	t.Cleanup(func() {
		if t.Failed() {
			e.dump()
		}
		removeDemo()
	})
	if _, err := corpus.Generate(data, corpus.Spec{Seed: 30, TotalBytes: 8 << 20}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := cluster.Kubectl(e.ctx, "apply", "--server-side", "--force-conflicts", "-f", filepath.Join(root, "config", "samples")); err != nil {
		t.Fatal(err)
	}
	var rs corev1alpha1.RestoreSession
	e.waitFor("the sample RestoreSession", 5*time.Minute, func() (bool, error) {
		err := kube.Get(e.ctx, client.ObjectKey{Namespace: "demo", Name: "data-into-restored"}, &rs)
		return err == nil && rs.Status.Phase.Finished(), client.IgnoreNotFound(err)
	})
	if rs.Status.Phase != corev1alpha1.RestoreSucceeded {
		t.Fatalf("sample restore %s: %+v", rs.Status.Phase, rs.Status.Conditions)
	}
	t.Logf("FIGURE samples applied to restore Succeeded (8 MiB): %s", time.Since(start).Round(time.Second))
	if got, want := hashDir(t, restored), hashDir(t, data); got != want {
		t.Fatalf("restored tree %s differs from the backed-up one %s", got, want)
	}

	// The labelled Deployment is picked up by the blueprint's selector and backed up.
	e.waitFor("a Succeeded Snapshot of the auto-backed-up Deployment", 5*time.Minute, func() (bool, error) {
		var snaps storagev1alpha1.SnapshotList
		if err := kube.List(e.ctx, &snaps, client.InNamespace("demo")); err != nil {
			return false, err
		}
		for _, s := range snaps.Items {
			if s.Spec.Repository == "app" && s.Status.Phase == storagev1alpha1.SnapshotSucceeded {
				return true, nil
			}
		}
		return false, nil
	})
}
