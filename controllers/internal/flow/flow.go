package flow

import (
	"context"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
)

// Phase is one step of a reconcile; it records facts in the scope S.
type Phase[S any] func(ctx context.Context, s S) (ctrl.Result, error)

// Run runs the phases in order until one fails or asks for a requeue.
func Run[S any](ctx context.Context, s S, phases ...Phase[S]) (ctrl.Result, error) {
	for _, p := range phases {
		res, err := p(ctx, s)
		if err != nil || !res.IsZero() {
			return res, err
		}
	}
	return ctrl.Result{}, nil
}

// Eventf records an Event about obj when a recorder is set (tests may leave it nil).
func Eventf(rec events.EventRecorder, obj runtime.Object, eventType, reason, action, format string, args ...any) {
	if rec != nil {
		rec.Eventf(obj, nil, eventType, reason, action, format, args...)
	}
}
