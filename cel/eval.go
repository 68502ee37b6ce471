package cel

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/interpreter"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Budget is the runtime cost shared by the evaluations made for one object, so an object with
// many expressions cannot multiply the per-call limit. It is safe for concurrent use.
type Budget struct {
	mu        sync.Mutex
	remaining uint64
}

// NewBudget returns a budget of total cost units; RuntimeCostBudget is the usual figure.
func NewBudget(total uint64) *Budget { return &Budget{remaining: total} }

// Remaining is the cost left.
func (b *Budget) Remaining() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.remaining
}

// charge subtracts cost and reports whether the budget covered it.
func (b *Budget) charge(cost uint64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if cost > b.remaining {
		b.remaining = 0
		return false
	}
	b.remaining -= cost
	return true
}

// ErrBudgetExhausted is wrapped by evaluation errors caused by the shared budget running out.
var ErrBudgetExhausted = errors.New("runtime cost budget exhausted")

// eval runs p over vars, charging budget, and converts the result to the program's output type.
// Every failure is a field error at path, so callers can put it straight into a status or an
// admission response.
func (p *Program) eval(ctx context.Context, vars map[string]any, budget *Budget, path *field.Path) (ref.Val, *field.Error) {
	program := p.program
	limitedByBudget := false
	if budget != nil {
		remaining := budget.Remaining()
		if remaining == 0 {
			return nil, field.Invalid(path, p.expression, fmt.Sprintf("not evaluated: %v", ErrBudgetExhausted))
		}
		// As Kubernetes does: a call may cost no more than what is left, so the budget is never
		// overshot.
		if remaining < PerCallCostLimit {
			var err error
			if program, err = plan(p.env, p.ast, remaining); err != nil {
				return nil, field.InternalError(path, err)
			}
			limitedByBudget = true
		}
	}
	val, details, err := program.ContextEval(ctx, vars)
	if budget != nil && details != nil && details.ActualCost() != nil {
		if !budget.charge(*details.ActualCost()) && err == nil {
			err = ErrBudgetExhausted
		}
	}
	var cancelled interpreter.EvalCancelledError
	if limitedByBudget && errors.As(err, &cancelled) && cancelled.Cause == interpreter.CostLimitExceeded {
		budget.charge(budget.Remaining() + 1)
		err = ErrBudgetExhausted
	}
	if err != nil {
		return nil, field.Invalid(path, p.expression, "evaluation failed: "+err.Error())
	}
	return val, nil
}

// EvalBool evaluates a bool program.
func (p *Program) EvalBool(ctx context.Context, vars map[string]any, budget *Budget, path *field.Path) (bool, *field.Error) {
	val, ferr := p.eval(ctx, vars, budget, path)
	if ferr != nil {
		return false, ferr
	}
	b, ok := val.(types.Bool)
	if !ok {
		return false, field.Invalid(path, p.expression, fmt.Sprintf("must evaluate to bool, but evaluated to %s", val.Type().TypeName()))
	}
	return bool(b), nil
}

// EvalString evaluates a string program.
func (p *Program) EvalString(ctx context.Context, vars map[string]any, budget *Budget, path *field.Path) (string, *field.Error) {
	val, ferr := p.eval(ctx, vars, budget, path)
	if ferr != nil {
		return "", ferr
	}
	s, ok := val.(types.String)
	if !ok {
		return "", field.Invalid(path, p.expression, fmt.Sprintf("must evaluate to string, but evaluated to %s", val.Type().TypeName()))
	}
	return string(s), nil
}
