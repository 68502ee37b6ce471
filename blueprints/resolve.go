package blueprints

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation/field"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	"github.com/cofferhq/coffer/api/shared"
	"github.com/cofferhq/coffer/cel"
)

// BlueprintKind is the invoker kind on configurations generated from blueprints.
const BlueprintKind = "BackupBlueprint"

// ResolvedAnnotation is the value of coffer.dev/blueprint-resolved for a blueprint:
// <namespace>/<name>@<generation>.
func ResolvedAnnotation(bp *corev1alpha1.BackupBlueprint) string {
	return bp.Namespace + "/" + bp.Name + "@" + strconv.FormatInt(bp.Generation, 10)
}

// Resolve renders the BackupConfiguration a blueprint generates for a workload in namespace ns.
// It checks the blueprint's usage policy and subjects, the workload's variables and session
// names, renders every templated field and validates the result, and returns every problem at
// once: workload problems at metadata.annotations[...], blueprint problems at
// BackupBlueprint[ns/name].spec.... The configuration is ready for server-side apply.
func Resolve(bp *corev1alpha1.BackupBlueprint, workload *unstructured.Unstructured, ns *corev1.Namespace) (*corev1alpha1.BackupConfiguration, field.ErrorList) {
	var errs field.ErrorList
	refPath := annotationsPath.Key(shared.AnnotationBlueprintName)
	bpPath := BlueprintPath(bp)
	gvk := workload.GroupVersionKind()

	if allowed, err := allows(bp, ns, workload.GetNamespace()); err != nil {
		errs = append(errs, field.Invalid(bpPath.Child("spec", "usagePolicy"), "", err.Error()))
	} else if !allowed {
		errs = append(errs, field.Forbidden(refPath, fmt.Sprintf(
			"BackupBlueprint %s/%s does not allow namespace %q (spec.usagePolicy.allowedNamespaces)", bp.Namespace, bp.Name, workload.GetNamespace())))
	}
	if !AppliesToKind(bp, gvk) {
		var kinds []string
		for _, s := range bp.Spec.Subjects {
			kinds = append(kinds, s.Kind)
		}
		errs = append(errs, field.Forbidden(refPath, fmt.Sprintf(
			"BackupBlueprint %s/%s applies to %s, not %s (spec.subjects)", bp.Namespace, bp.Name, strings.Join(kinds, ", "), gvk.Kind)))
	}

	params, perrs := BuildParams(bp, workload, ns)
	errs = append(errs, perrs...)

	tmpl := bp.Spec.BackupConfigurationTemplate
	sessionNames, hasSessionNames := workload.GetAnnotations()[shared.AnnotationBlueprintSessionNames]
	sessionsPath := annotationsPath.Key(shared.AnnotationBlueprintSessionNames)
	// Session names are checked before rendering, so the problem is reported with the others,
	// unless a name is itself a template: then only the rendered names can be matched.
	templatedNames := false
	for _, s := range tmpl.Sessions {
		templatedNames = templatedNames || IsTemplate(s.Name)
	}
	var sessions []corev1alpha1.Session
	if !templatedNames {
		var serrs field.ErrorList
		sessions, serrs = sessionFilter(tmpl.Sessions, sessionNames, hasSessionNames, sessionsPath)
		errs = append(errs, serrs...)
	}
	if len(perrs) > 0 {
		// Rendering needs every variable; rendering with some missing would only repeat the
		// problems already found as template errors.
		return nil, errs
	}

	declared := map[string]bool{}
	for _, v := range bp.Spec.Variables {
		declared[v.Name] = true
	}
	r := newRenderer(params)
	tmplPath := bpPath.Child("spec", "backupConfigurationTemplate")
	var rendered corev1alpha1.BackupConfigurationTemplate
	// The whole template is rendered, not only the chosen sessions, so that errors carry the
	// template's own indexes; the chosen sessions are picked from the result.
	if rerrs := r.renderInto(tmpl, &rendered, declared, tmplPath); len(rerrs) > 0 {
		return nil, append(errs, rerrs...)
	}
	errs = append(errs, ValidateConfiguration(rendered.Backends, rendered.Sessions, tmplPath)...)
	if templatedNames {
		var serrs field.ErrorList
		sessions, serrs = sessionFilter(rendered.Sessions, sessionNames, hasSessionNames, sessionsPath)
		errs = append(errs, serrs...)
	}

	namespace := rendered.Namespace
	if namespace == "" {
		namespace = workload.GetNamespace()
	}
	// A configuration lives with its workload or with its blueprint: a blueprint must not be able
	// to write objects into namespaces neither of them is in.
	if namespace != workload.GetNamespace() && namespace != bp.Namespace {
		errs = append(errs, field.Invalid(tmplPath.Child("namespace"), namespace,
			fmt.Sprintf("must be the workload's namespace (%s) or the blueprint's (%s)", workload.GetNamespace(), bp.Namespace)))
	}
	if len(errs) > 0 {
		return nil, errs
	}

	chosen := map[string]bool{}
	for _, s := range sessions {
		chosen[s.Name] = true
	}
	var out []corev1alpha1.Session
	for _, s := range rendered.Sessions {
		if chosen[s.Name] {
			out = append(out, s)
		}
	}

	bc := &corev1alpha1.BackupConfiguration{
		TypeMeta: metav1.TypeMeta{APIVersion: corev1alpha1.GroupVersion.String(), Kind: "BackupConfiguration"},
		ObjectMeta: metav1.ObjectMeta{
			Name:        shared.AutoBackupConfigurationName(gvk.Kind, workload.GetName(), workload.GetNamespace(), namespace),
			Namespace:   namespace,
			Labels:      ConfigurationLabels(bp, workload),
			Annotations: map[string]string{shared.AnnotationBlueprintResolved: ResolvedAnnotation(bp)},
		},
		Spec: corev1alpha1.BackupConfigurationSpec{
			Target: &shared.TypedObjectReference{
				APIGroup:  gvk.Group,
				Kind:      gvk.Kind,
				Name:      workload.GetName(),
				Namespace: workload.GetNamespace(),
			},
			Backends: rendered.Backends,
			Sessions: out,
		},
	}
	return bc, nil
}

