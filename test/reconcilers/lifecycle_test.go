package reconcilers

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	"github.com/cofferhq/coffer/api/shared"
	storagev1alpha1 "github.com/cofferhq/coffer/api/storage/v1alpha1"
	"github.com/cofferhq/coffer/controllers/executor"
	"github.com/cofferhq/coffer/controllers/restoresession"
	"github.com/cofferhq/coffer/controllers/targets"
)

// backupSetup is what every lifecycle test starts from: a local storage, a retention policy, a
// PVC "data" and a BackupConfiguration "app" backing it up to repository "app-local" on a
// schedule that does not fire during the test. mutate changes the session before it is created.
func backupSetup(t *testing.T, ns string, mutate func(*corev1alpha1.Session)) *corev1alpha1.BackupConfiguration {
	t.Helper()
	sess := corev1alpha1.Session{
		SessionConfig: corev1alpha1.SessionConfig{Name: "daily", Scheduler: &shared.SchedulerSpec{Schedule: "0 0 1 1 *"}},
		Repositories: []corev1alpha1.RepositoryInfo{{Name: "app-local", Backend: "local", Directory: "app",
			EncryptionSecret: &shared.ObjectReference{Name: "encryption"}}},
	}
	if mutate != nil {
		mutate(&sess)
	}
	bc := &corev1alpha1.BackupConfiguration{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app"},
		Spec: corev1alpha1.BackupConfigurationSpec{
			Target: &shared.TypedObjectReference{Kind: targets.KindPVC, Name: "data"},
			Backends: []corev1alpha1.BackendReference{{Name: "local", StorageRef: &shared.ObjectReference{Name: "local"},
				RetentionPolicy: &shared.ObjectReference{Name: "keep"}}},
			Sessions: []corev1alpha1.Session{sess},
		},
	}
	// The claim is left to the namespace: envtest runs no controller that would lift its
	// pvc-protection finalizer.
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "data"},
		Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}
	if err := env.Client.Create(context.Background(), pvc); err != nil {
		t.Fatal(err)
	}
	create(t, encryptionSecret(ns, "encryption"), localStorage(ns, "local", t.TempDir()),
		&storagev1alpha1.RetentionPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "keep"},
			Spec: storagev1alpha1.RetentionPolicySpec{SuccessfulSnapshots: &storagev1alpha1.SuccessfulSnapshotsKeepPolicy{Last: ptr.To[int32](2)}}},
		bc)
	return bc
}

// sessionsOf lists the BackupSessions of configuration bc, oldest first.
func sessionsOf(t *testing.T, ns, bc string) []corev1alpha1.BackupSession {
	t.Helper()
	var list corev1alpha1.BackupSessionList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var out []corev1alpha1.BackupSession
	for _, b := range list.Items {
		if b.Spec.Invoker.Name == bc {
			out = append(out, b)
		}
	}
	slices.SortFunc(out, func(a, b corev1alpha1.BackupSession) int {
		return a.CreationTimestamp.Compare(b.CreationTimestamp.Time)
	})
	return out
}

