//go:build e2e

package e2e

import (
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	"github.com/cofferhq/coffer/api/shared"
	storagev1alpha1 "github.com/cofferhq/coffer/api/storage/v1alpha1"
	"github.com/cofferhq/coffer/controllers/backends"
	"github.com/cofferhq/coffer/controllers/executor"
	"github.com/cofferhq/coffer/engine"
	"github.com/cofferhq/coffer/test/localcluster"
	"github.com/cofferhq/coffer/test/servers"
)

const never = "0 0 1 1 *" // a schedule that does not fire during a test

func pvcTarget(name string) *shared.TypedObjectReference {
	return &shared.TypedObjectReference{Kind: "PersistentVolumeClaim", Name: name}
}

func (e *env) backupConfiguration(name string, target *shared.TypedObjectReference, backends []corev1alpha1.BackendReference, sess corev1alpha1.Session) {
	e.t.Helper()
	e.create(&corev1alpha1.BackupConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns},
		Spec:       corev1alpha1.BackupConfigurationSpec{Target: target, Backends: backends, Sessions: []corev1alpha1.Session{sess}},
	})
}

func localBackend(retention string) corev1alpha1.BackendReference {
	b := corev1alpha1.BackendReference{Name: "local", StorageRef: &shared.ObjectReference{Name: "local"}}
	if retention != "" {
		b.RetentionPolicy = &shared.ObjectReference{Name: retention}
	}
	return b
}

func session(schedule string, repos ...corev1alpha1.RepositoryInfo) corev1alpha1.Session {
	return corev1alpha1.Session{SessionConfig: corev1alpha1.SessionConfig{Name: "daily",
		Scheduler: &shared.SchedulerSpec{Schedule: schedule}}, Repositories: repos}
}

// (a) A PVC with generated data is backed up to a local BackupStorage and to an S3 server
// (versitygw on the cluster's bridge address), the data is deleted, and a RestoreSession from
// each brings it back bit-exact.
func TestPVCBackupAndRestore(t *testing.T) {
	e := newEnv(t, "pvc")
	dir := e.volume("data", 100<<20, 1)
	e.claim("data")
	want := hashDir(t, dir)

	s3 := startBridgeS3(t)
	e.create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s3-creds", Namespace: e.ns},
		StringData: map[string]string{backends.KeyAWSAccessKeyID: s3.AccessKey, backends.KeyAWSSecretAccessKey: s3.SecretKey}})
	s3.CreateBucket(t, "backups")
	e.localStorage("local")
	e.create(&storagev1alpha1.BackupStorage{
		ObjectMeta: metav1.ObjectMeta{Name: "s3", Namespace: e.ns},
		Spec: storagev1alpha1.BackupStorageSpec{Storage: storagev1alpha1.Backend{Provider: storagev1alpha1.ProviderS3,
			S3: &storagev1alpha1.S3Spec{Endpoint: s3.Endpoint, Bucket: "backups", Region: "us-east-1", SecretName: "s3-creds"}}},
	})
	e.backupConfiguration("data", pvcTarget("data"),
		[]corev1alpha1.BackendReference{localBackend(""), {Name: "s3", StorageRef: &shared.ObjectReference{Name: "s3"}}},
		session(never, repoInfo("data-local", "local", "data"), repoInfo("data-s3", "s3", "data")))

	bs := e.finishedSession("data", 5*time.Minute)
	if bs.Status.Phase != corev1alpha1.BackupSessionSucceeded {
		t.Fatalf("the first BackupSession is %s", bs.Status.Phase)
	}
	if len(bs.Status.Snapshots) != 2 {
		t.Fatalf("snapshots %+v, want one per repository", bs.Status.Snapshots)
	}
	reportSnapshotLatency(t, e, bs)

	for _, repo := range []string{"data-local", "data-s3"} {
		emptyDir(t, dir)
		rs := e.restore("restore-"+repo, repo, *pvcTarget("data"))
		if rs.Status.Phase != corev1alpha1.RestoreSucceeded {
			t.Fatalf("restore from %s: %s", repo, rs.Status.Phase)
		}
		if got := hashDir(t, dir); got != want {
			t.Fatalf("restored from %s: tree hash %s, want %s", repo, got, want)
		}
	}
}

// reportSnapshotLatency logs the time from a BackupSession's creation to its last Snapshot
// succeeding (a figure for the notes, never asserted).
func reportSnapshotLatency(t *testing.T, e *env, bs corev1alpha1.BackupSession) {
	var last time.Time
	for _, ref := range bs.Status.Snapshots {
		var s storagev1alpha1.Snapshot
		if err := kube.Get(e.ctx, client.ObjectKey{Namespace: e.ns, Name: ref.Name}, &s); err != nil {
			t.Fatal(err)
		}
		for _, c := range s.Status.Components {
			for _, st := range c.ResticStats {
				if st.Summary != nil && st.Summary.EndTime != nil && st.Summary.EndTime.After(last) {
					last = st.Summary.EndTime.Time
				}
			}
		}
	}
	t.Logf("FIGURE BackupSession creation to Snapshot Succeeded (100 MiB PVC, 2 repositories): %s", last.Sub(bs.CreationTimestamp.Time).Round(100*time.Millisecond))
}

