package blueprints

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/template"
	"text/template/parse"

	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/lru"
)

// iterationFunc is called at the top of every range body, so loops are bounded even when they
// call nothing (for example {{range 1000000000}}). It is passed the root data ($), which carries
// the render's budget, so the function map can be built once and shared.
const iterationFunc = "__coffer_iteration"

var (
	errTooManyIterations = fmt.Errorf("range loops ran more than %d iterations", MaxIterations)
	errOutputTooLarge    = errors.New("rendered output is too large")
)

// IsTemplate reports whether s contains template actions. Strings without them are literals and
// are used as they are.
func IsTemplate(s string) bool { return strings.Contains(s, "{{") }

// renderData is what a template executes against: the parameters (promoted, so templates read
// .Workload, .Variables, ...) and the render's budget, which templates cannot reach. The budget is
// a map, not a pointer, so that however a template prints the data (even fmt's raw form for a bad
// verb) no memory address appears and a render never differs from the next one.
type renderData struct {
	Params
	budget renderBudget
}

// Format prints renderData as its parameters whatever the verb, so no template can print the
// budget's address ({{ printf "%d" $ }}) and make a render differ from the next one.
func (d renderData) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, fmt.FormatString(f, verb), d.Params)
}

// renderBudget spans every field of one configuration: range iterations, output bytes left and
// the work functions did.
type renderBudget map[string]int

const (
	budgetIterations = "iterations"
	budgetOutputLeft = "outputLeft"
	budgetWork       = "work"
)

// templateFuncs is FuncMap with every function budgeted, plus the iteration counter. It is built
// once: registering ~200 functions with a template is most of the cost of parsing one, so
// templates are parsed with this map once and cached, and each call finds the render's budget in
// the data ($) the parser passes to it.
var templateFuncs = func() template.FuncMap {
	m := template.FuncMap{}
	for name, fn := range FuncMap() {
		m[name] = budgeted(name, fn)
	}
	m[iterationFunc] = func(d renderData) (string, error) {
		if d.budget == nil {
			return "", nil
		}
		d.budget[budgetIterations]++
		if d.budget[budgetIterations] > MaxIterations {
			return "", errTooManyIterations
		}
		return "", nil
	}
	return m
}()

// renderer renders the fields of one configuration.
type renderer struct {
	params *Params
	budget renderBudget
}

func newRenderer(p *Params) *renderer {
	return &renderer{params: p, budget: renderBudget{budgetOutputLeft: MaxRenderOutputBytes}}
}

// parsedField is a field's template, instrumented, with what it refers to.
type parsedField struct {
	tmpl *template.Template
	// problems are violations of Coffer's restrictions other than undeclared variables.
	problems []string
	// variables are the names read as .Variables.<name>.
	variables []string
	err       error
}

// parsedFields caches parsed templates by text: parsing depends on nothing else, and a parsed
// template is safe to execute concurrently.
var parsedFields = struct {
	sync.Mutex
	cache *lru.Cache
}{cache: lru.New(2048)}

func parseCached(text string) *parsedField {
	parsedFields.Lock()
	if v, ok := parsedFields.cache.Get(text); ok {
		parsedFields.Unlock()
		return v.(*parsedField)
	}
	parsedFields.Unlock()
	pf := parseUncached(text)
	parsedFields.Lock()
	parsedFields.cache.Add(text, pf)
	parsedFields.Unlock()
	return pf
}