// ConfigurationLabels are the labels of a generated configuration: the blueprint as invoker and
// the workload as app-ref, so either can find its configurations with a label selector.
func ConfigurationLabels(bp *corev1alpha1.BackupBlueprint, workload *unstructured.Unstructured) map[string]string {
	l := shared.OwnerLabels(BlueprintKind, bp.Name, bp.Namespace)
	l[shared.LabelAppRefKind] = workload.GetKind()
	l[shared.LabelAppRefName] = shared.TruncateName(workload.GetName(), shared.MaxNameLength)
	l[shared.LabelAppRefNamespace] = workload.GetNamespace()
	return l
}

// ResolveWorkload selects the blueprint for a workload and resolves it. It returns a nil
// configuration and no errors when no blueprint applies. A named blueprint's problems are the
// workload's errors; a blueprint chosen by its selector that cannot be resolved for this workload
// is skipped (and reported in Selection.Skipped) in favour of the next match, so one broken
// blueprint cannot block writes of workloads that never asked for it. The webhook and the
// auto-backup controller both call this, so what admission accepts is what the controller creates.
func ResolveWorkload(ctx context.Context, workload *unstructured.Unstructured, ns *corev1.Namespace, candidates []corev1alpha1.BackupBlueprint, policy SelectionPolicy) (*corev1alpha1.BackupConfiguration, Selection, field.ErrorList) {
	var (
		sel  Selection
		bc   *corev1alpha1.BackupConfiguration
		errs field.ErrorList
	)
	serrs := eachMatch(ctx, workload, ns, candidates, policy, &sel, func(bp *corev1alpha1.BackupBlueprint, explicit bool) bool {
		resolved, rerrs := Resolve(bp, workload, ns)
		if explicit || len(rerrs) == 0 {
			sel.Blueprint, sel.Explicit = bp, explicit
			bc, errs = resolved, rerrs
			return false
		}
		sel.Skipped = append(sel.Skipped, fmt.Sprintf("BackupBlueprint %s/%s matches but cannot be resolved for this workload: %v",
			bp.Namespace, bp.Name, rerrs.ToAggregate()))
		return true
	})
	if len(serrs) > 0 {
		return nil, sel, serrs
	}
	return bc, sel, errs
}

// ValidateBlueprint checks a blueprint without a workload, for its own admission: the selector
// compiles to a bool, every template parses and refers only to declared variables, every default
// parses as its variable's type, and every literal (untemplated) schedule is a valid cron
// expression. path is the blueprint's spec path.
func ValidateBlueprint(bp *corev1alpha1.BackupBlueprint, specPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if bp.Spec.Selector != "" {
		if _, cerrs := cel.CompileSelector(bp.Spec.Selector, specPath.Child("selector")); len(cerrs) > 0 {
			errs = append(errs, cerrs...)
		}
	}
	var names []string
	for i, v := range bp.Spec.Variables {
		names = append(names, v.Name)
		if v.Default != nil {
			if _, err := ParseVariable(v.Type, *v.Default); err != nil {
				errs = append(errs, field.Invalid(specPath.Child("variables").Index(i).Child("default"), *v.Default, err.Error()))
			}
		}
	}
	tmplPath := specPath.Child("backupConfigurationTemplate")
	tmpl := bp.Spec.BackupConfigurationTemplate
	errs = append(errs, ParseTemplates(tmpl, names, tmplPath)...)
	for i, s := range tmpl.Sessions {
		if s.Scheduler != nil && !IsTemplate(s.Scheduler.Schedule) {
			if ferr := ValidateSchedule(s.Scheduler.Schedule, tmplPath.Child("sessions").Index(i).Child("scheduler", "schedule")); ferr != nil {
				errs = append(errs, ferr)
			}
		}
	}
	return errs
}