// startBridgeS3 serves versitygw on the cluster's bridge address, the one host address pods
// reach.
func startBridgeS3(t *testing.T) *servers.S3 {
	t.Helper()
	s3, err := servers.RunS3On(servers.Tool(t, "versitygw"), t.TempDir(), bridgeAddress(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s3.Stop)
	return s3
}

func bridgeAddress(t *testing.T) string {
	iface, err := net.InterfaceByName("cni0")
	if err != nil {
		t.Fatalf("the cluster bridge cni0: %v", err)
	}
	addrs, err := iface.Addrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if ip, _, err := net.ParseCIDR(a.String()); err == nil && ip.To4() != nil {
			return ip.String()
		}
	}
	t.Fatal("cni0 has no IPv4 address")
	return ""
}

// (b) A StatefulSet with two replicas is backed up as one component per pod ordinal, and a
// restore brings back one ordinal's volume.
func TestStatefulSetPerOrdinal(t *testing.T) {
	e := newEnv(t, "sts")
	dirs := []string{e.volume("data-db-0", 8<<20, 10), e.volume("data-db-1", 8<<20, 11)}
	want := []string{hashDir(t, dirs[0]), hashDir(t, dirs[1])}
	if want[0] == want[1] {
		t.Fatal("the two ordinals should hold different data")
	}
	sc := storageClass
	e.create(&appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: e.ns},
		Spec: appsv1.StatefulSetSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "db"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "db", Image: localcluster.PauseImage,
					ImagePullPolicy: corev1.PullNever, VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}}}},
			},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				ObjectMeta: metav1.ObjectMeta{Name: "data"},
				Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					StorageClassName: &sc, Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: mustQuantity("2Gi")}}},
			}},
		},
	})
	e.localStorage("local")
	e.backupConfiguration("db", &shared.TypedObjectReference{Kind: "StatefulSet", Name: "db"}, []corev1alpha1.BackendReference{localBackend("")},
		session(never, repoInfo("db", "local", "db")))
	bs := e.finishedSession("db", 5*time.Minute)
	if bs.Status.Phase != corev1alpha1.BackupSessionSucceeded {
		t.Fatalf("BackupSession %s", bs.Status.Phase)
	}
	var snap storagev1alpha1.Snapshot
	if err := kube.Get(e.ctx, client.ObjectKey{Namespace: e.ns, Name: bs.Status.Snapshots[0].Name}, &snap); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"pod-0", "pod-1"} {
		if snap.Status.Components[c].Phase != storagev1alpha1.ComponentSucceeded {
			t.Fatalf("component %s: %+v", c, snap.Status.Components[c])
		}
	}
	emptyDir(t, dirs[1])
	rs := e.restore("restore-1", "db", shared.TypedObjectReference{Kind: "StatefulSet", Name: "db"}, "pod-1")
	if rs.Status.Phase != corev1alpha1.RestoreSucceeded {
		t.Fatalf("restore %s", rs.Status.Phase)
	}
	for i := range dirs {
		if got := hashDir(t, dirs[i]); got != want[i] {
			t.Fatalf("ordinal %d: tree hash %s, want %s", i, got, want[i])
		}
	}
}

// (c) The trigger CronJob fires on its schedule and its BackupSession succeeds.
func TestScheduledBackup(t *testing.T) {
	e := newEnv(t, "cron")
	e.volume("data", 1<<20, 3)
	e.claim("data")
	e.localStorage("local")
	e.backupConfiguration("data", pvcTarget("data"), []corev1alpha1.BackendReference{localBackend("")},
		session("* * * * *", repoInfo("data", "local", "data")))
	first := e.finishedSession("data", 3*time.Minute)
	scheduled := e.finishedSession("data", 3*time.Minute, first.Name)
	if scheduled.Status.Phase != corev1alpha1.BackupSessionSucceeded {
		t.Fatalf("scheduled BackupSession %s is %s", scheduled.Name, scheduled.Status.Phase)
	}
}

