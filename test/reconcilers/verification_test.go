package reconcilers

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	addonsv1alpha1 "github.com/cofferhq/coffer/api/addons/v1alpha1"
	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	"github.com/cofferhq/coffer/api/shared"
	storagev1alpha1 "github.com/cofferhq/coffer/api/storage/v1alpha1"
	"github.com/cofferhq/coffer/controllers/targets"
	"github.com/cofferhq/coffer/controllers/verification"
)

// verifiedSetup is backupSetup with repository app-local verified by BackupVerifier "restorable"
// (the given conditions and retries), a scratch claim to restore into, and a first Snapshot
// that Succeeded. It returns the Snapshot.
func verifiedSetup(t *testing.T, ns string, retries int32, conditions ...corev1alpha1.VerificationCondition) *storagev1alpha1.Snapshot {
	t.Helper()
	v := &corev1alpha1.BackupVerifier{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "restorable"},
		Spec: corev1alpha1.BackupVerifierSpec{
			RestoreOption: &corev1alpha1.RestoreOption{Target: &shared.TypedObjectReference{Kind: targets.KindPVC, Name: "scratch"}},
			Scheduler:     &shared.SchedulerSpec{Schedule: "0 3 * * *"},
			Conditions:    conditions,
		}}
	if retries > 0 {
		v.Spec.RetryConfig = &shared.RetryConfig{MaxRetry: retries}
	}
	create(t, v)
	// The claim is left to the namespace, as in backupSetup.
	if err := env.Client.Create(context.Background(), &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "scratch"},
		Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}); err != nil {
		t.Fatal(err)
	}
	backupSetup(t, ns, func(s *corev1alpha1.Session) {
		s.Repositories[0].BackupVerifier = &shared.ObjectReference{Name: "restorable"}
	})
	first := nthSession(t, ns, "app", 1)
	snap := &storagev1alpha1.Snapshot{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app-local-" + first.Name}}
	eventually(t, snap, "Snapshot", func(s *storagev1alpha1.Snapshot) bool { return s.Status.TotalComponents == 1 })
	reportComponent(t, snap, "data")
	return eventually(t, snap, "Snapshot Succeeded", func(s *storagev1alpha1.Snapshot) bool { return s.Status.Phase == storagev1alpha1.SnapshotSucceeded })
}

// restoreVerification plays the restore a verification session starts: its RestoreSession
// targets the scratch claim and the snapshot, and its Job succeeds.
func restoreVerification(t *testing.T, bvs *corev1alpha1.BackupVerificationSession, snap *storagev1alpha1.Snapshot) {
	t.Helper()
	rs := eventually(t, &corev1alpha1.RestoreSession{ObjectMeta: metav1.ObjectMeta{Namespace: bvs.Namespace, Name: bvs.Name}},
		"the verification's RestoreSession", func(*corev1alpha1.RestoreSession) bool { return true })
	if rs.Spec.Target == nil || rs.Spec.Target.Name != "scratch" || rs.Spec.DataSource.Snapshot != snap.Name || rs.Spec.DataSource.Repository != "app-local" ||
		metav1.GetControllerOf(rs) == nil || metav1.GetControllerOf(rs).Name != bvs.Name {
		t.Fatalf("verification RestoreSession spec %+v owners %v", rs.Spec, rs.OwnerReferences)
	}
	job := getJob(t, bvs.Namespace, "restore-"+bvs.Name+"-data")
	updateStatus(t, rs, func(r *corev1alpha1.RestoreSession) {
		if r.Status.Components == nil {
			r.Status.Components = map[string]corev1alpha1.ComponentRestoreStatus{}
		}
		r.Status.Components["data"] = corev1alpha1.ComponentRestoreStatus{Phase: storagev1alpha1.ComponentSucceeded, Duration: "2s"}
	})
	finishJob(t, job, true, "")
}