// nthSession waits until bc has at least n sessions and returns the n-th (1-based) oldest.
func nthSession(t *testing.T, ns, bc string, n int) *corev1alpha1.BackupSession {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		if list := sessionsOf(t, ns, bc); len(list) >= n {
			return &list[n-1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("BackupConfiguration %s has fewer than %d sessions after %s", bc, n, wait)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func sessionPhase(p corev1alpha1.BackupSessionPhase) func(*corev1alpha1.BackupSession) bool {
	return func(b *corev1alpha1.BackupSession) bool { return b.Status.Phase == p }
}

// finishJob writes a terminal outcome into a Job's status as the Job controller would; envtest
// runs no Job controller.
func finishJob(t *testing.T, job *batchv1.Job, succeeded bool, reason string) {
	t.Helper()
	updateStatus(t, job, func(j *batchv1.Job) {
		now := metav1.Now()
		j.Status.StartTime = &now
		if succeeded {
			j.Status.Succeeded = 1
			j.Status.CompletionTime = &now
			j.Status.Conditions = []batchv1.JobCondition{
				{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastTransitionTime: now},
				{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: now},
			}
			return
		}
		j.Status.Failed = 1
		j.Status.Conditions = []batchv1.JobCondition{
			{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, Reason: reason, LastTransitionTime: now},
			{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: reason, Message: "as the test says", LastTransitionTime: now},
		}
	})
}

// reportComponent writes a backup component's result into a Snapshot as the executor would.
func reportComponent(t *testing.T, snap *storagev1alpha1.Snapshot, component string) {
	t.Helper()
	updateStatus(t, snap, func(s *storagev1alpha1.Snapshot) {
		if s.Status.Components == nil {
			s.Status.Components = map[string]storagev1alpha1.Component{}
		}
		s.Status.Components[component] = storagev1alpha1.Component{Path: "repository/v1/daily/" + component,
			Phase: storagev1alpha1.ComponentSucceeded, Size: "1 MiB", SizeBytes: ptr.To[int64](1 << 20), Duration: "1s", Integrity: ptr.To(true)}
	})
}

func getJob(t *testing.T, ns, name string) *batchv1.Job {
	t.Helper()
	return eventually(t, &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}, "Job "+name, func(*batchv1.Job) bool { return true })
}

func hasArgs(args []string, want ...string) bool {
	for i := 0; i+1 < len(want); i += 2 {
		j := slices.Index(args, want[i])
		if j < 0 || j+1 >= len(args) || args[j+1] != want[i+1] {
			return false
		}
	}
	return true
}

// A BackupConfiguration gets its Repository (owned by it), its trigger CronJob, the executor's
// identity in the namespace and a first session; pausing it suspends the CronJob.
func TestBackupConfigurationSetsUpItsSessions(t *testing.T) {
	ns := env.Namespace(t)
	bc := backupSetup(t, ns, nil)

	bc = eventually(t, bc, "configuration Ready", func(b *corev1alpha1.BackupConfiguration) bool {
		return b.Status.Phase == corev1alpha1.BackupInvokerReady
	})
	if len(bc.Status.Sessions) != 1 || bc.Status.Sessions[0].NextSchedule == "" {
		t.Errorf("session status %+v, want one with its next schedule", bc.Status.Sessions)
	}
	repo := eventually(t, &storagev1alpha1.Repository{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app-local"}}, "repository Ready", repoReady)
	if owner := metav1.GetControllerOf(repo); owner == nil || owner.UID != bc.UID {
		t.Errorf("repository controller %+v, want the BackupConfiguration", owner)
	}
	cron := eventually(t, &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "trigger-app-daily"}}, "trigger CronJob",
		func(*batchv1.CronJob) bool { return true })
	pod := cron.Spec.JobTemplate.Spec.Template.Spec
	if cron.Spec.Schedule != "0 0 1 1 *" || ptr.Deref(cron.Spec.Suspend, true) || pod.Containers[0].Image != executorImage ||
		pod.ServiceAccountName != "coffer-executor" || !hasArgs(pod.Containers[0].Args, "--backupconfiguration", "app", "--session", "daily") {
		t.Errorf("CronJob schedule %q suspend %v image %q account %q args %v", cron.Spec.Schedule, cron.Spec.Suspend,
			pod.Containers[0].Image, pod.ServiceAccountName, pod.Containers[0].Args)
	}
	eventually(t, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "coffer-executor"}}, "executor ServiceAccount",
		func(*corev1.ServiceAccount) bool { return true })
	var bindings rbacv1.RoleBindingList
	if err := env.Client.List(context.Background(), &bindings, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(bindings.Items, func(b rbacv1.RoleBinding) bool {
		return b.RoleRef.Name == "coffer-executor-role" && len(b.Subjects) == 1 && b.Subjects[0].Name == "coffer-executor"
	}) {
		t.Errorf("no RoleBinding of coffer-executor to coffer-executor-role in %+v", bindings.Items)
	}
	first := nthSession(t, ns, "app", 1)
	if first.Spec.Session != "daily" || first.Spec.Invoker.Kind != "BackupConfiguration" {
		t.Errorf("first session spec %+v", first.Spec)
	}
	// The first session's name comes from the configuration, so a reconcile on a stale cache
	// cannot start a second one.
	if want := shared.BackupSessionName("app", "daily", bc.CreationTimestamp.Unix()); first.Name != want {
		t.Errorf("first session %s, want %s", first.Name, want)
	}

	updateSpec(t, bc, func(b *corev1alpha1.BackupConfiguration) { b.Spec.Paused = true })
	eventually(t, cron, "CronJob suspended", func(c *batchv1.CronJob) bool { return ptr.Deref(c.Spec.Suspend, false) })
}

// A backup Job whose executor dies without reporting fails its component with the Job's reason,
// fails the session, and the retry is a new session with one retry less.
func TestDeadExecutorFailsTheSessionAndItIsRetried(t *testing.T) {
	ns := env.Namespace(t)
	backupSetup(t, ns, func(s *corev1alpha1.Session) {
		s.RetryConfig = &shared.RetryConfig{MaxRetry: 1, Delay: &metav1.Duration{Duration: time.Second}}
		s.SessionHistoryLimit = 3
	})
	first := nthSession(t, ns, "app", 1)
	if first.Spec.RetryLeft != 1 {
		t.Errorf("first session retryLeft %d, want maxRetry 1", first.Spec.RetryLeft)
	}
	snapName := "app-local-" + first.Name
	snap := eventually(t, &storagev1alpha1.Snapshot{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: snapName}}, "Snapshot",
		func(s *storagev1alpha1.Snapshot) bool { return s.Status.TotalComponents == 1 })
	if !slices.ContainsFunc(snap.OwnerReferences, func(o metav1.OwnerReference) bool { return o.Kind == "Repository" && o.Name == "app-local" }) {
		t.Errorf("snapshot owners %+v, want Repository app-local", snap.OwnerReferences)
	}

	job := getJob(t, ns, snapName+"-data")
	spec := job.Spec.Template.Spec
	if ptr.Deref(job.Spec.BackoffLimit, -1) != 0 || spec.ServiceAccountName != "coffer-executor" || spec.Containers[0].Image != executorImage ||
		!hasArgs(spec.Containers[0].Args, "--snapshot", snapName, "--component", "data", "--path", targets.MountRoot) ||
		job.Labels[executor.LabelBackupSession] != first.Name {
		t.Errorf("backup Job backoffLimit %v account %q image %q args %v labels %v", job.Spec.BackoffLimit, spec.ServiceAccountName,
			spec.Containers[0].Image, spec.Containers[0].Args, job.Labels)
	}
	if !slices.ContainsFunc(spec.Volumes, func(v corev1.Volume) bool {
		return v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == "data"
	}) || !slices.ContainsFunc(spec.Containers[0].VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == targets.MountRoot+"/data" }) {
		t.Errorf("backup Job does not mount claim data at %s/data: volumes %+v mounts %+v", targets.MountRoot, spec.Volumes, spec.Containers[0].VolumeMounts)
	}

	finishJob(t, job, false, "BackoffLimitExceeded")
	snap = eventually(t, snap, "component failed", func(s *storagev1alpha1.Snapshot) bool {
		return s.Status.Components["data"].Phase == storagev1alpha1.ComponentFailed
	})
	if msg := snap.Status.Components["data"].Error; !strings.Contains(msg, "ended without reporting") || !strings.Contains(msg, "BackoffLimitExceeded") {
		t.Errorf("component error %q, want the executor's silent end and the Job's reason", msg)
	}
	first = eventually(t, first, "first session Failed", sessionPhase(corev1alpha1.BackupSessionFailed))

	retry := nthSession(t, ns, "app", 2)
	if retry.Spec.RetryLeft != 0 || retry.Spec.Session != "daily" {
		t.Errorf("retry spec %+v, want retryLeft 0 of session daily", retry.Spec)
	}
	eventually(t, first, "first session marked retried", func(b *corev1alpha1.BackupSession) bool { return ptr.Deref(b.Status.Retried, false) })
}