// (d) Retention keeps exactly what the policy says: keep the last 2 of 4 sessions, as objects
// and as restic snapshots.
func TestRetention(t *testing.T) {
	e := newEnv(t, "ret")
	dir := e.volume("data", 1<<20, 4)
	e.claim("data")
	e.localStorage("local")
	e.create(&storagev1alpha1.RetentionPolicy{ObjectMeta: metav1.ObjectMeta{Name: "keep-2", Namespace: e.ns},
		Spec: storagev1alpha1.RetentionPolicySpec{SuccessfulSnapshots: &storagev1alpha1.SuccessfulSnapshotsKeepPolicy{Last: ptr.To[int32](2)}}})
	e.backupConfiguration("data", pvcTarget("data"), []corev1alpha1.BackendReference{localBackend("keep-2")},
		session(never, repoInfo("data", "local", "data")))
	done := []string{e.finishedSession("data", 3*time.Minute).Name}
	for i := 0; i < 3; i++ {
		writeMarker(t, dir, i)
		trigger(t, e, "data")
		done = append(done, e.finishedSession("data", 3*time.Minute, done...).Name)
	}
	var last corev1alpha1.BackupSession
	if err := kube.Get(e.ctx, client.ObjectKey{Namespace: e.ns, Name: done[len(done)-1]}, &last); err != nil {
		t.Fatal(err)
	}
	if len(last.Status.RetentionPolicy) != 1 || last.Status.RetentionPolicy[0].Phase != corev1alpha1.RetentionPolicyApplied {
		t.Fatalf("retention status %+v", last.Status.RetentionPolicy)
	}
	var snaps storagev1alpha1.SnapshotList
	if err := kube.List(e.ctx, &snaps, client.InNamespace(e.ns)); err != nil {
		t.Fatal(err)
	}
	if len(snaps.Items) != 2 {
		t.Fatalf("%d Snapshots left, want 2", len(snaps.Items))
	}
	for _, s := range snaps.Items {
		if s.Spec.BackupSession != done[2] && s.Spec.BackupSession != done[3] {
			t.Fatalf("Snapshot %s of session %s kept; want those of %s and %s", s.Name, s.Spec.BackupSession, done[2], done[3])
		}
	}
	ids := resticSnapshots(t, e, "data", "daily", "data")
	if len(ids) != 2 {
		t.Fatalf("restic holds %d snapshots, want 2", len(ids))
	}
}

func writeMarker(t *testing.T, dir string, i int) {
	if err := exec.Command("sh", "-c", fmt.Sprintf("echo %d > %s", i, filepath.Join(dir, "marker"))).Run(); err != nil {
		t.Fatal(err)
	}
}

// trigger does what the CronJob's `coffer trigger` does, with a one-second pause so session
// names (which carry the Unix time) differ.
func trigger(t *testing.T, e *env, bc string) {
	time.Sleep(1100 * time.Millisecond)
	if _, err := cluster.Kubectl(e.ctx, "create", "job", "-n", e.ns,
		"--from=cronjob/"+shared.TriggerCronJobName(bc, "daily"), fmt.Sprintf("manual-%d", time.Now().UnixNano()%100000)); err != nil {
		t.Fatal(err)
	}
}

