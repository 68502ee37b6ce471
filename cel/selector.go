package cel

import (
	"context"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

const selectorEnvKey = "selector"

// CompileSelector compiles a blueprint selector: a bool expression over `object` (the workload
// as it would be serialised) and `namespaceObject` (its Namespace). path is where the
// expression lives, for example spec.selector.
func CompileSelector(expr string, path *field.Path) (*Program, field.ErrorList) {
	env, err := selectorEnv()
	if err != nil {
		return nil, field.ErrorList{field.InternalError(path, err)}
	}
	p, ferr := compile(env, selectorEnvKey, expr, OutputBool, path)
	if ferr != nil {
		return nil, field.ErrorList{ferr}
	}
	return p, nil
}

// SelectorVars are the variables of a selector: the workload and its namespace as unstructured
// content (what runtime.DefaultUnstructuredConverter produces).
func SelectorVars(object, namespaceObject map[string]any) map[string]any {
	if object == nil {
		object = map[string]any{}
	}
	if namespaceObject == nil {
		namespaceObject = map[string]any{}
	}
	return map[string]any{VarObject: object, VarNamespaceObject: namespaceObject}
}

// Matches evaluates a selector program against a workload and its namespace.
func (p *Program) Matches(ctx context.Context, object, namespaceObject map[string]any, budget *Budget, path *field.Path) (bool, *field.Error) {
	return p.EvalBool(ctx, SelectorVars(object, namespaceObject), budget, path)
}