// A session succeeds when the executor reports its component, then runs retention; a second
// session of the same configuration started while one runs is skipped.
func TestSessionSucceedsAndAppliesRetentionAndConcurrentOneIsSkipped(t *testing.T) {
	ns := env.Namespace(t)
	backupSetup(t, ns, nil)
	first := nthSession(t, ns, "app", 1)
	snapName := "app-local-" + first.Name
	job := getJob(t, ns, snapName+"-data")
	eventually(t, first, "first session's executor ensured", func(b *corev1alpha1.BackupSession) bool {
		return shared.IsTrue(b.Status.Conditions, corev1alpha1.TypeBackupExecutorEnsured)
	})

	second := &corev1alpha1.BackupSession{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app-manual"},
		Spec: corev1alpha1.BackupSessionSpec{Invoker: first.Spec.Invoker, Session: "daily"}}
	create(t, second)
	second = eventually(t, second, "second session Skipped", sessionPhase(corev1alpha1.BackupSessionSkipped))
	if c := shared.FindCondition(second.Status.Conditions, corev1alpha1.TypeBackupSkipped); c == nil || !strings.Contains(c.Message, first.Name) {
		t.Errorf("skip condition %+v, want it to name the running session %s", c, first.Name)
	}

	snap := &storagev1alpha1.Snapshot{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: snapName}}
	reportComponent(t, snap, "data")
	finishJob(t, job, true, "")
	eventually(t, snap, "Snapshot Succeeded", func(s *storagev1alpha1.Snapshot) bool { return s.Status.Phase == storagev1alpha1.SnapshotSucceeded })

	retention := getJob(t, ns, executor.RetentionJobName(first, "app-local"))
	if !hasArgs(retention.Spec.Template.Spec.Containers[0].Args, "--repository", "app-local", "--retention-policy", ns+"/keep") {
		t.Errorf("retention Job args %v", retention.Spec.Template.Spec.Containers[0].Args)
	}
	finishJob(t, retention, true, "")
	first = eventually(t, first, "first session Succeeded", sessionPhase(corev1alpha1.BackupSessionSucceeded))
	if len(first.Status.RetentionPolicy) != 1 || first.Status.RetentionPolicy[0].Phase != corev1alpha1.RetentionPolicyApplied {
		t.Errorf("retention status %+v, want one Applied", first.Status.RetentionPolicy)
	}
}

