package blueprints

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strings"
	"text/template"
	"text/template/parse"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// iterationFunc is called at the top of every range body that Coffer instruments, so loops are
// bounded even when they call nothing (for example {{range 1000000000}}).
const iterationFunc = "__coffer_iteration"

var (
	errTooManyIterations = fmt.Errorf("range loops ran more than %d iterations", MaxIterations)
	errOutputTooLarge    = errors.New("rendered output is too large")
)

// IsTemplate reports whether s contains template actions. Strings without them are literals and
// are used as they are.
func IsTemplate(s string) bool { return strings.Contains(s, "{{") }

// renderer renders the fields of one configuration; its budgets span all of them.
type renderer struct {
	params     *Params
	funcs      template.FuncMap
	iterations int
	outputLeft int
}

func newRenderer(p *Params) *renderer {
	r := &renderer{params: p, outputLeft: MaxRenderOutputBytes}
	r.funcs = FuncMap()
	r.funcs[iterationFunc] = func() (string, error) {
		r.iterations++
		if r.iterations > MaxIterations {
			return "", errTooManyIterations
		}
		return "", nil
	}
	return r
}

// parseField parses one field's template and checks Coffer's restrictions: no define, block or
// template (a field is one template; recursion could be unbounded), and references to .Variables
// only for declared variables. declared may be nil to skip that check. Range bodies are
// instrumented to count iterations.
func parseField(text string, funcs template.FuncMap, declared map[string]bool, path *field.Path) (*template.Template, *field.Error) {
	if len(text) > MaxTemplateBytes {
		return nil, field.TooLong(path, "", MaxTemplateBytes)
	}
	t, err := template.New("").Option("missingkey=error").Funcs(funcs).Parse(text)
	if err != nil {
		return nil, field.Invalid(path, text, cleanTemplateError(err))
	}
	if len(t.Templates()) > 1 {
		return nil, field.Invalid(path, text, "define and block are not allowed in blueprint fields")
	}
	if t.Tree == nil || t.Tree.Root == nil {
		return t, nil
	}
	tick := tickNode(funcs)
	var problems []string
	walk(t.Tree.Root, func(n parse.Node) {
		switch n := n.(type) {
		case *parse.TemplateNode:
			problems = append(problems, fmt.Sprintf("{{template %q}} is not allowed in blueprint fields", n.Name))
		case *parse.RangeNode:
			n.List.Nodes = append([]parse.Node{tick.Copy()}, n.List.Nodes...)
		case *parse.FieldNode:
			problems = append(problems, checkReference(n.Ident, declared)...)
		case *parse.VariableNode:
			if len(n.Ident) > 1 && n.Ident[0] == "$" {
				problems = append(problems, checkReference(n.Ident[1:], declared)...)
			}
		}
	})
	if len(problems) > 0 {
		return nil, field.Invalid(path, text, strings.Join(problems, "; "))
	}
	return t, nil
}

func checkReference(ident []string, declared map[string]bool) []string {
	if len(ident) == 0 {
		return nil
	}
	if !paramRoots[ident[0]] {
		return []string{fmt.Sprintf(".%s is not a blueprint parameter (use .Workload, .Namespace, .Blueprint or .Variables)", ident[0])}
	}
	if ident[0] == "Variables" && len(ident) > 1 && declared != nil && !declared[ident[1]] {
		names := make([]string, 0, len(declared))
		for n := range declared {
			names = append(names, n)
		}
		sort.Strings(names)
		msg := fmt.Sprintf("variable %q is not declared in spec.variables", ident[1])
		if len(names) > 0 {
			msg += " (declared: " + strings.Join(names, ", ") + ")"
		}
		return []string{msg}
	}
	return nil
}

var tickTemplate = template.Must(template.New("").Funcs(template.FuncMap{iterationFunc: func() string { return "" }}).Parse("{{" + iterationFunc + "}}"))

func tickNode(template.FuncMap) parse.Node { return tickTemplate.Tree.Root.Nodes[0] }

// walk visits every node under n.
func walk(n parse.Node, visit func(parse.Node)) {
	if n == nil {
		return
	}
	visit(n)
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		// Copy: visiting a RangeNode prepends to its list.
		for _, c := range append([]parse.Node(nil), n.Nodes...) {
			walk(c, visit)
		}
	case *parse.ActionNode:
		walk(n.Pipe, visit)
	case *parse.PipeNode:
		if n == nil {
			return
		}
		for _, d := range n.Decl {
			walk(d, visit)
		}
		for _, c := range n.Cmds {
			walk(c, visit)
		}
	case *parse.CommandNode:
		for _, a := range n.Args {
			walk(a, visit)
		}
	case *parse.ChainNode:
		walk(n.Node, visit)
	case *parse.IfNode:
		walkBranch(&n.BranchNode, visit)
	case *parse.RangeNode:
		walkBranch(&n.BranchNode, visit)
	case *parse.WithNode:
		walkBranch(&n.BranchNode, visit)
	case *parse.TemplateNode:
		walk(n.Pipe, visit)
	}
}

func walkBranch(b *parse.BranchNode, visit func(parse.Node)) {
	walk(b.Pipe, visit)
	if b.List != nil {
		walk(b.List, visit)
	}
	if b.ElseList != nil {
		walk(b.ElseList, visit)
	}
}

