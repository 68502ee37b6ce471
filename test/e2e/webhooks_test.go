//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	"github.com/cofferhq/coffer/api/shared"
	storagev1alpha1 "github.com/cofferhq/coffer/api/storage/v1alpha1"
	"github.com/cofferhq/coffer/test/localcluster"
)

// The API server of the local cluster calls Coffer's webhooks through their Service, trusting
// the CA the manager injected: a bad blueprint is rejected with every problem named.
func TestWebhookRejectsABadBlueprint(t *testing.T) {
	e := newEnv(t, "webhook")
	bp := &corev1alpha1.BackupBlueprint{ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: "bad"},
		Spec: corev1alpha1.BackupBlueprintSpec{
			Selector:  "object.metadata.labels.app ==",
			Variables: []corev1alpha1.BlueprintVariable{{Name: "keep", Type: corev1alpha1.VariableInt, Default: ptr.To("many")}},
			BackupConfigurationTemplate: corev1alpha1.BackupConfigurationTemplate{Sessions: []corev1alpha1.Session{{
				SessionConfig: corev1alpha1.SessionConfig{Name: "daily", Scheduler: &shared.SchedulerSpec{Schedule: "every day"}},
				Repositories:  []corev1alpha1.RepositoryInfo{{Name: "{{ .Workload.Name }}", Backend: "local", Directory: "x"}},
			}}},
		}}
	err := kube.Create(e.ctx, bp)
	if !apierrors.IsInvalid(err) {
		t.Fatalf("creating a bad blueprint: %v, want Invalid from the webhook", err)
	}
	for _, want := range []string{`admission webhook "vbackupblueprint.coffer.dev" denied`, "spec.selector", "spec.variables[0].default",
		"spec.backupConfigurationTemplate.sessions[0].scheduler.schedule"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("rejection %q does not name %q", err, want)
		}
	}
}

// A workload that names a blueprint that does not exist and sets a variable of the wrong type
// is rejected by the workload mutator, naming both annotations.
func TestWebhookRejectsABadWorkloadAnnotation(t *testing.T) {
	e := newEnv(t, "webhook")
	e.create(&corev1alpha1.BackupBlueprint{ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: "daily"},
		Spec: corev1alpha1.BackupBlueprintSpec{
			Variables: []corev1alpha1.BlueprintVariable{{Name: "keep", Type: corev1alpha1.VariableInt, Default: ptr.To("7")}},
			BackupConfigurationTemplate: corev1alpha1.BackupConfigurationTemplate{
				Backends: []corev1alpha1.BackendReference{{Name: "local", StorageRef: &shared.ObjectReference{Name: "local"}}},
				Sessions: []corev1alpha1.Session{{
					SessionConfig: corev1alpha1.SessionConfig{Name: "daily", Scheduler: &shared.SchedulerSpec{Schedule: never}},
					Addon:         &corev1alpha1.AddonInfo{Name: "workload-addon", Tasks: []corev1alpha1.TaskReference{{Name: "logical-backup"}}},
					Repositories:  []corev1alpha1.RepositoryInfo{{Name: "{{ .Workload.Name }}", Backend: "local", Directory: "{{ .Workload.Name }}"}},
				}}},
		}})
	for name, ann := range map[string]map[string]string{
		"missing": {shared.AnnotationBlueprintName: "weekly"},
		"typed":   {shared.AnnotationBlueprintName: "daily", shared.VariableAnnotationPrefix + "keep": "many", shared.AnnotationBlueprintSessionNames: "hourly"},
	} {
		d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns, Annotations: ann},
			Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
				Template: pauseTemplate(name, corev1.Volume{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})}}
		err := kube.Create(e.ctx, d)
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), `admission webhook "mworkload.coffer.dev" denied`) {
			t.Fatalf("Deployment %s: %v, want Invalid from the workload mutator", name, err)
		}
		for _, want := range map[string][]string{
			"missing": {"metadata.annotations[blueprint.coffer.dev/name]", e.ns + "/weekly"},
			"typed":   {"metadata.annotations[variables.coffer.dev/keep]", "metadata.annotations[blueprint.coffer.dev/session-names]"},
		}[name] {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("Deployment %s: rejection %q does not name %q", name, err, want)
			}
		}
	}
}

// autoBlueprint is a blueprint for Deployments that name it and StatefulSets its selector
// matches; SCHEDULE is replaced.
const autoBlueprint = `
apiVersion: core.coffer.dev/v1alpha1
kind: BackupBlueprint
metadata: {name: daily, namespace: NS}
spec:
  subjects:
  - {apiVersion: apps/v1, kind: Deployment}
  - {apiVersion: apps/v1, kind: StatefulSet}
  selector: "object.kind == 'StatefulSet' && object.metadata.?labels.?backup.orValue('') == 'daily'"
  variables:
  - {name: keep, type: int, default: "7"}
  backupConfigurationTemplate:
    deletionPolicy: OnDelete
    backends: [{name: local, storageRef: {name: local}}]
    sessions:
    - name: daily
      scheduler: {schedule: "SCHEDULE"}
      repositories:
      - name: "{{ .Workload.Name }}"
        backend: local
        directory: "{{ .Workload.Name }}"
        encryptionSecret: {name: encryption}
        deletionPolicy: WipeOut
`