// A verifier CronJob per verified repository; a session (as its trigger creates one) restores
// the newest Snapshot into the scratch claim, records what the restore did, evaluates the
// conditions over it and marks the Snapshot Verified; the next session finds it verified and is
// Skipped.
func TestVerificationRestoresAndEvaluatesConditions(t *testing.T) {
	ns := env.Namespace(t)
	snap := verifiedSetup(t, ns, 0,
		corev1alpha1.VerificationCondition{Name: "fast", Expression: "restore.duration < duration('5m')"},
		corev1alpha1.VerificationCondition{Name: "whole", Expression: "restore.components == snapshot.totalComponents && snapshot.repository == session.repository"})

	cj := eventually(t, &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "verify-app-app-local"}}, "the verifier CronJob",
		func(*batchv1.CronJob) bool { return true })
	if args := cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Args; cj.Spec.Schedule != "0 3 * * *" ||
		!hasArgs(args, "--backupconfiguration", "app", "--session", "daily", "--repository", "app-local") {
		t.Errorf("verifier CronJob schedule %q args %v", cj.Spec.Schedule, args)
	}
	eventually(t, &corev1alpha1.BackupConfiguration{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app"}}, "verification configured",
		func(b *corev1alpha1.BackupConfiguration) bool {
			return len(b.Status.Repositories) == 1 && b.Status.Repositories[0].VerificationConfigured
		})

	bvs := verification.NewSession(ns, "app", "daily", "app-local", 0, time.Now())
	create(t, bvs)
	restoreVerification(t, bvs, snap)
	bvs = eventually(t, bvs, "verification Succeeded", func(b *corev1alpha1.BackupVerificationSession) bool {
		return b.Status.Phase == corev1alpha1.VerificationSucceeded
	})
	obs := bvs.Status.Observations
	if obs == nil || obs.Restore == nil || obs.Restore.Phase != corev1alpha1.RestoreSucceeded || obs.Restore.Duration == nil ||
		obs.Restore.Components != 1 || obs.Restore.RestoreSession != bvs.Name {
		t.Errorf("observations %+v", obs)
	}
	if len(bvs.Status.ConditionResults) != 2 || !bvs.Status.ConditionResults[0].Passed || !bvs.Status.ConditionResults[1].Passed {
		t.Errorf("condition results %+v", bvs.Status.ConditionResults)
	}
	if c := shared.FindCondition(bvs.Status.Conditions, corev1alpha1.TypeBackupVerified); c == nil || c.Reason != string(corev1alpha1.ReasonSuccessfullyVerifiedBackup) {
		t.Errorf("BackupVerified %+v", c)
	}
	if bvs.Status.Snapshot != snap.Name || bvs.Status.Duration == "" {
		t.Errorf("status snapshot %q duration %q", bvs.Status.Snapshot, bvs.Status.Duration)
	}
	eventually(t, snap, "Snapshot Verified", func(s *storagev1alpha1.Snapshot) bool {
		return s.Status.VerificationStatus == storagev1alpha1.Verified && s.Status.VerificationSession == bvs.Name
	})

	again := verification.NewSession(ns, "app", "daily", "app-local", 0, time.Now().Add(2*time.Second))
	create(t, again)
	again = eventually(t, again, "the second verification Skipped", func(b *corev1alpha1.BackupVerificationSession) bool {
		return b.Status.Phase == corev1alpha1.VerificationSkipped
	})
	if c := shared.FindCondition(again.Status.Conditions, corev1alpha1.TypeBackupVerificationSkipped); c == nil ||
		c.Reason != string(corev1alpha1.ReasonSnapshotAlreadyVerified) || !strings.Contains(c.Message, bvs.Name) {
		t.Errorf("BackupVerificationSkipped %+v", c)
	}

	// sessionHistoryLimit 1: a third finished session removes the oldest.
	third := verification.NewSession(ns, "app", "daily", "app-local", 0, time.Now().Add(4*time.Second))
	create(t, third)
	eventually(t, third, "the third verification Skipped", func(b *corev1alpha1.BackupVerificationSession) bool {
		return b.Status.Phase == corev1alpha1.VerificationSkipped
	})
	gone(t, bvs)
}

