package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cofferhq/coffer/addons"
	"github.com/cofferhq/coffer/api/shared"
	storagev1alpha1 "github.com/cofferhq/coffer/api/storage/v1alpha1"
	"github.com/cofferhq/coffer/controllers/backends"
	"github.com/cofferhq/coffer/engine"
)

// backupOptions are the flags of `coffer backup`.
type backupOptions struct {
	executorOptions
	snapshot      string
	path          string
	excludes      []string
	stdin         bool
	command       string
	appBinding    string
	stdinFilename string
	verifySubset  string
}

func newBackupCommand() *cobra.Command {
	o := &backupOptions{}
	cmd := &cobra.Command{
		Use:   "backup",
		Short: "Back up one component of a Snapshot: a directory, stdin or a command's output",
		Long: `Back up one component of a Snapshot into the Snapshot's Repository, and record the outcome
in the Snapshot's status.components[<component>]. This is the program a backup Job runs; with a
kubeconfig a person can run it by hand.

Exactly one source: --path DIR (with --exclude patterns), --stdin, --command, a shell command
whose standard output is the stream (a dump), or --app-binding, a database whose dump the addon
of its type streams. A command or dump that fails fails the backup and no snapshot is saved.`,
		Example: `  coffer backup -n demo --snapshot app-daily-1700000000 --component data --path /data
  coffer backup -n demo --snapshot db-daily-1700000000 --component dump --command 'pg_dumpall -U postgres' --stdin-filename dump.sql
  coffer backup -n demo --snapshot db-daily-1700000000 --component dump --app-binding demo/orders-db`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			ctx, stop := signalContext(cmd.Context())
			defer stop()
			c, err := o.newClient()
			if err != nil {
				return err
			}
			return runBackup(ctx, c, o, cmd.InOrStdin(), cmd.ErrOrStderr())
		},
	}
	o.addFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&o.snapshot, "snapshot", "", "the Snapshot whose component this backup is")
	f.StringVar(&o.host, "host", "", "host recorded in the restic snapshot; the component name when empty, so every run of a component finds its parent snapshot")
	f.StringVar(&o.path, "path", "", "directory to back up")
	f.StringArrayVar(&o.excludes, "exclude", nil, "pattern of paths to leave out of a --path backup (repeatable)")
	f.BoolVar(&o.stdin, "stdin", false, "back up standard input as one file")
	f.StringVar(&o.command, "command", "", "back up the standard output of this shell command (run with sh -c) as one file")
	f.StringVar(&o.appBinding, "app-binding", "", "back up the dump of the database this AppBinding (namespace/name) connects to")
	f.StringVar(&o.stdinFilename, "stdin-filename", "stdin", "file name of a --stdin or --command stream inside the snapshot")
	f.StringVar(&o.verifySubset, "verify-subset", "", `after the backup, also read back this part of the data ("5%", "1/10", "500M"); only metadata is checked when empty`)
	_ = cmd.MarkFlagRequired("snapshot")
	cmd.MarkFlagsMutuallyExclusive("path", "stdin", "command", "app-binding")
	cmd.MarkFlagsOneRequired("path", "stdin", "command", "app-binding")
	return cmd
}

func (o *backupOptions) validate() error {
	errs := []error{o.executorOptions.validate(), o.requireComponent()}
	if o.snapshot == "" {
		errs = append(errs, errors.New("--snapshot is required"))
	}
	errs = append(errs, exactlyOne("--path, --stdin, --command and --app-binding", o.path != "", o.stdin, o.command != "", o.appBinding != ""))
	if len(o.excludes) > 0 && o.path == "" {
		errs = append(errs, errors.New("--exclude applies only to --path"))
	}
	errs = append(errs, makeAbs("--path", &o.path))
	return errors.Join(errs...)
}

// backupResult is what a backup established; the final status patch is built from it.
type backupResult struct {
	summary   *engine.BackupSummary
	hostPath  string
	integrity *bool
}

