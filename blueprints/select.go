package blueprints

import (
	"context"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	"github.com/cofferhq/coffer/api/shared"
	"github.com/cofferhq/coffer/cel"
)

// Selection is the blueprint chosen for a workload, if any.
type Selection struct {
	// Blueprint is nil when no blueprint applies.
	Blueprint *corev1alpha1.BackupBlueprint
	// Explicit is true when the workload named the blueprint in its annotations.
	Explicit bool
	// Skipped explains blueprints left out because their own configuration is broken for this
	// workload (a selector that failed to evaluate, a bad usage policy). They are the blueprint
	// author's problem, not the workload's, so they do not fail the selection; callers surface
	// them as warnings or Events.
	Skipped []string
}

// BlueprintRef is the blueprint a workload names in its annotations; ok is false when it names
// none. The namespace defaults to the workload's.
func BlueprintRef(workload *unstructured.Unstructured) (namespace, name string, ok bool) {
	ann := workload.GetAnnotations()
	name, ok = ann[shared.AnnotationBlueprintName]
	if !ok {
		return "", "", false
	}
	namespace = ann[shared.AnnotationBlueprintNamespace]
	if namespace == "" {
		namespace = workload.GetNamespace()
	}
	return namespace, name, true
}

// SelectionPolicy says whose selectors may pick up whose workloads.
type SelectionPolicy struct {
	// TrustedNamespaces hold blueprints whose selectors may match workloads in every namespace
	// their usage policy admits: typically the namespace Coffer runs in. A blueprint anywhere else
	// selects only workloads of its own namespace, so a tenant cannot capture another tenant's
	// workloads with a broad selector, a permissive usage policy and a high priority. Naming a
	// blueprint in an annotation is the workload owner's opt-in and is not restricted by this.
	TrustedNamespaces []string
}

func (p SelectionPolicy) trusts(ns string) bool {
	for _, t := range p.TrustedNamespaces {
		if t == ns {
			return true
		}
	}
	return false
}

// Select chooses the blueprint for a workload among candidates. A blueprint named in the
// workload's annotations wins; it must exist among the candidates. Otherwise the blueprints whose
// subjects include the workload's kind, whose usage policy admits its namespace and which the
// policy lets select there are ranked by priority (highest first), then by namespace/name, and
// the first whose CEL selector matches is chosen. The result does not depend on the order of
// candidates.
func Select(ctx context.Context, workload *unstructured.Unstructured, ns *corev1.Namespace, candidates []corev1alpha1.BackupBlueprint, policy SelectionPolicy) (Selection, field.ErrorList) {
	var sel Selection
	errs := eachMatch(ctx, workload, ns, candidates, policy, &sel, func(bp *corev1alpha1.BackupBlueprint, explicit bool) bool {
		sel.Blueprint, sel.Explicit = bp, explicit
		return false
	})
	return sel, errs
}

// eachMatch calls match with the named blueprint, or with each blueprint whose selector matches
// in rank order, until match returns false. Broken blueprints are recorded in sel.Skipped.
func eachMatch(ctx context.Context, workload *unstructured.Unstructured, ns *corev1.Namespace, candidates []corev1alpha1.BackupBlueprint, policy SelectionPolicy, sel *Selection, match func(*corev1alpha1.BackupBlueprint, bool) bool) field.ErrorList {
	if bpNamespace, bpName, ok := BlueprintRef(workload); ok {
		if bpName == "" {
			return field.ErrorList{field.Required(annotationsPath.Key(shared.AnnotationBlueprintName), "name a BackupBlueprint or remove the annotation")}
		}
		for i := range candidates {
			if candidates[i].Namespace == bpNamespace && candidates[i].Name == bpName {
				match(&candidates[i], true)
				return nil
			}
		}
		return field.ErrorList{field.NotFound(annotationsPath.Key(shared.AnnotationBlueprintName), bpNamespace+"/"+bpName)}
	}

	var ranked []*corev1alpha1.BackupBlueprint
	for i := range candidates {
		bp := &candidates[i]
		if bp.Spec.Selector == "" || !AppliesToKind(bp, workload.GroupVersionKind()) {
			continue
		}
		if bp.Namespace != workload.GetNamespace() && !policy.trusts(bp.Namespace) {
			continue
		}
		allowed, err := allows(bp, ns, workload.GetNamespace())
		if err != nil {
			sel.Skipped = append(sel.Skipped, fmt.Sprintf("BackupBlueprint %s/%s: spec.usagePolicy: %v", bp.Namespace, bp.Name, err))
			continue
		}
		if allowed {
			ranked = append(ranked, bp)
		}
	}
	sort.Slice(ranked, func(i, j int) bool {
		a, b := ranked[i], ranked[j]
		if a.Spec.Priority != b.Spec.Priority {
			return a.Spec.Priority > b.Spec.Priority
		}
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})

	nsObject := map[string]any{"metadata": map[string]any{"name": workload.GetNamespace()}}
	if ns != nil {
		if u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(ns); err == nil {
			nsObject = u
		}
	}
	// One budget for all selectors of one workload, spent in rank order, so the outcome is
	// deterministic and a crowd of expensive selectors cannot multiply the per-call limit.
	budget := cel.NewBudget(cel.RuntimeCostBudget)
	for _, bp := range ranked {
		selPath := BlueprintPath(bp).Child("spec", "selector")
		prog, cerrs := cel.CompileSelector(bp.Spec.Selector, selPath)
		if len(cerrs) > 0 {
			sel.Skipped = append(sel.Skipped, cerrs.ToAggregate().Error())
			continue
		}
		matched, ferr := prog.Matches(ctx, workload.Object, nsObject, budget, selPath)
		if ferr != nil {
			sel.Skipped = append(sel.Skipped, ferr.Error())
			continue
		}
		if matched && !match(bp, false) {
			return nil
		}
	}
	return nil
}

// AppliesToKind reports whether a blueprint's subjects include gvk; a blueprint without subjects
// applies to every kind. A subject's apiVersion, when set, must name the same group; any version
// of the group matches, so blueprints survive API version upgrades.
func AppliesToKind(bp *corev1alpha1.BackupBlueprint, gvk schema.GroupVersionKind) bool {
	if len(bp.Spec.Subjects) == 0 {
		return true
	}
	for _, s := range bp.Spec.Subjects {
		if s.Kind != gvk.Kind {
			continue
		}
		if s.APIVersion == "" {
			return true
		}
		if gv, err := schema.ParseGroupVersion(s.APIVersion); err == nil && gv.Group == gvk.Group {
			return true
		}
	}
	return false
}

func allows(bp *corev1alpha1.BackupBlueprint, ns *corev1.Namespace, nsName string) (bool, error) {
	policy := shared.UsagePolicy{}
	if bp.Spec.UsagePolicy != nil {
		policy = *bp.Spec.UsagePolicy
	}
	var labels map[string]string
	if ns != nil {
		labels = ns.Labels
	}
	return policy.Allows(bp.Namespace, nsName, labels)
}