// parseUncached parses one field's template and records Coffer's restrictions: no define, block
// or template (a field is one template; recursion could be unbounded), only parameters that exist,
// and which variables it reads. Range bodies are instrumented to count iterations.
func parseUncached(text string) *parsedField {
	t, err := template.New("").Option("missingkey=error").Funcs(templateFuncs).Parse(text)
	if err != nil {
		return &parsedField{err: err}
	}
	pf := &parsedField{tmpl: t}
	if len(t.Templates()) > 1 {
		pf.problems = append(pf.problems, "define and block are not allowed in blueprint fields")
		return pf
	}
	if t.Tree == nil || t.Tree.Root == nil {
		return pf
	}
	tick := tickTemplate.Tree.Root.Nodes[0]
	dollar := tick.(*parse.ActionNode).Pipe.Cmds[0].Args[1]
	reference := func(ident []string) {
		switch {
		case len(ident) == 0:
		case !paramRoots[ident[0]]:
			pf.problems = append(pf.problems, fmt.Sprintf(".%s is not a blueprint parameter (use .Workload, .Namespace, .Blueprint or .Variables)", ident[0]))
		case ident[0] == "Variables" && len(ident) > 1:
			pf.variables = append(pf.variables, ident[1])
		}
	}
	walk(t.Tree.Root, true, func(n parse.Node, rootDot bool) {
		switch n := n.(type) {
		case *parse.TemplateNode:
			pf.problems = append(pf.problems, fmt.Sprintf("{{template %q}} is not allowed in blueprint fields", n.Name))
		case *parse.RangeNode:
			n.List.Nodes = append([]parse.Node{tick.Copy()}, n.List.Nodes...)
		case *parse.CommandNode:
			// Pass the render's data to every function, which charges its work to the budget.
			if id, ok := n.Args[0].(*parse.IdentifierNode); ok && id.Ident != iterationFunc {
				if _, ours := templateFuncs[id.Ident]; ours {
					n.Args = append([]parse.Node{n.Args[0], dollar.Copy()}, n.Args[1:]...)
				}
			}
		case *parse.FieldNode:
			// Inside with and range bodies the dot is something else; only the root's fields are
			// parameters.
			if rootDot {
				reference(n.Ident)
			}
		case *parse.VariableNode:
			if len(n.Ident) > 1 && n.Ident[0] == "$" {
				reference(n.Ident[1:])
			}
		}
	})
	return pf
}

// parseField parses one field's template (from the cache) and checks it; declared, when not nil,
// are the variables it may read.
func parseField(text string, declared map[string]bool, path *field.Path) (*template.Template, *field.Error) {
	if len(text) > MaxTemplateBytes {
		return nil, field.TooLong(path, "", MaxTemplateBytes)
	}
	pf := parseCached(text)
	if pf.err != nil {
		return nil, field.Invalid(path, text, cleanTemplateError(pf.err))
	}
	problems := pf.problems
	if declared != nil {
		for _, v := range pf.variables {
			if !declared[v] {
				problems = append(problems, undeclared(v, declared))
			}
		}
	}
	if len(problems) > 0 {
		return nil, field.Invalid(path, text, strings.Join(problems, "; "))
	}
	return pf.tmpl, nil
}

func undeclared(name string, declared map[string]bool) string {
	names := make([]string, 0, len(declared))
	for n := range declared {
		names = append(names, n)
	}
	sort.Strings(names)
	msg := fmt.Sprintf("variable %q is not declared in spec.variables", name)
	if len(names) > 0 {
		msg += " (declared: " + strings.Join(names, ", ") + ")"
	}
	return msg
}

var tickTemplate = template.Must(template.New("").Funcs(templateFuncs).Parse("{{" + iterationFunc + " $}}"))

// walk visits every node under n; rootDot says whether the dot there is the template's root
// (it is not inside with and range bodies).
func walk(n parse.Node, rootDot bool, visit func(parse.Node, bool)) {
	if n == nil {
		return
	}
	visit(n, rootDot)
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		// Copy: visiting a RangeNode prepends to its list.
		for _, c := range append([]parse.Node(nil), n.Nodes...) {
			walk(c, rootDot, visit)
		}
	case *parse.ActionNode:
		walk(n.Pipe, rootDot, visit)
	case *parse.PipeNode:
		if n == nil {
			return
		}
		for _, d := range n.Decl {
			walk(d, rootDot, visit)
		}
		for _, c := range n.Cmds {
			walk(c, rootDot, visit)
		}
	case *parse.CommandNode:
		for _, a := range append([]parse.Node(nil), n.Args...) {
			walk(a, rootDot, visit)
		}
	case *parse.ChainNode:
		walk(n.Node, rootDot, visit)
	case *parse.IfNode:
		walkBranch(&n.BranchNode, rootDot, rootDot, visit)
	case *parse.RangeNode:
		walkBranch(&n.BranchNode, false, rootDot, visit)
	case *parse.WithNode:
		walkBranch(&n.BranchNode, false, rootDot, visit)
	case *parse.TemplateNode:
		walk(n.Pipe, rootDot, visit)
	}
}

