package localcluster_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cofferhq/coffer/test/localcluster"
)

// TestCluster proves what the end-to-end suites rely on: pods of locally built images run to
// completion on the real kubelet; a pod on the pod network reaches the API server with plain
// in-cluster config through the kubernetes Service; Coffer's image runs its binaries as 65532
// with a read-only root and writes into a hostPath volume the host then reads.
func TestCluster(t *testing.T) {
	c := localcluster.ForTest(t)
	// The parallel subtests run after this function returns; t.Context ends after them.
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	t.Cleanup(cancel)
	ns := namespace(ctx, t, c)

	probe, err := c.BuildGoImage(ctx, "./test/localcluster/internal/probe", "coffer.dev/localcluster-probe")
	if err != nil {
		t.Fatal(err)
	}
	coffer, err := c.BuildCofferImage(ctx)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("in-cluster config through the kubernetes Service", func(t *testing.T) {
		t.Parallel()
		kube := c.Client()
		create(ctx, t, kube,
			&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "marker", Namespace: ns}},
			&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: ns}},
			&rbacv1.Role{
				ObjectMeta: metav1.ObjectMeta{Name: "list-configmaps", Namespace: ns},
				Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"list"}}},
			},
			&rbacv1.RoleBinding{
				ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: ns},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "list-configmaps"},
				Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "probe", Namespace: ns}},
			},
		)
		job := job(ns, "probe", corev1.PodSpec{
			ServiceAccountName: "probe",
			Containers:         []corev1.Container{container("probe", probe)},
		})
		create(ctx, t, kube, job)
		waitComplete(ctx, t, c, job)
		logs := podLogs(ctx, t, c, job, "probe")
		want := fmt.Sprintf("host=https://%s:443 configmaps=", localcluster.APIServiceIP)
		if !strings.Contains(logs, want) || !strings.Contains(logs, "marker") {
			t.Errorf("probe printed %q, want %q and the ConfigMap marker", logs, want)
		}
	})

	t.Run("hostPath volume written by Coffer's image", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		if err := os.Chown(dir, 65532, 65532); err != nil {
			t.Fatal(err)
		}
		restic := container("restic", coffer)
		restic.Command = []string{"/usr/local/bin/restic"}
		restic.Args = []string{"init", "--repo", "/backups/repo", "--no-cache"}
		restic.Env = []corev1.EnvVar{{Name: "RESTIC_PASSWORD", Value: "localcluster"}}
		restic.VolumeMounts = []corev1.VolumeMount{{Name: "backups", MountPath: "/backups"}, {Name: "tmp", MountPath: "/tmp"}}
		version := container("version", coffer)
		version.Args = []string{"version"}
		job := job(ns, "hostpath", corev1.PodSpec{
			InitContainers: []corev1.Container{version},
			Containers:     []corev1.Container{restic},
			Volumes: []corev1.Volume{
				{Name: "backups", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: dir, Type: ptr.To(corev1.HostPathDirectory)}}},
				{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			},
		})
		create(ctx, t, c.Client(), job)
		waitComplete(ctx, t, c, job)
		if logs := podLogs(ctx, t, c, job, "version"); strings.TrimSpace(logs) != "dev" {
			t.Errorf("coffer version printed %q, want dev", logs)
		}
		st, err := os.Stat(filepath.Join(dir, "repo", "config"))
		if err != nil {
			t.Fatalf("restic init in the pod left no repository on the host: %v", err)
		}
		if uid := st.Sys().(*syscall.Stat_t).Uid; uid != 65532 {
			t.Errorf("the repository's config belongs to uid %d, want 65532 (the image's user)", uid)
		}
	})
}

// namespace creates a namespace of its own for the test and deletes it afterwards, since the
// cluster may outlive the test.
func namespace(ctx context.Context, t *testing.T, c *localcluster.Cluster) string {
	t.Helper()
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "localcluster-" + hex.EncodeToString(b)}}
	create(ctx, t, c.Client(), ns)
	t.Cleanup(func() { _ = c.Client().Delete(context.Background(), ns) })
	return ns.Name
}

func create(ctx context.Context, t *testing.T, kube client.Client, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := kube.Create(ctx, o); err != nil {
			t.Fatalf("creating %T %s: %v", o, o.GetName(), err)
		}
	}
}

// container runs an image that was imported, never pulled, as the non-root user its image names,
// with nothing writable but its volumes.
func container(name, image string) corev1.Container {
	return corev1.Container{
		Name:            name,
		Image:           image,
		ImagePullPolicy: corev1.PullNever,
		SecurityContext: &corev1.SecurityContext{
			RunAsNonRoot:             ptr.To(true),
			ReadOnlyRootFilesystem:   ptr.To(true),
			AllowPrivilegeEscalation: ptr.To(false),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		},
	}
}

func job(ns, name string, spec corev1.PodSpec) *batchv1.Job {
	spec.RestartPolicy = corev1.RestartPolicyNever
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: batchv1.JobSpec{
			BackoffLimit: ptr.To[int32](0),
			Template:     corev1.PodTemplateSpec{Spec: spec},
		},
	}
}

// waitComplete waits for the Job to complete and fails the test with its pods' states when it
// fails or takes too long.
func waitComplete(ctx context.Context, t *testing.T, c *localcluster.Cluster, job *batchv1.Job) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		var j batchv1.Job
		if err := c.Client().Get(ctx, client.ObjectKeyFromObject(job), &j); err == nil {
			for _, cond := range j.Status.Conditions {
				if cond.Status != corev1.ConditionTrue {
					continue
				}
				switch cond.Type {
				case batchv1.JobComplete:
					return
				case batchv1.JobFailed:
					t.Fatalf("Job %s failed: %s\n%s", job.Name, cond.Message, describePods(c, job))
				}
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("Job %s did not complete: %v\n%s", job.Name, ctx.Err(), describePods(c, job))
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func describePods(c *localcluster.Cluster, job *batchv1.Job) string {
	out, err := c.Kubectl(context.Background(), "--namespace", job.Namespace, "describe", "pods", "--selector", "job-name="+job.Name)
	if err != nil {
		return err.Error()
	}
	return out
}

// podLogs reads a container's log through the API server and the kubelet.
func podLogs(ctx context.Context, t *testing.T, c *localcluster.Cluster, job *batchv1.Job, container string) string {
	t.Helper()
	pods, err := c.Clientset().CoreV1().Pods(job.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "job-name=" + job.Name})
	if err != nil {
		t.Fatalf("listing the pods of Job %s: %v", job.Name, err)
	}
	if len(pods.Items) == 0 {
		t.Fatalf("Job %s has no pods", job.Name)
	}
	raw, err := c.Clientset().CoreV1().Pods(job.Namespace).GetLogs(pods.Items[0].Name, &corev1.PodLogOptions{Container: container}).DoRaw(ctx)
	if err != nil {
		t.Fatalf("logs of %s/%s: %v", pods.Items[0].Name, container, err)
	}
	return string(raw)
}
