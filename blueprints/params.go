package blueprints

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	"github.com/cofferhq/coffer/api/shared"
)

// Params is the data root of every blueprint template.
type Params struct {
	// Workload is the object being backed up.
	Workload WorkloadParams
	// Namespace is the workload's namespace.
	Namespace NamespaceParams
	// Blueprint is the blueprint being rendered.
	Blueprint BlueprintParams
	// Variables hold every declared variable with its typed value: string, int64, bool,
	// time.Duration, or a quantity in canonical string form.
	Variables map[string]any
}

// WorkloadParams describe the workload.
type WorkloadParams struct {
	APIVersion  string
	Group       string
	Kind        string
	Name        string
	Namespace   string
	UID         string
	Labels      map[string]any
	Annotations map[string]any
}

// NamespaceParams describe the workload's namespace.
type NamespaceParams struct {
	Name        string
	Labels      map[string]any
	Annotations map[string]any
}

// BlueprintParams identify the blueprint.
type BlueprintParams struct {
	Name       string
	Namespace  string
	Generation int64
}

// paramRoots are the fields of Params a template may start from.
var paramRoots = map[string]bool{"Workload": true, "Namespace": true, "Blueprint": true, "Variables": true}

// annotationsPath is where a workload's blueprint annotations live.
var annotationsPath = field.NewPath("metadata", "annotations")

// BlueprintPath roots errors that belong to a blueprint rather than to the workload, so a user
// resolving a workload sees which object to fix: BackupBlueprint[ns/name].spec...
func BlueprintPath(bp *corev1alpha1.BackupBlueprint) *field.Path {
	return field.NewPath("BackupBlueprint").Key(bp.Namespace + "/" + bp.Name)
}

// BuildParams gathers what the templates see. Variable values come from the workload's
// variables.coffer.dev/<name> annotations, else the declared default; every problem with them is
// returned at once.
func BuildParams(bp *corev1alpha1.BackupBlueprint, workload *unstructured.Unstructured, ns *corev1.Namespace) (*Params, field.ErrorList) {
	gv, _ := schema.ParseGroupVersion(workload.GetAPIVersion())
	p := &Params{
		Workload: WorkloadParams{
			APIVersion:  workload.GetAPIVersion(),
			Group:       gv.Group,
			Kind:        workload.GetKind(),
			Name:        workload.GetName(),
			Namespace:   workload.GetNamespace(),
			UID:         string(workload.GetUID()),
			Labels:      nonNil(workload.GetLabels()),
			Annotations: nonNil(workload.GetAnnotations()),
		},
		Blueprint: BlueprintParams{Name: bp.Name, Namespace: bp.Namespace, Generation: bp.Generation},
	}
	if ns != nil {
		p.Namespace = NamespaceParams{Name: ns.Name, Labels: nonNil(ns.Labels), Annotations: nonNil(ns.Annotations)}
	} else {
		p.Namespace = NamespaceParams{Name: workload.GetNamespace(), Labels: map[string]any{}, Annotations: map[string]any{}}
	}
	vars, errs := variableValues(bp, workload.GetAnnotations())
	p.Variables = vars
	return p, errs
}

// hiddenAnnotations are not shown to templates: kubectl's copy of the last applied object can
// carry anything the workload holds (environment values among them), and a blueprint author has
// no business reading it.
var hiddenAnnotations = map[string]bool{"kubectl.kubernetes.io/last-applied-configuration": true}

// nonNil copies labels or annotations into the map type sprig's dict functions (keys, hasKey,
// pluck, dig) accept.
func nonNil(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if !hiddenAnnotations[k] {
			out[k] = v
		}
	}
	return out
}

func variableValues(bp *corev1alpha1.BackupBlueprint, annotations map[string]string) (map[string]any, field.ErrorList) {
	var errs field.ErrorList
	declared := map[string]bool{}
	var names []string
	for _, v := range bp.Spec.Variables {
		declared[v.Name] = true
		names = append(names, v.Name)
	}
	sort.Strings(names)

	var keys []string
	for k := range annotations {
		if strings.HasPrefix(k, shared.VariableAnnotationPrefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if name := strings.TrimPrefix(k, shared.VariableAnnotationPrefix); !declared[name] {
			detail := fmt.Sprintf("BackupBlueprint %s/%s declares no variable %q", bp.Namespace, bp.Name, name)
			if len(names) > 0 {
				detail += "; it declares: " + strings.Join(names, ", ")
			}
			errs = append(errs, field.Invalid(annotationsPath.Key(k), annotations[k], detail))
		}
	}

	values := map[string]any{}
	bpPath := BlueprintPath(bp).Child("spec", "variables")
	for i, v := range bp.Spec.Variables {
		key := shared.VariableAnnotationPrefix + v.Name
		raw, fromAnnotation := annotations[key]
		switch {
		case fromAnnotation:
		case v.Default != nil:
			raw = *v.Default
		case v.Required:
			detail := fmt.Sprintf("variable %q is required by BackupBlueprint %s/%s", v.Name, bp.Namespace, bp.Name)
			if v.Description != "" {
				detail += ": " + v.Description
			}
			errs = append(errs, field.Required(annotationsPath.Key(key), detail))
			continue
		default:
			values[v.Name] = zeroValue(v.Type)
			continue
		}
		val, err := ParseVariable(v.Type, raw)
		if err != nil {
			path := bpPath.Index(i).Child("default")
			if fromAnnotation {
				path = annotationsPath.Key(key)
			}
			errs = append(errs, field.Invalid(path, raw, err.Error()))
			continue
		}
		values[v.Name] = val
	}
	return values, errs
}

// ParseVariable parses a variable's text as its declared type.
func ParseVariable(t corev1alpha1.VariableType, raw string) (any, error) {
	switch t {
	case corev1alpha1.VariableString, "":
		return raw, nil
	case corev1alpha1.VariableInt:
		n, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("must be an integer")
		}
		return n, nil
	case corev1alpha1.VariableBool:
		b, err := strconv.ParseBool(strings.TrimSpace(raw))
		if err != nil {
			return nil, fmt.Errorf("must be true or false")
		}
		return b, nil
	case corev1alpha1.VariableDuration:
		d, err := time.ParseDuration(strings.TrimSpace(raw))
		if err != nil {
			return nil, fmt.Errorf("must be a duration such as 90s, 15m or 1h30m")
		}
		return d, nil
	case corev1alpha1.VariableQuantity:
		q, err := resource.ParseQuantity(strings.TrimSpace(raw))
		if err != nil {
			return nil, fmt.Errorf("must be a quantity such as 500Mi or 10Gi")
		}
		return q.String(), nil
	default:
		return nil, fmt.Errorf("unknown variable type %q", t)
	}
}

func zeroValue(t corev1alpha1.VariableType) any {
	switch t {
	case corev1alpha1.VariableInt:
		return int64(0)
	case corev1alpha1.VariableBool:
		return false
	case corev1alpha1.VariableDuration:
		return time.Duration(0)
	case corev1alpha1.VariableQuantity:
		return "0"
	default:
		return ""
	}
}