// runBackup backs up the component and reports the outcome in the Snapshot's status. Once the
// Snapshot has been read, every failure ends in a Failed component: never a Running one left
// behind.
func runBackup(ctx context.Context, c client.Client, o *backupOptions, stdin io.Reader, stderr io.Writer) error {
	snap := &storagev1alpha1.Snapshot{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: o.namespace, Name: o.snapshot}, snap); err != nil {
		return fmt.Errorf("reading Snapshot %s/%s: %w", o.namespace, o.snapshot, err)
	}
	start := time.Now()
	res, err := backup(ctx, c, o, snap, stdin, stderr)
	duration := time.Since(start)

	pctx, cancel := finalContext(ctx)
	defer cancel()
	fields := backupOutcome(ctx, res, duration, err)
	if perr := patchComponent(pctx, c, snap, o.component, fields, patchAttempts); perr != nil {
		if err != nil {
			return fmt.Errorf("%s (and the status could not be written: %w)", failureMessage(ctx, err), perr)
		}
		return perr
	}
	if err != nil {
		return errors.New(failureMessage(ctx, err))
	}
	fmt.Fprintf(stderr, "coffer: backed up component %s of Snapshot %s/%s: restic snapshot %s, %s processed, %s uploaded, in %s\n",
		o.component, snap.Namespace, snap.Name, res.summary.SnapshotID, backends.HumanBytes(res.summary.TotalBytesProcessed),
		backends.HumanBytes(res.summary.DataAddedPacked), humanDuration(duration))
	return nil
}

// backup resolves the component's restic repository, checks that its backend answers, marks the
// component Running and runs the backup and the integrity check.
func backup(ctx context.Context, c client.Client, o *backupOptions, snap *storagev1alpha1.Snapshot, stdin io.Reader, stderr io.Writer) (*backupResult, error) {
	repoObj := &storagev1alpha1.Repository{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: snap.Namespace, Name: snap.Spec.Repository}, repoObj); err != nil {
		return nil, fmt.Errorf("reading Repository %s/%s: %w", snap.Namespace, snap.Spec.Repository, err)
	}
	bs, err := backends.StorageOf(ctx, c, repoObj)
	if err != nil {
		return nil, err
	}
	backend, err := backends.ForStorage(ctx, c, bs)
	if err != nil {
		return nil, fmt.Errorf("BackupStorage %s/%s: %w", bs.Namespace, bs.Name, err)
	}
	password, err := backends.Password(ctx, c, repoObj.Namespace, repoObj.Spec.EncryptionSecret)
	if err != nil {
		return nil, fmt.Errorf("Repository %s/%s: %w", repoObj.Namespace, repoObj.Name, err)
	}
	componentPath := engine.ComponentPath(snap.Spec.Version, snap.Spec.Session, o.component)
	repo := backends.Component(backend, repoObj, componentPath, password, o.cacheDir)

	initialized, err := preflight(ctx, repo, o.retryTimeout)
	if err != nil {
		return nil, err
	}
	running := fieldsOf(storagev1alpha1.Component{
		Path:   componentPath,
		Phase:  storagev1alpha1.ComponentRunning,
		Driver: shared.DriverRestic,
	}, "size", "sizeBytes", "duration", "integrity", "error", "resticStats")
	if err := patchComponent(ctx, c, snap, o.component, running, patchAttempts); err != nil {
		return nil, err
	}

	eng := o.newEngine()
	if !initialized {
		if err := eng.Init(ctx, repo); err != nil {
			return nil, err
		}
	}
	progress := startProgress(ctx, o.progressInterval, stderr, func(ctx context.Context, p engine.Progress) error {
		fields := map[string]any{"resticStats": []storagev1alpha1.ResticStats{{Progress: resticProgress(p)}}}
		return patchComponent(ctx, c, snap, o.component, fields, 1)
	})
	opts := engine.BackupOptions{StdinFilename: o.stdinFilename, Excludes: o.excludes, Progress: progress.update}
	res := &backupResult{}
	switch {
	case o.path != "":
		res.hostPath = o.path
		res.summary, err = eng.BackupDirectory(ctx, repo, o.path, opts)
	case o.stdin:
		res.hostPath = path.Join("/", o.stdinFilename)
		res.summary, err = eng.BackupStream(ctx, repo, stdin, opts)
	case o.appBinding != "":
		var db addons.Database
		if db, err = openDatabase(ctx, c, parseAppBinding(o.appBinding, o.namespace)); err == nil {
			res.hostPath = path.Join("/", db.DumpName())
			opts.StdinFilename = db.DumpName()
			src, stop := dumpSource(ctx, db)
			res.summary, err = eng.BackupStream(ctx, repo, src, opts)
			stop()
		}
	default:
		res.hostPath = path.Join("/", o.stdinFilename)
		var src *commandSource
		if src, err = startCommandSource(ctx, o.command, stderr); err == nil {
			res.summary, err = eng.BackupStream(ctx, repo, src, opts)
			src.Close()
		}
	}
	progress.stop()
	if err != nil {
		return res, err
	}

	// No lock: a lock left by a backup killed on another node counts as stale for restic only
	// after 30 minutes, and would fail this check although the backup is sound. Prunes run in
	// retention, never concurrently with a component's backup.
	check := engine.CheckOptions{ReadDataSubset: o.verifySubset, NoLock: true}
	if err := eng.Check(ctx, repo, check); err != nil {
		if errors.Is(err, engine.ErrIntegrity) {
			res.integrity = new(false)
		}
		return res, err
	}
	res.integrity = new(true)
	return res, nil
}

