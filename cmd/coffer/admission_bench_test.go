package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
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
	"github.com/cofferhq/coffer/test/envtest"
)

// benchBlueprint selects Deployments labelled backup=daily into the storage "local".
func benchBlueprint(ns string) *corev1alpha1.BackupBlueprint {
	return &corev1alpha1.BackupBlueprint{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "daily"},
		Spec: corev1alpha1.BackupBlueprintSpec{
			Subjects:  []corev1alpha1.Subject{{APIVersion: "apps/v1", Kind: "Deployment"}},
			Selector:  "object.metadata.?labels.?backup.orValue('') == 'daily'",
			Variables: []corev1alpha1.BlueprintVariable{{Name: "schedule", Default: ptr.To("0 0 1 1 *")}},
			BackupConfigurationTemplate: corev1alpha1.BackupConfigurationTemplate{
				Backends: []corev1alpha1.BackendReference{{Name: "local", StorageRef: &shared.ObjectReference{Name: "local"}}},
				Sessions: []corev1alpha1.Session{{
					SessionConfig: corev1alpha1.SessionConfig{Name: "daily", Scheduler: &shared.SchedulerSpec{Schedule: "{{ .Variables.schedule }}"}},
					Addon:         &corev1alpha1.AddonInfo{Name: "workload-addon", Tasks: []corev1alpha1.TaskReference{{Name: "logical-backup"}}},
					Repositories: []corev1alpha1.RepositoryInfo{{Name: "{{ .Workload.Name }}", Backend: "local", Directory: "{{ .Workload.Name }}",
						EncryptionSecret: &shared.ObjectReference{Name: "encryption"}}},
				}}},
		}}
}

func benchDeployment(ns, name string) *appsv1.Deployment {
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"backup": "daily"}},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app"}},
					// A workload with no persistent volume has nothing to back up and its
					// configuration is rightly NotReady.
					Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
						PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: name}}}}}}}}
}

// percentiles runs n calls from conc goroutines and returns p50 and p99.
func percentiles(n, conc int, call func(i int)) (p50, p99 time.Duration) {
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				start := time.Now()
				call(i)
				lat[i] = time.Since(start)
			}
		})
	}
	wg.Wait()
	slices.Sort(lat)
	return lat[n/2], lat[n*99/100]
}

// BenchmarkAdmissionThroughAPIServer: server-side dry-run creates through a real API server of
// a Deployment the workload mutator resolves, against the baseline of a ConfigMap no webhook
// sees, at 1, 50 and 200 concurrent clients (p50/p99 of each and the p50 ratio); then the time
// for 1,000 selected Deployments to get 1,000 Ready BackupConfigurations.
//
//	make bench-admission
func BenchmarkAdmissionThroughAPIServer(b *testing.B) {
	env := envtest.Start(b)
	ns := env.Namespace(b)
	root := b.TempDir()
	startWebhookManager(b, env, ns, 0)
	ctx := context.Background()
	c := env.Client
	for _, o := range []client.Object{
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "encryption"}, StringData: map[string]string{backends.KeyResticPassword: "bench"}},
		&storagev1alpha1.BackupStorage{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "local"},
			Spec: storagev1alpha1.BackupStorageSpec{Storage: storagev1alpha1.Backend{Provider: storagev1alpha1.ProviderLocal,
				Local: &storagev1alpha1.LocalSpec{MountPath: root, VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: root}}}}}},
	} {
		if err := c.Create(ctx, o); err != nil {
			b.Fatal(err)
		}
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if err := c.Create(ctx, benchBlueprint(ns)); err == nil {
			break
		} else if time.Now().After(deadline) {
			b.Fatalf("the blueprint is not admitted: %v", err)
		}
	}

	workloads := 1000
	if n, err := strconv.Atoi(os.Getenv("COFFER_BENCH_WORKLOADS")); err == nil && n > 0 {
		workloads = n
	}
	requests := 400
	if workloads < 100 {
		requests = 20 // a quick run
	}
	for _, conc := range []int{1, 50, 200} {
		mp50, mp99 := percentiles(requests, conc, func(i int) {
			if err := c.Create(ctx, benchDeployment(ns, fmt.Sprintf("dry-%d", i)), client.DryRunAll); err != nil {
				b.Error(err)
			}
		})
		bp50, bp99 := percentiles(requests, conc, func(i int) {
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("dry-%d", i)}}
			if err := c.Create(ctx, cm, client.DryRunAll); err != nil {
				b.Error(err)
			}
		})
		b.Logf("FIGURE admission through the API server, %3d concurrent: mutated Deployment p50 %v p99 %v; baseline ConfigMap p50 %v p99 %v; p50 ratio %.1fx",
			conc, mp50.Round(time.Microsecond), mp99.Round(time.Microsecond), bp50.Round(time.Microsecond), bp99.Round(time.Microsecond),
			float64(mp50)/float64(bp50))
	}

	start := time.Now()
	percentiles(workloads, min(20, workloads), func(i int) {
		if err := c.Create(ctx, benchDeployment(ns, fmt.Sprintf("app-%04d", i))); err != nil {
			b.Error(err)
		}
	})
	created := time.Since(start)
	for {
		var list corev1alpha1.BackupConfigurationList
		if err := c.List(ctx, &list, client.InNamespace(ns)); err != nil {
			b.Fatal(err)
		}
		ready := 0
		for _, bc := range list.Items {
			if bc.Status.Phase == corev1alpha1.BackupInvokerReady {
				ready++
			}
		}
		if ready == workloads {
			break
		}
		if time.Since(start) > time.Duration(workloads)*1200*time.Millisecond+time.Minute {
			why := ""
			if len(list.Items) > 0 {
				why = fmt.Sprintf("; the first: %+v", list.Items[0].Status)
			}
			b.Fatalf("FIGURE only %d of %d BackupConfigurations Ready in time (%d exist)%s", ready, workloads, len(list.Items), why)
		}
		time.Sleep(time.Second)
	}
	b.Logf("FIGURE %d selected Deployments created in %v; all %d BackupConfigurations Ready after %v",
		workloads, created.Round(time.Millisecond), workloads, time.Since(start).Round(time.Second))
}
