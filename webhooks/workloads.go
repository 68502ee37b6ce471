package webhooks

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"gomodules.xyz/jsonpatch/v2"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	"github.com/cofferhq/coffer/api/shared"
	"github.com/cofferhq/coffer/blueprints"
)

// WorkloadPath is where the workload mutator is served.
const WorkloadPath = "/mutate-coffer-workloads"

// The workload mutator sees every write of the kinds blueprints apply to, since a selector may
// match a workload nobody annotated. failurePolicy is Ignore and the timeout 3 s: while Coffer is
// down, Deployments must still deploy, and the auto-backup controller resolves the same workload
// with the same function afterwards, reporting problems as Events.
// +kubebuilder:webhook:path=/mutate-coffer-workloads,mutating=true,failurePolicy=ignore,sideEffects=None,timeoutSeconds=3,groups=apps;"",resources=deployments;statefulsets;daemonsets;persistentvolumeclaims,verbs=create;update,versions=v1,name=mworkload.coffer.dev,admissionReviewVersions=v1,reinvocationPolicy=Never

// WorkloadMutator resolves the blueprint of an annotated or selected workload at admission with
// blueprints.ResolveWorkload, the function the auto-backup controller runs. A problem rejects the
// write with every problem named; a resolution stamps coffer.dev/blueprint-resolved with the
// blueprint and its generation. It writes nothing else (sideEffects: None). On a dry run the
// response's warnings preview the BackupConfiguration that would be created.
//
// +kubebuilder:rbac:groups=core.coffer.dev,resources=backupblueprints,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
type WorkloadMutator struct {
	// Reader lists BackupBlueprints and reads Namespaces (the manager's cache).
	Reader client.Reader
	Policy blueprints.SelectionPolicy
}

func (m *WorkloadMutator) Handle(ctx context.Context, req admission.Request) admission.Response {
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return admission.Allowed("")
	}
	workload := &unstructured.Unstructured{}
	if err := json.Unmarshal(req.Object.Raw, &workload.Object); err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	if workload.GetNamespace() == "" {
		workload.SetNamespace(req.Namespace)
	}
	var ns corev1.Namespace
	if err := m.Reader.Get(ctx, client.ObjectKey{Name: workload.GetNamespace()}, &ns); err != nil {
		return admission.Errored(http.StatusInternalServerError, fmt.Errorf("reading namespace %s: %w", workload.GetNamespace(), err))
	}
	var candidates corev1alpha1.BackupBlueprintList
	// The blueprints are only read: the cache's objects are used as they are, not deep-copied.
	if err := m.Reader.List(ctx, &candidates, client.UnsafeDisableDeepCopy); err != nil {
		return admission.Errored(http.StatusInternalServerError, fmt.Errorf("listing BackupBlueprints: %w", err))
	}
	bc, sel, errs := blueprints.ResolveWorkload(ctx, workload, &ns, candidates.Items, m.Policy)
	var warnings []string
	if bc != nil && len(errs) == 0 {
		var f findings
		m.configurationReferences(ctx, bc, sel.Blueprint, &f)
		errs, warnings = f.errs, f.warnings
	}
	if len(errs) > 0 {
		gk := schema.GroupKind{Group: req.Kind.Group, Kind: req.Kind.Kind}
		return admission.Response{AdmissionResponse: admissionv1.AdmissionResponse{Allowed: false,
			Result: &apierrors.NewInvalid(gk, workload.GetName(), errs).ErrStatus}}
	}
	warnings = append(warnings, sel.Skipped...)
	annotations := workload.GetAnnotations()
	_, stamped := annotations[shared.AnnotationBlueprintResolved]
	if sel.Blueprint == nil {
		if !stamped {
			return admission.Allowed("no BackupBlueprint applies").WithWarnings(warnings...)
		}
		return admission.Patched("no BackupBlueprint applies any more", stampPatch(annotations, nil)).WithWarnings(warnings...)
	}
	if req.DryRun != nil && *req.DryRun {
		warnings = append(warnings, preview(bc))
	}
	stamp := blueprints.ResolvedAnnotation(sel.Blueprint)
	return admission.Patched("", stampPatch(annotations, &stamp)).WithWarnings(warnings...)
}

// stampPatch is the JSON patch that sets the blueprint-resolved annotation to value, or removes
// it when value is nil. It is written directly: diffing the whole workload against a re-encoded
// copy costs more than resolving the blueprint.
func stampPatch(annotations map[string]string, value *string) jsonpatch.JsonPatchOperation {
	key := strings.NewReplacer("~", "~0", "/", "~1").Replace(shared.AnnotationBlueprintResolved)
	switch {
	case value == nil:
		return jsonpatch.JsonPatchOperation{Operation: "remove", Path: "/metadata/annotations/" + key}
	case annotations == nil:
		return jsonpatch.JsonPatchOperation{Operation: "add", Path: "/metadata/annotations",
			Value: map[string]string{shared.AnnotationBlueprintResolved: *value}}
	}
	return jsonpatch.JsonPatchOperation{Operation: "add", Path: "/metadata/annotations/" + key, Value: *value}
}

// configurationReferences checks the backends of the configuration a workload resolves to as
// its own admission will: a BackupStorage or RetentionPolicy that does not allow the
// configuration's namespace rejects the workload, at the blueprint field that names it. A
// missing default is only a warning here: the workload may be written before the default
// storage, and the auto-backup controller applies the configuration once it exists.
func (m *WorkloadMutator) configurationReferences(ctx context.Context, bc *corev1alpha1.BackupConfiguration, bp *corev1alpha1.BackupBlueprint, f *findings) {
	refs := References{Reader: m.Reader}
	from, err := refs.namespace(ctx, bc.Namespace)
	if err != nil {
		f.add(field.InternalError(field.NewPath("metadata", "namespace"), err))
		return
	}
	tmpl := blueprints.BlueprintPath(bp).Child("spec", "backupConfigurationTemplate")
	backends := append([]corev1alpha1.BackendReference(nil), bc.Spec.Backends...)
	var defaults findings
	refs.defaultBackends(ctx, &backends, from, tmpl, &defaults)
	f.warnings = append(f.warnings, defaults.warnings...)
	for _, ferr := range defaults.errs {
		f.warnings = append(f.warnings, fmt.Sprintf("BackupConfiguration %s/%s will not be admitted yet: %s", bc.Namespace, bc.Name, ferr.Error()))
	}
	refs.backendReferences(ctx, backends, from, tmpl, f)
}

// preview summarises the configuration a resolution produces, for a dry run's warnings.
func preview(bc *corev1alpha1.BackupConfiguration) string {
	var sessions []string
	for _, s := range bc.Spec.Sessions {
		var repos []string
		for _, r := range s.Repositories {
			repos = append(repos, r.Name+" on "+r.Backend+" at "+r.Directory)
		}
		schedule := ""
		if s.Scheduler != nil {
			schedule = s.Scheduler.Schedule
		}
		sessions = append(sessions, fmt.Sprintf("%s (%s) into %s", s.Name, schedule, strings.Join(repos, ", ")))
	}
	return fmt.Sprintf("would create BackupConfiguration %s/%s: sessions %s", bc.Namespace, bc.Name, strings.Join(sessions, "; "))
}