// walkBranch walks a branch: its pipeline with the outer dot, its body with bodyRoot, and its
// else with the outer dot.
func walkBranch(b *parse.BranchNode, bodyRoot, outer bool, visit func(parse.Node, bool)) {
	walk(b.Pipe, outer, visit)
	if b.List != nil {
		walk(b.List, bodyRoot, visit)
	}
	if b.ElseList != nil {
		walk(b.ElseList, outer, visit)
	}
}

// cleanTemplateError drops text/template's prefix for our unnamed templates, leaving
// "line:col: what went wrong".
func cleanTemplateError(err error) string {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "template: :")
	msg = strings.Replace(msg, `executing "" at `, "at ", 1)
	// The parser passes $ to every function first; count arguments as the author wrote them.
	msg = argCount.ReplaceAllStringFunc(msg, func(m string) string {
		g := argCount.FindStringSubmatch(m)
		if _, ours := templateFuncs[g[1]]; !ours {
			return m
		}
		want, _ := strconv.Atoi(g[3])
		got, _ := strconv.Atoi(g[4])
		return fmt.Sprintf("wrong number of args for %s: want %s%d got %d", g[1], g[2], want-1, got-1)
	})
	msg = injectedDollar.ReplaceAllString(msg, "$1$2")
	msg = strings.ReplaceAll(msg, "blueprints.renderData", "the template root")
	return msg
}

// injectedDollar matches the $ the parser passed to a function, as error contexts print it.
var injectedDollar = regexp.MustCompile(`(<\w+) \$([ >])`)

var argCount = regexp.MustCompile(`wrong number of args for (\w+): want (at least )?(\d+) got (\d+)`)

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
	t, ferr := parseField(text, declared, path)
	if ferr != nil {
		return "", ferr
	}
	// Each field sees its own copy of the maps, so sprig's set/unset in one field cannot change
	// what another field renders.
	data := renderData{Params: *r.params, budget: r.budget}
	data.Variables = maps.Clone(r.params.Variables)
	data.Workload.Labels = maps.Clone(r.params.Workload.Labels)
	data.Workload.Annotations = maps.Clone(r.params.Workload.Annotations)
	data.Namespace.Labels = maps.Clone(r.params.Namespace.Labels)
	data.Namespace.Annotations = maps.Clone(r.params.Namespace.Annotations)
	w := &limitedWriter{limit: min(MaxFieldOutputBytes, r.budget[budgetOutputLeft])}
	if err := t.Execute(w, data); err != nil {
		switch {
		case errors.Is(err, errOutputTooLarge) && w.limit < MaxFieldOutputBytes:
			return "", field.Invalid(path, text, fmt.Sprintf("the fields of this blueprint together render to more than %d bytes", MaxRenderOutputBytes))
		case errors.Is(err, errOutputTooLarge):
			return "", field.Invalid(path, text, fmt.Sprintf("renders to more than %d bytes", w.limit))
		case errors.Is(err, errTooManyIterations):
			return "", field.Invalid(path, text, errTooManyIterations.Error()+" across this blueprint's fields")
		case errors.Is(err, errRenderWork):
			return "", field.Invalid(path, text, errRenderWork.Error())
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
	r.budget[budgetOutputLeft] -= len(out)
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
	_, errs := mapStrings(tree, path, func(s string, p *field.Path) (string, *field.Error) {
		if !IsTemplate(s) {
			return s, nil
		}
		_, ferr := parseField(s, declared, p)
		return s, ferr
	})
	return errs
}

// RenderString renders a single template text with params; it is what `coffer blueprint render`
// and tests use to try one expression.
func RenderString(text string, params *Params, path *field.Path) (string, *field.Error) {
	return newRenderer(params).renderString(text, nil, path)
}