// backupOutcome is the final patch of the component: Succeeded with the backup's summary, or
// Failed with the error (and whatever the backup established before it failed, such as the
// snapshot a failed integrity check belongs to).
func backupOutcome(ctx context.Context, res *backupResult, duration time.Duration, err error) map[string]any {
	comp := storagev1alpha1.Component{Phase: storagev1alpha1.ComponentSucceeded, Duration: humanDuration(duration)}
	if err != nil {
		comp.Phase = storagev1alpha1.ComponentFailed
		comp.Error = failureMessage(ctx, err)
	}
	if res != nil {
		comp.Integrity = res.integrity
		if s := res.summary; s != nil {
			comp.Size = backends.HumanBytes(s.TotalBytesProcessed)
			comp.SizeBytes = new(s.TotalBytesProcessed)
			sum := &storagev1alpha1.ResticSummary{
				ID:       s.SnapshotID,
				HostPath: res.hostPath,
				Uploaded: backends.HumanBytes(s.DataAddedPacked),
				Size:     backends.HumanBytes(s.TotalBytesProcessed),
			}
			if !s.Start.IsZero() {
				sum.StartTime = new(metav1.NewTime(s.Start))
			}
			if !s.End.IsZero() {
				sum.EndTime = new(metav1.NewTime(s.End))
			}
			comp.ResticStats = []storagev1alpha1.ResticStats{{Summary: sum}}
		}
	}
	// Failed before the backup: no stats of this run, so none of an earlier one may stay.
	return fieldsOf(comp, "error", "integrity", "resticStats", "size", "sizeBytes")
}

// dumpSource is the database's dump as a stream. A dump that fails ends the stream with its
// error rather than io.EOF, so the engine aborts restic and no snapshot of a truncated dump is
// saved. stop ends a dump the engine stopped reading (restic failed): the client would otherwise
// block on a full pipe, holding its connection, snapshot and locks on the database.
func dumpSource(ctx context.Context, db addons.Database) (io.Reader, func()) {
	ctx, cancel := context.WithCancel(ctx)
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		pw.CloseWithError(db.Dump(ctx, pw))
	}()
	return pr, func() {
		_ = pr.CloseWithError(errors.New("the backup stopped reading the dump"))
		cancel()
		<-done
	}
}
