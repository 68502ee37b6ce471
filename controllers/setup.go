package controllers

import (
	"context"

	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/cofferhq/coffer/blueprints"
	"github.com/cofferhq/coffer/controllers/autobackup"
	"github.com/cofferhq/coffer/controllers/backupconfiguration"
	"github.com/cofferhq/coffer/controllers/backupsession"
	"github.com/cofferhq/coffer/controllers/backupstorage"
	"github.com/cofferhq/coffer/controllers/executor"
	"github.com/cofferhq/coffer/controllers/hooks"
	"github.com/cofferhq/coffer/controllers/repository"
	"github.com/cofferhq/coffer/controllers/restoresession"
	"github.com/cofferhq/coffer/controllers/snapshot"
	"github.com/cofferhq/coffer/controllers/verification"
	"github.com/cofferhq/coffer/engine/blob"
)

// Options configure the reconcilers.
type Options struct {
	// OperatorVersion is recorded in the files Coffer writes to backends.
	OperatorVersion string
	// BlobOptions reach backends through special clients (tests use emulators).
	BlobOptions []blob.Option
	// RESTConfig reaches the API server for hooks that exec in pods.
	RESTConfig *rest.Config
	// Executor and Identity are what backup, restore, retention and trigger Jobs run as.
	Executor executor.Config
	Identity executor.Identity
	// Selection says whose blueprint selectors may pick up whose workloads (auto-backup).
	Selection blueprints.SelectionPolicy
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
	if err := (&snapshot.Reconciler{Client: mgr.GetClient(), Recorder: recorder, BlobOptions: o.BlobOptions}).SetupWithManager(mgr); err != nil {
		return err
	}
	if o.Executor.Image == "" {
		// The storage suites run only the storage controllers.
		return nil
	}
	runner := &hooks.Runner{Client: mgr.GetClient(), Config: o.RESTConfig}
	if err := (&backupconfiguration.Reconciler{Client: mgr.GetClient(), Recorder: recorder, Executor: o.Executor, Identity: o.Identity}).SetupWithManager(ctx, mgr); err != nil {
		return err
	}
	if err := (&backupsession.Reconciler{Client: mgr.GetClient(), Recorder: recorder, Executor: o.Executor, Hooks: runner}).SetupWithManager(ctx, mgr); err != nil {
		return err
	}
	if err := (&restoresession.Reconciler{Client: mgr.GetClient(), Recorder: recorder, Executor: o.Executor, Identity: o.Identity, Hooks: runner}).SetupWithManager(mgr); err != nil {
		return err
	}
	if err := (&verification.Reconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: recorder, Executor: o.Executor}).SetupWithManager(mgr); err != nil {
		return err
	}
	for gvk := range autobackup.Kinds {
		if err := (&autobackup.Reconciler{Client: mgr.GetClient(), Recorder: recorder, Kind: gvk, Policy: o.Selection}).SetupWithManager(mgr); err != nil {
			return err
		}
	}
	return nil
}
