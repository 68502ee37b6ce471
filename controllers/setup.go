package controllers

import (
	"context"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/cofferhq/coffer/controllers/backupstorage"
	"github.com/cofferhq/coffer/controllers/repository"
	"github.com/cofferhq/coffer/controllers/snapshot"
	"github.com/cofferhq/coffer/engine/blob"
)

// Options configure the reconcilers.
type Options struct {
	// OperatorVersion is recorded in the files Coffer writes to backends.
	OperatorVersion string
	// BlobOptions reach backends through special clients (tests use emulators).
	BlobOptions []blob.Option
}

// Setup registers every reconciler with the manager.
func Setup(ctx context.Context, mgr ctrl.Manager, o Options) error {
	recorder := mgr.GetEventRecorder("coffer")
	if err := (&backupstorage.Reconciler{Client: mgr.GetClient(), Recorder: recorder,
		OperatorVersion: o.OperatorVersion, BlobOptions: o.BlobOptions}).SetupWithManager(ctx, mgr); err != nil {
		return err
	}
	if err := (&repository.Reconciler{Client: mgr.GetClient(), Recorder: recorder, BlobOptions: o.BlobOptions}).SetupWithManager(ctx, mgr); err != nil {
		return err
	}
	return (&snapshot.Reconciler{Client: mgr.GetClient(), Recorder: recorder, BlobOptions: o.BlobOptions}).SetupWithManager(mgr)
}
