package webhooks

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	"github.com/cofferhq/coffer/api/shared"
	storagev1alpha1 "github.com/cofferhq/coffer/api/storage/v1alpha1"
)

// benchBlueprint is a realistic blueprint: a selector, variables and templated fields.
func benchBlueprint(name string, selector string) *corev1alpha1.BackupBlueprint {
	return &corev1alpha1.BackupBlueprint{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: name, Generation: 1},
		Spec: corev1alpha1.BackupBlueprintSpec{
			Subjects:  []corev1alpha1.Subject{{APIVersion: "apps/v1", Kind: "Deployment"}},
			Selector:  selector,
			Variables: []corev1alpha1.BlueprintVariable{{Name: "schedule", Default: ptr.To("0 2 * * *")}, {Name: "keep", Type: corev1alpha1.VariableInt, Default: ptr.To("7")}},
			BackupConfigurationTemplate: corev1alpha1.BackupConfigurationTemplate{
				Backends: []corev1alpha1.BackendReference{{Name: "local", StorageRef: &shared.ObjectReference{Name: "local"}}},
				Sessions: []corev1alpha1.Session{{
					SessionConfig: corev1alpha1.SessionConfig{Name: "daily", Scheduler: &shared.SchedulerSpec{Schedule: "{{ .Variables.schedule }}"}},
					Addon:         &corev1alpha1.AddonInfo{Name: "workload-addon", Tasks: []corev1alpha1.TaskReference{{Name: "logical-backup"}}},
					Repositories: []corev1alpha1.RepositoryInfo{{Name: "{{ .Workload.Name }}", Backend: "local",
						Directory: "{{ .Namespace.Name }}/{{ .Workload.Kind | lower }}/{{ .Workload.Name }}"}},
				}}},
		}}
}

// cachedReader answers like the manager's informer cache: deep copies of objects in memory.
type cachedReader struct {
	ns         *corev1.Namespace
	blueprints []corev1alpha1.BackupBlueprint
}

// The namespace's storage and its default retention policy, which the mutator checks the
// resolved configuration's backends against.
var (
	benchStorage = storagev1alpha1.BackupStorage{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "local"},
		Spec: storagev1alpha1.BackupStorageSpec{Default: true, Storage: storagev1alpha1.Backend{Provider: storagev1alpha1.ProviderLocal,
			Local: &storagev1alpha1.LocalSpec{MountPath: "/backups"}}}}
	benchPolicy = storagev1alpha1.RetentionPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "keep"},
		Spec: storagev1alpha1.RetentionPolicySpec{Default: true, MaxRetentionPeriod: "30d"}}
)

func (r *cachedReader) Get(_ context.Context, _ client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	switch o := obj.(type) {
	case *corev1.Namespace:
		r.ns.DeepCopyInto(o)
	case *storagev1alpha1.BackupStorage:
		benchStorage.DeepCopyInto(o)
	case *storagev1alpha1.RetentionPolicy:
		benchPolicy.DeepCopyInto(o)
	default:
		return fmt.Errorf("cachedReader has no %T", obj)
	}
	return nil
}

func (r *cachedReader) List(_ context.Context, list client.ObjectList, opts ...client.ListOption) error {
	if l, ok := list.(*storagev1alpha1.RetentionPolicyList); ok {
		l.Items = []storagev1alpha1.RetentionPolicy{*benchPolicy.DeepCopy()}
		return nil
	}
	l := list.(*corev1alpha1.BackupBlueprintList)
	l.Items = make([]corev1alpha1.BackupBlueprint, len(r.blueprints))
	shallow := slices.Contains(opts, client.ListOption(client.UnsafeDisableDeepCopy))
	for i := range r.blueprints {
		if shallow {
			l.Items[i] = r.blueprints[i] // what the cache returns: its own maps and slices
		} else {
			r.blueprints[i].DeepCopyInto(&l.Items[i])
		}
	}
	return nil
}

// latencies runs call from conc goroutines b.N times in all and reports p50 and p99 in µs.
// Each request is timed from the moment it is ready to run, and its goroutine then queues for a
// CPU behind the others (runtime.Gosched) before calling, as a server's connection goroutine
// queues when the network wakes it: the figure includes the wait for one of the 2 cores. Without
// the yield, goroutines that never block would hold a core for whole 10 ms preemption slices,
// which measures the scheduler's treatment of busy loops, not a server.
func latencies(b *testing.B, conc int, call func()) {
	lat := make([]time.Duration, b.N)
	var next atomic.Int64
	b.SetParallelism(max(1, conc/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			start := time.Now()
			runtime.Gosched()
			call()
			lat[next.Add(1)-1] = time.Since(start)
		}
	})
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkAdmissionHandlers measures the handler path of the workload mutator (20 blueprints
// with selectors, the last matching) and of the BackupBlueprint validator at 1, 50 and 200
// concurrent requests. The mutator reads deep copies from memory, as from the manager's informer
// cache in production.
func BenchmarkAdmissionHandlers(b *testing.B) {
	reader := &cachedReader{ns: &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "demo"}}}
	for i := range 19 {
		reader.blueprints = append(reader.blueprints, *benchBlueprint(fmt.Sprintf("other-%02d", i), fmt.Sprintf("object.metadata.?labels.?tier.orValue('') == 'tier-%d'", i)))
	}
	reader.blueprints = append(reader.blueprints, *benchBlueprint("daily", "object.metadata.?labels.?backup.orValue('') == 'daily'"))
	m := &WorkloadMutator{Reader: reader}
	d := &appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "web", Labels: map[string]string{"backup": "daily"}}}
	raw, _ := json.Marshal(d)
	req := admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{Operation: admissionv1.Create, Namespace: "demo",
		Kind: metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, Object: k8sruntime.RawExtension{Raw: raw}}}
	if resp := m.Handle(context.Background(), req); !resp.Allowed || len(resp.Patches) == 0 {
		b.Fatalf("the benchmark workload is not resolved: %+v", resp.Result)
	}
	bp := benchBlueprint("daily", "object.metadata.?labels.?backup.orValue('') == 'daily'")
	for _, conc := range []int{1, 50, 200} {
		b.Run(fmt.Sprintf("mutator/concurrency=%d", conc), func(b *testing.B) {
			latencies(b, conc, func() { m.Handle(context.Background(), req) })
		})
		b.Run(fmt.Sprintf("blueprint-validator/concurrency=%d", conc), func(b *testing.B) {
			latencies(b, conc, func() { ValidateBackupBlueprint(bp) })
		})
	}
}