// A restore of `latest` pauses the target's backups while it runs, runs one Job per component
// into the target's volume, and resumes the backups when it ends.
func TestRestorePausesBackupsAndResumesThem(t *testing.T) {
	ns := env.Namespace(t)
	bc := backupSetup(t, ns, nil)
	first := nthSession(t, ns, "app", 1)
	snap := &storagev1alpha1.Snapshot{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app-local-" + first.Name}}
	eventually(t, snap, "Snapshot", func(s *storagev1alpha1.Snapshot) bool { return s.Status.TotalComponents == 1 })
	reportComponent(t, snap, "data")
	eventually(t, snap, "Snapshot Succeeded", func(s *storagev1alpha1.Snapshot) bool { return s.Status.Phase == storagev1alpha1.SnapshotSucceeded })

	rs := &corev1alpha1.RestoreSession{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "back"},
		Spec: corev1alpha1.RestoreSessionSpec{Target: &shared.TypedObjectReference{Kind: targets.KindPVC, Name: "data"},
			DataSource: corev1alpha1.RestoreDataSource{Repository: "app-local", Snapshot: corev1alpha1.LatestSnapshot}}}
	create(t, rs)
	job := getJob(t, ns, "restore-back-data")
	spec := job.Spec.Template.Spec
	if !hasArgs(spec.Containers[0].Args, "--restoresession", "back", "--component", "data") || job.Labels[executor.LabelRestoreSession] != "back" ||
		!slices.ContainsFunc(spec.Volumes, func(v corev1.Volume) bool {
			return v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == "data"
		}) {
		t.Errorf("restore Job args %v labels %v volumes %+v", spec.Containers[0].Args, job.Labels, spec.Volumes)
	}
	bc = eventually(t, bc, "backups paused", func(b *corev1alpha1.BackupConfiguration) bool {
		return b.Spec.Paused && b.Annotations[restoresession.AnnotationPausedBy] == ns+"/back"
	})
	eventually(t, &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "trigger-app-daily"}}, "CronJob suspended",
		func(c *batchv1.CronJob) bool { return ptr.Deref(c.Spec.Suspend, false) })
	eventually(t, rs, "restore lists the paused configuration", func(r *corev1alpha1.RestoreSession) bool {
		return len(r.Status.PausedBackups) == 1 && r.Status.PausedBackups[0].Name == "app"
	})

	updateStatus(t, rs, func(r *corev1alpha1.RestoreSession) {
		if r.Status.Components == nil {
			r.Status.Components = map[string]corev1alpha1.ComponentRestoreStatus{}
		}
		r.Status.Components["data"] = corev1alpha1.ComponentRestoreStatus{Phase: storagev1alpha1.ComponentSucceeded, Duration: "1s"}
	})
	finishJob(t, job, true, "")
	eventually(t, rs, "restore Succeeded", func(r *corev1alpha1.RestoreSession) bool { return r.Status.Phase == corev1alpha1.RestoreSucceeded })
	eventually(t, bc, "backups resumed", func(b *corev1alpha1.BackupConfiguration) bool {
		_, marked := b.Annotations[restoresession.AnnotationPausedBy]
		return !b.Spec.Paused && !marked
	})
}

