//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	"github.com/cofferhq/coffer/api/shared"
	storagev1alpha1 "github.com/cofferhq/coffer/api/storage/v1alpha1"
	"github.com/cofferhq/coffer/engine"
)

// Verification on the real cluster. A claim with data is backed up; the verifier CronJob's Job
// (started by hand, as kubectl create job --from does) creates a BackupVerificationSession that
// restores the snapshot into a scratch claim, and the conditions hold: BackupVerified, the
// Snapshot Verified, the scratch claim holding the data. Then a pack file of the repository is
// corrupted, and verifying the snapshot again fails with RestoreSucceeded=False saying why.
func TestVerificationOfAVolumeBackup(t *testing.T) {
	e := newEnv(t, "verify")
	data := e.volume("data", 8<<20, 60)
	scratch := e.volume("scratch", 0, 0)
	e.claim("data")
	e.claim("scratch")
	e.localStorage("local")
	e.create(&corev1alpha1.BackupVerifier{ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: "restorable"},
		Spec: corev1alpha1.BackupVerifierSpec{
			RestoreOption: &corev1alpha1.RestoreOption{Target: pvcTarget("scratch")},
			Scheduler:     &shared.SchedulerSpec{Schedule: never},
			Conditions: []corev1alpha1.VerificationCondition{
				{Name: "whole", Expression: "restore.components == snapshot.totalComponents && restore.sizeBytes == snapshot.sizeBytes"},
				{Name: "quick", Expression: "restore.duration < duration('5m')", Message: "'the restore took ' + string(restore.duration)"},
			},
		}})
	repo := repoInfo("data-local", "local", "data")
	repo.BackupVerifier = &shared.ObjectReference{Name: "restorable"}
	e.backupConfiguration("data", pvcTarget("data"), []corev1alpha1.BackendReference{localBackend("")}, session(never, repo))
	bs := e.finishedSession("data", 5*time.Minute)
	if bs.Status.Phase != corev1alpha1.BackupSessionSucceeded {
		t.Fatalf("backup %s", bs.Status.Phase)
	}
	snapName := bs.Status.Snapshots[0].Name

	start := time.Now()
	if _, err := cluster.Kubectl(e.ctx, "create", "job", "-n", e.ns, "--from=cronjob/"+shared.VerifierCronJobName("data", "data-local"), "verify-now"); err != nil {
		t.Fatal(err)
	}
	bvs := e.finishedVerification("", 5*time.Minute)
	t.Logf("FIGURE BackupVerificationSession creation to BackupVerified (8 MiB PVC): %s", time.Since(start).Round(time.Second))
	if bvs.Status.Phase != corev1alpha1.VerificationSucceeded || !shared.IsTrue(bvs.Status.Conditions, corev1alpha1.TypeBackupVerified) {
		t.Fatalf("verification %s: %+v", bvs.Status.Phase, bvs.Status.Conditions)
	}
	var snap storagev1alpha1.Snapshot
	if err := kube.Get(e.ctx, client.ObjectKey{Namespace: e.ns, Name: snapName}, &snap); err != nil {
		t.Fatal(err)
	}
	if snap.Status.VerificationStatus != storagev1alpha1.Verified || snap.Status.VerificationSession != bvs.Name {
		t.Fatalf("snapshot verification %q by %q", snap.Status.VerificationStatus, snap.Status.VerificationSession)
	}
	if got, want := hashDir(t, scratch), hashDir(t, data); got != want {
		t.Fatalf("the verification restored %s, the data is %s", got, want)
	}

	// Corrupt the snapshot's data: every pack file gets garbage in its middle.
	packs := filepath.Join(e.hostDataDir(), "data", engine.ComponentPath("v1", "daily", "data"), "data")
	corrupted := 0
	if err := filepath.WalkDir(packs, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		f, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		defer f.Close()
		info, err := f.Stat()
		if err != nil {
			return err
		}
		if _, err := f.WriteAt([]byte("coffer e2e: this pack is corrupted"), info.Size()/2); err != nil {
			return err
		}
		corrupted++
		return nil
	}); err != nil || corrupted == 0 {
		t.Fatalf("corrupting the packs under %s: %d corrupted, %v", packs, corrupted, err)
	}
	emptyDir(t, scratch)
	again := &corev1alpha1.BackupVerificationSession{ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: "after-corruption"},
		Spec: corev1alpha1.BackupVerificationSessionSpec{
			Invoker: shared.TypedLocalObjectReference{APIGroup: corev1alpha1.GroupVersion.Group, Kind: "BackupConfiguration", Name: "data"},
			Session: "daily", Repository: "data-local", Snapshot: snapName}}
	e.create(again)
	failed := e.finishedVerification(again.Name, 5*time.Minute)
	c := shared.FindCondition(failed.Status.Conditions, corev1alpha1.TypeRestoreSucceeded)
	if failed.Status.Phase != corev1alpha1.VerificationFailed || c == nil || c.Status != metav1.ConditionFalse {
		t.Fatalf("verification of a corrupted repository: %s, RestoreSucceeded %+v", failed.Status.Phase, c)
	}
	t.Logf("RestoreSucceeded=False: %s", c.Message)
	if !strings.Contains(c.Message, "component data") {
		t.Errorf("RestoreSucceeded message %q does not say which component failed and why", c.Message)
	}
	if err := kube.Get(e.ctx, client.ObjectKey{Namespace: e.ns, Name: snapName}, &snap); err != nil {
		t.Fatal(err)
	}
	if snap.Status.VerificationStatus != storagev1alpha1.VerificationFailed || snap.Status.VerificationSession != again.Name {
		t.Fatalf("snapshot verification %q by %q after the corruption", snap.Status.VerificationStatus, snap.Status.VerificationSession)
	}
}

// finishedVerification waits for the named verification session (or, with no name, the
// namespace's only one) to finish.
func (e *env) finishedVerification(name string, timeout time.Duration) corev1alpha1.BackupVerificationSession {
	e.t.Helper()
	var out corev1alpha1.BackupVerificationSession
	e.waitFor(fmt.Sprintf("verification session %q finished", name), timeout, func() (bool, error) {
		var list corev1alpha1.BackupVerificationSessionList
		if err := kube.List(e.ctx, &list, client.InNamespace(e.ns)); err != nil {
			return false, err
		}
		for _, b := range list.Items {
			if name != "" && b.Name != name {
				continue
			}
			out = b
			switch b.Status.Phase {
			case corev1alpha1.VerificationSucceeded, corev1alpha1.VerificationFailed, corev1alpha1.VerificationSkipped:
				return true, nil
			}
		}
		return false, nil
	})
	return out
}
