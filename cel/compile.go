package cel

import (
	"fmt"
	"strings"
	"sync"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"k8s.io/utils/lru"
)

// Limits. PerCallCostLimit bounds one evaluation and RuntimeCostBudget all evaluations made for
// one object; both are Kubernetes' own figures for admission, so an expression that is cheap
// enough for a ValidatingAdmissionPolicy is cheap enough here.
const (
	PerCallCostLimit  uint64 = celconfig.PerCallLimit
	RuntimeCostBudget uint64 = celconfig.RuntimeCELCostBudget
	// MaxExpressionLength bounds what is parsed at all.
	MaxExpressionLength = 4096
	// interruptCheckFrequency is how many comprehension iterations run between checks of the
	// evaluation context, so a cancelled reconcile or admission request stops a long loop.
	interruptCheckFrequency = celconfig.CheckFrequency
)

// OutputType is the type an expression must evaluate to.
type OutputType string

const (
	OutputBool   OutputType = "bool"
	OutputString OutputType = "string"
)

func (o OutputType) celType() *cel.Type {
	if o == OutputString {
		return cel.StringType
	}
	return cel.BoolType
}

// Program is a compiled, checked expression ready to evaluate. It is immutable and safe for
// concurrent use.
type Program struct {
	expression string
	output     OutputType
	program    cel.Program
	// env and ast rebuild the program with a lower cost limit when a budget has less left than
	// the per-call limit.
	env *cel.Env
	ast *cel.Ast
}

// Expression is the source the program was compiled from.
func (p *Program) Expression() string { return p.expression }

// programCache holds compiled programs keyed by environment and expression: the same inputs
// always compile to the same program, so the key needs no object identity and stays valid across
// generations. It is bounded so that admission of many distinct expressions cannot grow it.
var programCache = struct {
	sync.Mutex
	cache *lru.Cache
}{cache: lru.New(4096)}

type cacheKey struct {
	env        string
	output     OutputType
	expression string
}

// plan makes an interruptible, cost-limited program.
func plan(env *cel.Env, ast *cel.Ast, limit uint64) (cel.Program, error) {
	return env.Program(ast,
		cel.CostLimit(limit),
		cel.InterruptCheckFrequency(interruptCheckFrequency),
		cel.EvalOptions(cel.OptOptimize, cel.OptTrackCost),
	)
}

// compile parses and checks expr in env and plans it. Errors are reported at path with the
// expression as the bad value.
func compile(env *cel.Env, envKey string, expr string, output OutputType, path *field.Path) (*Program, *field.Error) {
	if strings.TrimSpace(expr) == "" {
		return nil, field.Required(path, "a CEL expression is required")
	}
	if len(expr) > MaxExpressionLength {
		return nil, field.TooLong(path, "", MaxExpressionLength)
	}
	key := cacheKey{env: envKey, output: output, expression: expr}
	programCache.Lock()
	cached, ok := programCache.cache.Get(key)
	programCache.Unlock()
	if ok {
		return cached.(*Program), nil
	}

	ast, issues := env.Compile(expr)
	if issues != nil && issues.Err() != nil {
		return nil, field.Invalid(path, expr, "compilation failed: "+strings.TrimSpace(issues.Err().Error()))
	}
	got := ast.OutputType()
	want := output.celType()
	// A dyn result (for example a field of the untyped workload) can only be checked at run time;
	// every statically known type must match.
	if !got.IsExactType(want) && !got.IsExactType(types.DynType) {
		return nil, field.Invalid(path, expr, fmt.Sprintf("must evaluate to %s, but evaluates to %s", output, cel.FormatCELType(got)))
	}
	prog, err := plan(env, ast, PerCallCostLimit)
	if err != nil {
		return nil, field.Invalid(path, expr, "program construction failed: "+err.Error())
	}
	p := &Program{expression: expr, output: output, program: prog, env: env, ast: ast}
	programCache.Lock()
	programCache.cache.Add(key, p)
	programCache.Unlock()
	return p, nil
}
