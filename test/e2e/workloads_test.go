//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	"github.com/cofferhq/coffer/api/shared"
	"github.com/cofferhq/coffer/bench/corpus"
	"github.com/cofferhq/coffer/test/localcluster"
)

// pauseTemplate is a pod that only holds its volumes: the workloads below exist for the volumes
// Coffer backs up, and the pause image is the one image every node of the local cluster has.
func pauseTemplate(app string, vol corev1.Volume) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app}},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: app, Image: localcluster.PauseImage, ImagePullPolicy: corev1.PullNever,
				VolumeMounts: []corev1.VolumeMount{{Name: vol.Name, MountPath: "/" + vol.Name}}}},
			Volumes: []corev1.Volume{vol},
		},
	}
}

// backupAndRestore backs up target once, empties dir, restores the latest snapshot of the
// target's repository into it and checks the tree came back bit-exact.
func (e *env) backupAndRestore(target shared.TypedObjectReference, dir string, component string) {
	e.t.Helper()
	want := hashDir(e.t, dir)
	e.backupConfiguration(target.Name, &target, []corev1alpha1.BackendReference{localBackend("")},
		session(never, repoInfo(target.Name, "local", target.Name)))
	bs := e.finishedSession(target.Name, 5*time.Minute)
	if bs.Status.Phase != corev1alpha1.BackupSessionSucceeded {
		e.t.Fatalf("BackupSession %s", bs.Status.Phase)
	}
	emptyDir(e.t, dir)
	rs := e.restore("restore", target.Name, target, component)
	if rs.Status.Phase != corev1alpha1.RestoreSucceeded {
		e.t.Fatalf("restore %s", rs.Status.Phase)
	}
	if got := hashDir(e.t, dir); got != want {
		e.t.Fatalf("restored tree hash %s, want %s", got, want)
	}
}

// A Deployment's claim is backed up as the component "data" while its pod runs, and restored.
func TestDeploymentBackupAndRestore(t *testing.T) {
	e := newEnv(t, "deploy")
	dir := e.volume("app-data", 16<<20, 20)
	e.claim("app-data")
	e.localStorage("local")
	e.create(&appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: e.ns},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "app"}},
			Template: pauseTemplate("app", corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "app-data"}}}),
		},
	})
	e.backupAndRestore(shared.TypedObjectReference{APIGroup: "apps", Kind: "Deployment", Name: "app"}, dir, "data")
}

// A DaemonSet's hostPath volume is backed up as one component per node, named after the node,
// by a Job pinned to that node, and restored there.
func TestDaemonSetBackupAndRestore(t *testing.T) {
	e := newEnv(t, "ds")
	dir := filepath.Join(volumesRoot, e.ns, "agent")
	if _, err := corpus.Generate(dir, corpus.Spec{Seed: 21, TotalBytes: 16 << 20}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	e.localStorage("local")
	e.create(&appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: e.ns},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}},
			Template: pauseTemplate("agent", corev1.Volume{Name: "state", VolumeSource: corev1.VolumeSource{
				HostPath: &corev1.HostPathVolumeSource{Path: dir}}}),
		},
	})
	// The DaemonSet's components are the nodes its pods run on.
	e.waitFor("the DaemonSet's pod scheduled", 2*time.Minute, func() (bool, error) {
		var pods corev1.PodList
		err := kube.List(e.ctx, &pods, client.InNamespace(e.ns), client.MatchingLabels{"app": "agent"})
		return err == nil && len(pods.Items) == 1 && pods.Items[0].Spec.NodeName != "", err
	})
	e.backupAndRestore(shared.TypedObjectReference{APIGroup: "apps", Kind: "DaemonSet", Name: "agent"}, dir, cluster.NodeName())
}