// A condition that is false fails the verification naming it, with its message; the Snapshot
// is VerificationFailed; the verifier's retry starts a new session with one retry less.
func TestVerificationFailsNamingTheConditionAndRetries(t *testing.T) {
	ns := env.Namespace(t)
	snap := verifiedSetup(t, ns, 1, corev1alpha1.VerificationCondition{Name: "several", Expression: "restore.components > 1",
		Message: "'restored ' + string(restore.components) + ' component(s), want more'"})
	bvs := verification.NewSession(ns, "app", "daily", "app-local", 1, time.Now())
	create(t, bvs)
	restoreVerification(t, bvs, snap)
	bvs = eventually(t, bvs, "verification Failed and retried", func(b *corev1alpha1.BackupVerificationSession) bool {
		return b.Status.Phase == corev1alpha1.VerificationFailed && ptr.Deref(b.Status.Retried, false)
	})
	c := shared.FindCondition(bvs.Status.Conditions, corev1alpha1.TypeBackupVerified)
	if c == nil || c.Status != metav1.ConditionFalse || c.Reason != string(corev1alpha1.ReasonFailedToVerifyBackup) ||
		!strings.Contains(c.Message, "several: restored 1 component(s), want more") {
		t.Errorf("BackupVerified %+v", c)
	}
	if c := shared.FindCondition(bvs.Status.Conditions, corev1alpha1.TypeRestoreSucceeded); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("RestoreSucceeded %+v: the restore itself succeeded", c)
	}
	eventually(t, snap, "Snapshot VerificationFailed", func(s *storagev1alpha1.Snapshot) bool {
		return s.Status.VerificationStatus == storagev1alpha1.VerificationFailed
	})
	var list corev1alpha1.BackupVerificationSessionList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(list.Items, func(b corev1alpha1.BackupVerificationSession) bool {
		return b.Name != bvs.Name && b.Spec.Repository == "app-local" && b.Spec.RetryLeft == 0
	}) {
		t.Errorf("no retry session with retryLeft 0 among %d sessions", len(list.Items))
	}
}

// A session of a repository whose verifier is missing fails saying so, and leaves the
// Snapshot's verification status alone.
func TestVerificationWithoutVerifierFails(t *testing.T) {
	ns := env.Namespace(t)
	backupSetup(t, ns, func(s *corev1alpha1.Session) {
		s.Repositories[0].BackupVerifier = &shared.ObjectReference{Name: "missing"}
	})
	bvs := verification.NewSession(ns, "app", "daily", "app-local", 0, time.Now())
	create(t, bvs)
	bvs = eventually(t, bvs, "verification Failed", func(b *corev1alpha1.BackupVerificationSession) bool {
		return b.Status.Phase == corev1alpha1.VerificationFailed
	})
	if c := shared.FindCondition(bvs.Status.Conditions, corev1alpha1.TypeVerificationExecutorEnsured); c == nil ||
		!strings.Contains(c.Message, "BackupVerifier "+ns+"/missing not found") {
		t.Errorf("VerificationExecutorEnsured %+v", c)
	}
}

// scriptVerifier turns the setup's verifier into a Script verifier that runs in Function
// "checker"'s image with a ConfigMap of scripts mounted.
func scriptVerifier(t *testing.T, ns string) {
	t.Helper()
	fn := &addonsv1alpha1.Function{ObjectMeta: metav1.ObjectMeta{Name: "checker-" + ns}, Spec: addonsv1alpha1.FunctionSpec{Image: "example.com/checker:1"}}
	create(t, fn)
	scripts, err := shared.ToEmbedded(corev1.Volume{Name: "scripts", VolumeSource: corev1.VolumeSource{
		ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "checks"}}}})
	if err != nil {
		t.Fatal(err)
	}
	updateSpec(t, &corev1alpha1.BackupVerifier{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "restorable"}}, func(v *corev1alpha1.BackupVerifier) {
		v.Spec.Type = corev1alpha1.VerifyScript
		v.Spec.Function = fn.Name
		v.Spec.Script = &corev1alpha1.ScriptVerifierSpec{Location: "/scripts/check.sh", Args: []string{"--strict"}}
		v.Spec.Volumes = []shared.Volume{{RawExtension: *scripts}}
		v.Spec.VolumeMounts = []corev1.VolumeMount{{Name: "scripts", MountPath: "/scripts"}}
	})
}