// apply runs `kubectl apply -f` on a manifest, with NS replaced, as a user would.
func (e *env) apply(manifest string, replace ...string) (string, error) {
	e.t.Helper()
	f := filepath.Join(e.t.TempDir(), "manifest.yaml")
	if err := os.WriteFile(f, []byte(strings.NewReplacer(append([]string{"NS", e.ns}, replace...)...).Replace(manifest)), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return cluster.Kubectl(e.ctx, "apply", "-f", f)
}

// Auto-backup on the real cluster, driven by kubectl as a user drives it:
//   - a Deployment whose annotation has two problems is refused at `kubectl apply`, naming both;
//   - an annotated Deployment with data gets its BackupConfiguration (stamped by the webhook,
//     generated by the controller) and a Succeeded Snapshot, with no other object written by hand;
//   - a StatefulSet nobody annotated is picked up by the blueprint's selector;
//   - editing the blueprint re-renders both configurations.
func TestAutoBackupThroughKubectl(t *testing.T) {
	e := newEnv(t, "auto")
	e.volume("app-data", 4<<20, 40)
	e.claim("app-data")
	e.localStorage("local")
	if out, err := e.apply(autoBlueprint, "SCHEDULE", never); err != nil {
		t.Fatalf("%v: %s", err, out)
	}

	out, err := e.apply(`
apiVersion: apps/v1
kind: Deployment
metadata:
  name: typo
  namespace: NS
  annotations: {blueprint.coffer.dev/name: daily, blueprint.coffer.dev/session-names: hourly, variables.coffer.dev/keep: many}
spec:
  selector: {matchLabels: {app: typo}}
  template:
    metadata: {labels: {app: typo}}
    spec: {containers: [{name: app, image: PAUSE, imagePullPolicy: Never}]}
`, "PAUSE", localcluster.PauseImage)
	if err == nil {
		t.Fatalf("kubectl apply of a Deployment with a bad annotation succeeded: %s", out)
	}
	// kubectl lists the causes of an Invalid; the webhook's name is not among them.
	for _, want := range []string{`The Deployment "typo" is invalid`,
		`metadata.annotations[variables.coffer.dev/keep]: Invalid value: "many"`,
		`metadata.annotations[blueprint.coffer.dev/session-names]: Unsupported value: "hourly"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("kubectl apply's error does not say %q:\n%v", want, err)
		}
	}

	if out, err := e.apply(`
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
  namespace: NS
  annotations: {blueprint.coffer.dev/name: daily}
spec:
  selector: {matchLabels: {app: app}}
  template:
    metadata: {labels: {app: app}}
    spec:
      containers: [{name: app, image: PAUSE, imagePullPolicy: Never, volumeMounts: [{name: data, mountPath: /data}]}]
      volumes: [{name: data, persistentVolumeClaim: {claimName: app-data}}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
  namespace: NS
  labels: {backup: daily}
spec:
  replicas: 0
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: PAUSE, imagePullPolicy: Never}]}
`, "PAUSE", localcluster.PauseImage); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	var d appsv1.Deployment
	if err := kube.Get(e.ctx, client.ObjectKey{Namespace: e.ns, Name: "app"}, &d); err != nil {
		t.Fatal(err)
	}
	if got, want := d.Annotations[shared.AnnotationBlueprintResolved], e.ns+"/daily@1"; got != want {
		t.Errorf("the webhook stamped %q, want %q", got, want)
	}
	bs := e.finishedSession("deployment-app", 5*time.Minute)
	if bs.Status.Phase != corev1alpha1.BackupSessionSucceeded {
		t.Fatalf("the generated configuration's first session is %s", bs.Status.Phase)
	}
	var snap storagev1alpha1.Snapshot
	if err := kube.Get(e.ctx, client.ObjectKey{Namespace: e.ns, Name: bs.Status.Snapshots[0].Name}, &snap); err != nil {
		t.Fatal(err)
	}
	if snap.Status.Phase != storagev1alpha1.SnapshotSucceeded {
		t.Fatalf("snapshot %s", snap.Status.Phase)
	}

	// The blueprint's edit reaches every configuration it generated, the selected StatefulSet's
	// included.
	const weekly = "0 3 * * 0"
	if out, err := e.apply(autoBlueprint, "SCHEDULE", weekly); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for _, name := range []string{"deployment-app", "statefulset-db"} {
		e.waitFor("BackupConfiguration "+name+" re-rendered", 2*time.Minute, func() (bool, error) {
			var bc corev1alpha1.BackupConfiguration
			if err := kube.Get(e.ctx, client.ObjectKey{Namespace: e.ns, Name: name}, &bc); err != nil {
				return false, client.IgnoreNotFound(err)
			}
			return bc.Annotations[shared.AnnotationBlueprintResolved] == e.ns+"/daily@2" &&
				bc.Spec.Sessions[0].Scheduler.Schedule == weekly, nil
		})
	}
}