// cleanTemplateError drops text/template's prefix for our unnamed templates, leaving
// "line:col: what went wrong".
func cleanTemplateError(err error) string {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "template: :")
	msg = strings.Replace(msg, `executing "" at `, "at ", 1)
	return msg
}

// limitedWriter fails once more than limit bytes are written, which stops the template.
type limitedWriter struct {
	buf   strings.Builder
	limit int
}

func (w *limitedWriter) Write(p []byte) (int, error) {
	if w.buf.Len()+len(p) > w.limit {
		return 0, errOutputTooLarge
	}
	return w.buf.Write(p)
}

// renderString executes one field's template against the params.
func (r *renderer) renderString(text string, declared map[string]bool, path *field.Path) (string, *field.Error) {
	if !IsTemplate(text) {
		return text, nil
	}
	t, ferr := parseField(text, r.funcs, declared, path)
	if ferr != nil {
		return "", ferr
	}
	// Each field sees its own copy of the variables, so sprig's set/unset in one field cannot
	// change what another field renders.
	params := *r.params
	params.Variables = maps.Clone(r.params.Variables)
	w := &limitedWriter{limit: min(MaxFieldOutputBytes, r.outputLeft)}
	if err := t.Execute(w, &params); err != nil {
		switch {
		case errors.Is(err, errOutputTooLarge):
			return "", field.Invalid(path, text, fmt.Sprintf("renders to more than %d bytes", w.limit))
		case errors.Is(err, errTooManyIterations):
			return "", field.Invalid(path, text, errTooManyIterations.Error()+" across this blueprint's fields")
		default:
			return "", field.Invalid(path, text, cleanTemplateError(err))
		}
	}
	out := w.buf.String()
	// index on a missing map key yields a nil that text/template prints as "<no value>"
	// instead of failing; a backup configuration must never carry that text.
	if strings.Contains(out, "<no value>") {
		return "", field.Invalid(path, text, `renders "<no value>": a key it reads is missing; give it a default, for example (index .Workload.Labels "team" | default "none")`)
	}
	r.outputLeft -= len(out)
	return out, nil
}

// mapStrings replaces every string in a JSON value tree with f's result, in place, visiting map
// keys in sorted order so budgets are spent identically every time, and returns all problems.
func mapStrings(v any, path *field.Path, f func(string, *field.Path) (string, *field.Error)) (any, field.ErrorList) {
	switch t := v.(type) {
	case string:
		out, ferr := f(t, path)
		if ferr != nil {
			return t, field.ErrorList{ferr}
		}
		return out, nil
	case map[string]any:
		var errs field.ErrorList
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			var e field.ErrorList
			t[k], e = mapStrings(t[k], path.Child(k), f)
			errs = append(errs, e...)
		}
		return t, errs
	case []any:
		var errs field.ErrorList
		for i := range t {
			var e field.ErrorList
			t[i], e = mapStrings(t[i], path.Index(i), f)
			errs = append(errs, e...)
		}
		return t, errs
	default:
		return v, nil
	}
}

// toJSONTree turns a JSON-serialisable value into its generic tree.
func toJSONTree(v any, path *field.Path) (any, *field.Error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, field.InternalError(path, err)
	}
	var tree any
	if err := json.Unmarshal(raw, &tree); err != nil {
		return nil, field.InternalError(path, err)
	}
	return tree, nil
}

// renderInto renders every string field of in (any JSON-serialisable struct) and decodes the
// result into out. path is where in lives, for error paths.
func (r *renderer) renderInto(in, out any, declared map[string]bool, path *field.Path) field.ErrorList {
	tree, ferr := toJSONTree(in, path)
	if ferr != nil {
		return field.ErrorList{ferr}
	}
	tree, errs := mapStrings(tree, path, func(s string, p *field.Path) (string, *field.Error) {
		return r.renderString(s, declared, p)
	})
	if len(errs) > 0 {
		return errs
	}
	rendered, err := json.Marshal(tree)
	if err != nil {
		return field.ErrorList{field.InternalError(path, err)}
	}
	if err := json.Unmarshal(rendered, out); err != nil {
		return field.ErrorList{field.Invalid(path, "", "the rendered values do not fit the field types: "+err.Error())}
	}
	return nil
}

// ParseTemplates parses every template in v (a struct or JSON value) without executing it, for
// admission: syntax errors, forbidden actions and references to undeclared variables are all
// reported, each at its field's path.
func ParseTemplates(v any, declaredVariables []string, path *field.Path) field.ErrorList {
	tree, ferr := toJSONTree(v, path)
	if ferr != nil {
		return field.ErrorList{ferr}
	}
	declared := map[string]bool{}
	for _, n := range declaredVariables {
		declared[n] = true
	}
	funcs := newRenderer(&Params{}).funcs
	_, errs := mapStrings(tree, path, func(s string, p *field.Path) (string, *field.Error) {
		if !IsTemplate(s) {
			return s, nil
		}
		_, ferr := parseField(s, funcs, declared, p)
		return s, ferr
	})
	return errs
}

// RenderString renders a single template text with params; it is what `coffer blueprint render`
// and tests use to try one expression.
func RenderString(text string, params *Params, path *field.Path) (string, *field.Error) {
	return newRenderer(params).renderString(text, nil, path)
}
