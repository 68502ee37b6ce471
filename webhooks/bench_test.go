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

func (r *cachedReader) Get(_ context.Context, _ client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	r.ns.DeepCopyInto(obj.(*corev1.Namespace))
	return nil
}

func (r *cachedReader) List(_ context.Context, list client.ObjectList, _ ...client.ListOption) error {
	l := list.(*corev1alpha1.BackupBlueprintList)
	l.Items = make([]corev1alpha1.BackupBlueprint, len(r.blueprints))
	for i := range r.blueprints {
		r.blueprints[i].DeepCopyInto(&l.Items[i])
	}
	return nil
}

// latencies runs call from conc goroutines b.N times in all and reports p50 and p99 in µs.
func latencies(b *testing.B, conc int, call func()) {
	lat := make([]time.Duration, b.N)
	var next atomic.Int64
	b.SetParallelism(max(1, conc/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			start := time.Now()
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