// A restore of a snapshot that does not exist is Invalid and names the field.
func TestRestoreOfAMissingSnapshotIsInvalid(t *testing.T) {
	ns := env.Namespace(t)
	backupSetup(t, ns, nil)
	rs := &corev1alpha1.RestoreSession{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "nothing"},
		Spec: corev1alpha1.RestoreSessionSpec{Target: &shared.TypedObjectReference{Kind: targets.KindPVC, Name: "data"},
			DataSource: corev1alpha1.RestoreDataSource{Repository: "app-local", Snapshot: "no-such-snapshot"}}}
	create(t, rs)
	rs = eventually(t, rs, "restore Invalid", func(r *corev1alpha1.RestoreSession) bool { return r.Status.Phase == corev1alpha1.RestoreInvalid })
	var msgs []string
	for _, c := range rs.Status.Conditions {
		msgs = append(msgs, c.Message)
	}
	if all := strings.Join(msgs, "; "); !strings.Contains(all, "spec.dataSource.snapshot") || !strings.Contains(all, "no-such-snapshot") {
		t.Errorf("conditions %q, want the field and the name", all)
	}
}

// A session whose Repository never becomes Ready ends Failed at its backupTimeout, saying why,
// instead of staying Pending for ever.
func TestSessionGivesUpOnARepositoryThatIsNeverReady(t *testing.T) {
	ns := env.Namespace(t)
	backupSetup(t, ns, func(s *corev1alpha1.Session) {
		// No such Secret: the Repository waits for it.
		s.Repositories[0].EncryptionSecret = &shared.ObjectReference{Name: "missing"}
	})
	bs := &corev1alpha1.BackupSession{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app-manual"},
		Spec: corev1alpha1.BackupSessionSpec{Invoker: shared.TypedLocalObjectReference{APIGroup: corev1alpha1.GroupVersion.Group,
			Kind: "BackupConfiguration", Name: "app"}, Session: "daily", BackupTimeout: &metav1.Duration{Duration: 2 * time.Second}}}
	create(t, bs)
	bs = eventually(t, bs, "session Failed", sessionPhase(corev1alpha1.BackupSessionFailed))
	c := shared.FindCondition(bs.Status.Conditions, corev1alpha1.TypeSnapshotsEnsured)
	if c == nil || c.Status != metav1.ConditionFalse || !strings.Contains(c.Message, "Repository app-local is not Ready") || !strings.Contains(c.Message, "gave up") {
		t.Errorf("SnapshotsEnsured %+v, want False naming the Repository and the give-up", c)
	}
}