// resticSnapshots lists the restic snapshots of one component repository on the host.
func resticSnapshots(t *testing.T, e *env, repoDir, session, component string) []engine.Snapshot {
	eng := &engine.Restic{Binary: servers.Tool(t, "restic")}
	repo := resticRepo(e, repoDir, session, component)
	snaps, err := eng.Snapshots(e.ctx, repo, engine.SnapshotFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return snaps
}

func resticRepo(e *env, repoDir, session, component string) engine.Repo {
	return engine.Repo{
		Location: engine.Location{Backend: engine.Backend{Local: &engine.LocalBackend{Path: e.hostDataDir()}},
			Path: repoDir + "/" + engine.ComponentPath("v1", session, component)},
		Password: password,
		CacheDir: filepath.Join(e.t.TempDir(), "cache"),
	}
}

// (e) A failing pre-backup hook fails the session, and the retry produces a new session.
func TestFailingPreHookAndRetry(t *testing.T) {
	e := newEnv(t, "hook")
	e.volume("data", 1<<20, 5)
	e.claim("data")
	e.localStorage("local")
	e.create(&corev1alpha1.HookTemplate{ObjectMeta: metav1.ObjectMeta{Name: "refused", Namespace: e.ns},
		Spec: corev1alpha1.HookTemplateSpec{
			Executor: corev1alpha1.HookExecutor{Type: corev1alpha1.HookExecutorOperator},
			// Port 1 on the manager's own loopback: nothing listens, so the call fails at once.
			Action: &corev1alpha1.HookAction{HTTPGet: &corev1.HTTPGetAction{Host: "127.0.0.1", Port: intOrString(1), Path: "/ready"}},
		}})
	sess := session(never, repoInfo("data", "local", "data"))
	sess.Hooks = &corev1alpha1.BackupHooks{PreBackup: []corev1alpha1.HookInfo{{Name: "quiesce", HookTemplate: shared.ObjectReference{Name: "refused"}}}}
	sess.RetryConfig = &shared.RetryConfig{MaxRetry: 1, Delay: &metav1.Duration{Duration: time.Second}}
	sess.SessionHistoryLimit = 3
	e.backupConfiguration("data", pvcTarget("data"), []corev1alpha1.BackendReference{localBackend("")}, sess)

	first := e.finishedSession("data", 3*time.Minute)
	if first.Status.Phase != corev1alpha1.BackupSessionFailed {
		t.Fatalf("first session %s, want Failed", first.Status.Phase)
	}
	c := shared.FindCondition(first.Status.Conditions, corev1alpha1.TypePreBackupHooksExecutionSucceeded)
	if c == nil || c.Status != metav1.ConditionFalse || !strings.Contains(c.Message, "quiesce") {
		t.Fatalf("pre-backup hook condition %+v, want False naming the hook", c)
	}
	retry := e.finishedSession("data", 3*time.Minute, first.Name)
	if retry.Spec.RetryLeft != 0 {
		t.Fatalf("retry session has retryLeft %d, want 0", retry.Spec.RetryLeft)
	}
	if err := kube.Get(e.ctx, client.ObjectKeyFromObject(&first), &first); err != nil {
		t.Fatal(err)
	}
	if first.Status.Retried == nil || !*first.Status.Retried {
		t.Fatalf("first session not marked retried: %+v", first.Status)
	}
}

// (f) Killing the executor pod mid-backup fails its component, the retry succeeds, and
// `restic check --read-data` passes.
func TestKilledExecutorFailsAndRetrySucceeds(t *testing.T) {
	e := newEnv(t, "kill")
	dir := e.volume("data", 600<<20, 6)
	e.claim("data")
	want := hashDir(t, dir)
	e.localStorage("local")
	sess := session(never, repoInfo("data", "local", "data"))
	sess.RetryConfig = &shared.RetryConfig{MaxRetry: 1, Delay: &metav1.Duration{Duration: time.Second}}
	sess.SessionHistoryLimit = 3
	e.backupConfiguration("data", pvcTarget("data"), []corev1alpha1.BackendReference{localBackend("")}, sess)

	// Wait until the executor reports progress, then kill its pod.
	var victim corev1.Pod
	e.waitFor("a running backup", 3*time.Minute, func() (bool, error) {
		var snaps storagev1alpha1.SnapshotList
		if err := kube.List(e.ctx, &snaps, client.InNamespace(e.ns)); err != nil {
			return false, err
		}
		if len(snaps.Items) == 0 || snaps.Items[0].Status.Components["data"].Phase != storagev1alpha1.ComponentRunning {
			return false, nil
		}
		var pods corev1.PodList
		if err := kube.List(e.ctx, &pods, client.InNamespace(e.ns), client.MatchingLabels{executor.LabelRole: executor.RoleBackup}); err != nil {
			return false, err
		}
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodRunning {
				victim = p
				return true, nil
			}
		}
		return false, nil
	})
	if err := kube.Delete(e.ctx, &victim, client.GracePeriodSeconds(0)); err != nil {
		t.Fatal(err)
	}
	first := e.finishedSession("data", 3*time.Minute)
	if first.Status.Phase != corev1alpha1.BackupSessionFailed {
		t.Fatalf("session with a killed executor is %s, want Failed", first.Status.Phase)
	}
	var snap storagev1alpha1.Snapshot
	if err := kube.Get(e.ctx, client.ObjectKey{Namespace: e.ns, Name: first.Status.Snapshots[0].Name}, &snap); err != nil {
		t.Fatal(err)
	}
	if c := snap.Status.Components["data"]; c.Phase != storagev1alpha1.ComponentFailed || c.Error == "" {
		t.Fatalf("component of the killed executor: %+v, want Failed with a reason", c)
	}
	retry := e.finishedSession("data", 5*time.Minute, first.Name)
	if retry.Status.Phase != corev1alpha1.BackupSessionSucceeded {
		t.Fatalf("retry session %s", retry.Status.Phase)
	}
	eng := &engine.Restic{Binary: servers.Tool(t, "restic")}
	if err := eng.Check(e.ctx, resticRepo(e, "data", "daily", "data"), engine.CheckOptions{ReadData: true}); err != nil {
		t.Fatalf("restic check --read-data after the kill and the retry: %v", err)
	}
	emptyDir(t, dir)
	if rs := e.restore("after-kill", "data", *pvcTarget("data")); rs.Status.Phase != corev1alpha1.RestoreSucceeded {
		t.Fatalf("restore %s", rs.Status.Phase)
	}
	if got := hashDir(t, dir); got != want {
		t.Fatalf("restored tree hash %s, want %s", got, want)
	}
}
