package webhooks

import (
	"context"
	"encoding/json"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	"github.com/cofferhq/coffer/api/shared"
)

// The mutator reads the cache's blueprints without copying them, so it must never write to
// them: resolving, previewing and rejecting leave them exactly as they were. Its patch only
// touches the stamp.
func TestMutatorLeavesTheCacheAlone(t *testing.T) {
	reader := &cachedReader{ns: &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "demo"}},
		blueprints: []corev1alpha1.BackupBlueprint{*benchBlueprint("daily", "object.metadata.?labels.?backup.orValue('') == 'daily'")}}
	before := reader.blueprints[0].DeepCopy()
	m := &WorkloadMutator{Reader: reader}
	request := func(labels, annotations map[string]string, dryRun bool) admission.Response {
		d := &appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
			ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "web", Labels: labels, Annotations: annotations}}
		raw, _ := json.Marshal(d)
		return m.Handle(context.Background(), admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
			Operation: admissionv1.Create, Namespace: "demo", DryRun: ptr.To(dryRun),
			Kind: metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, Object: k8sruntime.RawExtension{Raw: raw}}})
	}
	cases := map[string]struct {
		resp  admission.Response
		allow bool
		patch string
	}{
		"selected, no annotations": {resp: request(map[string]string{"backup": "daily"}, nil, true), allow: true,
			patch: `[{"op":"add","path":"/metadata/annotations","value":{"coffer.dev/blueprint-resolved":"demo/daily@1"}}]`},
		"annotated": {resp: request(nil, map[string]string{shared.AnnotationBlueprintName: "daily", shared.VariableAnnotationPrefix + "keep": "9"}, false), allow: true,
			patch: `[{"op":"add","path":"/metadata/annotations/coffer.dev~1blueprint-resolved","value":"demo/daily@1"}]`},
		"a stale stamp": {resp: request(nil, map[string]string{shared.AnnotationBlueprintResolved: "demo/daily@1"}, false), allow: true,
			patch: `[{"op":"remove","path":"/metadata/annotations/coffer.dev~1blueprint-resolved"}]`},
		"a mistyped variable": {resp: request(nil, map[string]string{shared.AnnotationBlueprintName: "daily", shared.VariableAnnotationPrefix + "keep": "x"}, false)},
	}
	for name, tc := range cases {
		if tc.resp.Allowed != tc.allow {
			t.Errorf("%s: allowed %v, want %v: %+v", name, tc.resp.Allowed, tc.allow, tc.resp.Result)
		}
		if tc.patch != "" {
			got, _ := json.Marshal(tc.resp.Patches)
			if string(got) != tc.patch {
				t.Errorf("%s: patch %s, want %s", name, got, tc.patch)
			}
		}
	}
	if !equality.Semantic.DeepEqual(before, &reader.blueprints[0]) {
		t.Fatalf("the cached blueprint changed while resolving workloads")
	}
}