// A Script verifier: once the restore succeeded, a verifier Job runs `coffer verify` in the
// Function's image with the restored claim and the verifier's volumes mounted; what it records
// is what the conditions judge. A verifier Job that fails without recording anything fails the
// verification, saying so.
func TestScriptVerificationRunsAVerifierJob(t *testing.T) {
	ns := env.Namespace(t)
	snap := verifiedSetup(t, ns, 0, corev1alpha1.VerificationCondition{Name: "files", Expression: "script.output.files == 3"})
	scriptVerifier(t, ns)

	bvs := verification.NewSession(ns, "app", "daily", "app-local", 0, time.Now())
	create(t, bvs)
	restoreVerification(t, bvs, snap)
	job := getJob(t, ns, "verify-"+bvs.Name)
	spec := job.Spec.Template.Spec
	c := spec.Containers[0]
	if c.Image != "example.com/checker:1" || !hasArgs(c.Args, "verify", "--namespace", ns, "--session", bvs.Name) ||
		metav1.GetControllerOf(job) == nil || metav1.GetControllerOf(job).Name != bvs.Name {
		t.Fatalf("verifier Job image %q args %v owners %v", c.Image, c.Args, job.OwnerReferences)
	}
	mounted := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounted[m.Name] = m.MountPath
	}
	claims := map[string]bool{}
	for _, v := range spec.Volumes {
		if v.PersistentVolumeClaim != nil {
			claims[v.PersistentVolumeClaim.ClaimName] = true
		}
	}
	if mounted["scripts"] != "/scripts" || mounted["data"] != targets.MountRoot+"/data" || !claims["scratch"] {
		t.Errorf("verifier Job mounts %v claims %v, want the scripts and the restored claim", mounted, claims)
	}
	if b := getBVS(t, bvs); b.Status.Phase != corev1alpha1.VerificationRunning {
		t.Fatalf("phase %s while the verifier Job runs", b.Status.Phase)
	}

	// What `coffer verify` records, then the Job's end.
	updateStatus(t, bvs, func(b *corev1alpha1.BackupVerificationSession) {
		if b.Status.Observations == nil {
			b.Status.Observations = &corev1alpha1.VerificationObservations{}
		}
		b.Status.Observations.Script = &corev1alpha1.ScriptObservation{ExitCode: 0, Stdout: `{"files": 3}`,
			Output: &runtime.RawExtension{Raw: []byte(`{"files": 3}`)}}
	})
	finishJob(t, job, true, "")
	bvs = eventually(t, bvs, "verification Succeeded", func(b *corev1alpha1.BackupVerificationSession) bool {
		return b.Status.Phase == corev1alpha1.VerificationSucceeded
	})
	if len(bvs.Status.ConditionResults) != 1 || !bvs.Status.ConditionResults[0].Passed || bvs.Status.Observations.Restore == nil {
		t.Errorf("results %+v observations %+v", bvs.Status.ConditionResults, bvs.Status.Observations)
	}

	// The next snapshot's verification: its Job dies before recording anything.
	second := verification.NewSession(ns, "app", "daily", "app-local", 0, time.Now().Add(2*time.Second))
	second.Spec.Snapshot = snap.Name
	create(t, second)
	restoreVerification(t, second, snap)
	finishJob(t, getJob(t, ns, "verify-"+second.Name), false, "BackoffLimitExceeded")
	second = eventually(t, second, "verification Failed", func(b *corev1alpha1.BackupVerificationSession) bool {
		return b.Status.Phase == corev1alpha1.VerificationFailed
	})
	if c := shared.FindCondition(second.Status.Conditions, corev1alpha1.TypeBackupVerified); c == nil ||
		!strings.Contains(c.Message, "verifier Job verify-"+second.Name+" failed without recording observations") ||
		!strings.Contains(c.Message, "builtin:script: no script run was observed") {
		t.Errorf("BackupVerified %+v", c)
	}
}

func getBVS(t *testing.T, bvs *corev1alpha1.BackupVerificationSession) *corev1alpha1.BackupVerificationSession {
	t.Helper()
	var got corev1alpha1.BackupVerificationSession
	if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(bvs), &got); err != nil {
		t.Fatal(err)
	}
	return &got
}
