// Package controllers is the home of Coffer's reconcilers, one sub-package per kind
// (controllers/<kind>/). Each follows STYLE.md: fetch, finalizer, a scope, ordered phases that
// record facts, and one deferred status patch computed by pure functions. Setup wires them all
// into a manager; the manager command and the envtest suites both call it, so tests run exactly
// the wiring a deployment runs.
//
// Controllers may import api, cel, blueprints and engine (for storage initialisation); they must
// not carry their own copy of CEL or template logic.
package controllers
