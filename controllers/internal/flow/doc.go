// Package flow holds the shape every Coffer reconciler shares: an ordered list of phases over
// a scope, stopped by the first error or requeue, and nil-safe Events. It imports only
// controller-runtime and client-go.
package flow
