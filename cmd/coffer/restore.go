package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	storagev1alpha1 "github.com/cofferhq/coffer/api/storage/v1alpha1"
	"github.com/cofferhq/coffer/controllers/backends"
	"github.com/cofferhq/coffer/engine"
)

// restoreOptions are the flags of `coffer restore`.
type restoreOptions struct {
	executorOptions
	restoreSession string
	target         string
	stdout         bool
	command        string
	appBinding     string
}

func newRestoreCommand() *cobra.Command {
	o := &restoreOptions{}
	cmd := &cobra.Command{
		Use:   "restore",
		Short: "Restore one component of a RestoreSession's snapshot: into a directory, to stdout or into a command",
		Long: `Restore one component of the Snapshot a RestoreSession names (dataSource.snapshot, or "latest":
the newest Succeeded Snapshot of dataSource.repository), and record the outcome in the
RestoreSession's status.components[<component>]. This is the program a restore Job runs; with a
kubeconfig a person can run it by hand.

Exactly one destination: --target DIR, --stdout, --command, a shell command that reads the
stream on its standard input (a database client), or --app-binding, a database the addon of its
type restores the dump into. The command or the database failing fails the restore.`,
		Example: `  coffer restore -n demo --restoresession app-restore --component data --target /data
  coffer restore -n demo --restoresession db-restore --component dump --command 'psql -U postgres'
  coffer restore -n demo --restoresession db-restore --component dump --app-binding demo/orders-db-scratch`,
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
			return runRestore(ctx, c, o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	o.addFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&o.restoreSession, "restoresession", "", "the RestoreSession this restore works for")
	f.StringVar(&o.target, "target", "", "directory to restore the component's tree into")
	f.BoolVar(&o.stdout, "stdout", false, "write the component's stream to standard output")
	f.StringVar(&o.command, "command", "", "feed the component's stream to this shell command (run with sh -c) on its standard input")
	f.StringVar(&o.appBinding, "app-binding", "", "restore the component's dump into the database this AppBinding (namespace/name) connects to")
	_ = cmd.MarkFlagRequired("restoresession")
	cmd.MarkFlagsMutuallyExclusive("target", "stdout", "command", "app-binding")
	cmd.MarkFlagsOneRequired("target", "stdout", "command", "app-binding")
	return cmd
}

func (o *restoreOptions) validate() error {
	errs := []error{o.executorOptions.validate(), o.requireComponent()}
	if o.restoreSession == "" {
		errs = append(errs, errors.New("--restoresession is required"))
	}
	errs = append(errs, exactlyOne("--target, --stdout, --command and --app-binding", o.target != "", o.stdout, o.command != "", o.appBinding != ""))
	errs = append(errs, makeAbs("--target", &o.target))
	return errors.Join(errs...)
}

// runRestore restores the component and reports the outcome in the RestoreSession's status.
// Once the RestoreSession has been read, every failure ends in a Failed component.
func runRestore(ctx context.Context, c client.Client, o *restoreOptions, stdout, stderr io.Writer) error {
	rs := &corev1alpha1.RestoreSession{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: o.namespace, Name: o.restoreSession}, rs); err != nil {
		return fmt.Errorf("reading RestoreSession %s/%s: %w", o.namespace, o.restoreSession, err)
	}
	start := time.Now()
	sum, from, err := restore(ctx, c, o, rs, stdout, stderr)
	duration := time.Since(start)

	status := corev1alpha1.ComponentRestoreStatus{Phase: storagev1alpha1.ComponentSucceeded, Duration: humanDuration(duration)}
	if err != nil {
		status.Phase = storagev1alpha1.ComponentFailed
		status.Error = failureMessage(ctx, err)
	}
	if sum != nil {
		status.Progress = resticProgress(engine.Progress{PercentDone: 1, TotalFiles: sum.FilesRestored, FilesDone: sum.FilesRestored,
			TotalBytes: sum.BytesRestored, BytesDone: sum.BytesRestored, Elapsed: sum.Duration})
	}
	pctx, cancel := finalContext(ctx)
	defer cancel()
	if perr := patchComponent(pctx, c, rs, o.component, fieldsOf(status, "error"), patchAttempts); perr != nil {
		if err != nil {
			return fmt.Errorf("%s (and the status could not be written: %w)", failureMessage(ctx, err), perr)
		}
		return perr
	}
	if err != nil {
		return errors.New(failureMessage(ctx, err))
	}
	fmt.Fprintf(stderr, "coffer: restored component %s of Snapshot %s: %d file(s), %s, in %s\n",
		o.component, from, sum.FilesRestored, backends.HumanBytes(sum.BytesRestored), humanDuration(duration))
	return nil
}

// restore resolves the snapshot and its component's restic repository, checks that the backend
// answers, marks the component Running and restores. It returns the Snapshot it restored from
// as namespace/name.
func restore(ctx context.Context, c client.Client, o *restoreOptions, rs *corev1alpha1.RestoreSession, stdout, stderr io.Writer) (*engine.RestoreSummary, string, error) {
	ds := rs.Spec.DataSource
	if ds.PITR != nil {
		return nil, "", errors.New("dataSource.pitr: point-in-time restore is not supported by the restic executor")
	}
	if len(ds.Components) > 0 && !slices.Contains(ds.Components, o.component) {
		return nil, "", fmt.Errorf("component %q is not among dataSource.components %v", o.component, ds.Components)
	}
	ns := ds.Namespace
	if ns == "" {
		ns = rs.Namespace
	}
	snap, err := resolveSnapshot(ctx, c, ns, ds, o.component)
	if err != nil {
		return nil, "", err
	}
	from := snap.Namespace + "/" + snap.Name
	if ds.Repository != "" && ds.Repository != snap.Spec.Repository {
		return nil, from, fmt.Errorf("Snapshot %s belongs to Repository %q, not to dataSource.repository %q", from, snap.Spec.Repository, ds.Repository)
	}
	comp, ok := snap.Status.Components[o.component]
	if !ok {
		return nil, from, fmt.Errorf("Snapshot %s has no component %q (it has %s)", from, o.component, componentNames(snap))
	}
	if len(comp.ResticStats) == 0 || comp.ResticStats[0].Summary == nil || comp.ResticStats[0].Summary.ID == "" {
		return nil, from, fmt.Errorf("Snapshot %s records no restic snapshot for component %q "+
			"(status.components.%s.resticStats[0].summary.id is empty; the component's phase is %q)", from, o.component, o.component, comp.Phase)
	}
	if comp.Phase != storagev1alpha1.ComponentSucceeded {
		// A failed component may lack files (restic could not read them) or failed its
		// integrity check: restoring it would pass off a damaged backup as a good one.
		return nil, from, fmt.Errorf("component %q of Snapshot %s is %s, not Succeeded: %s", o.component, from, comp.Phase, comp.Error)
	}
	snapshotID := comp.ResticStats[0].Summary.ID
	hostPath := comp.ResticStats[0].Summary.HostPath
	componentPath := comp.Path
	if componentPath == "" {
		componentPath = engine.ComponentPath(snap.Spec.Version, snap.Spec.Session, o.component)
	}

	repoObj := &storagev1alpha1.Repository{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: snap.Namespace, Name: snap.Spec.Repository}, repoObj); err != nil {
		return nil, from, fmt.Errorf("reading Repository %s/%s: %w", snap.Namespace, snap.Spec.Repository, err)
	}
	bs, err := backends.StorageOf(ctx, c, repoObj)
	if err != nil {
		return nil, from, err
	}
	backend, err := backends.ForStorage(ctx, c, bs)
	if err != nil {
		return nil, from, fmt.Errorf("BackupStorage %s/%s: %w", bs.Namespace, bs.Name, err)
	}
	// The RestoreSession's own Secret lives next to it; the repository's next to the repository.
	secretRef, secretNS, owner := ds.EncryptionSecret, rs.Namespace, "RestoreSession "+rs.Namespace+"/"+rs.Name
	if secretRef == nil {
		secretRef, secretNS, owner = repoObj.Spec.EncryptionSecret, repoObj.Namespace, "Repository "+repoObj.Namespace+"/"+repoObj.Name
	}
	password, err := backends.Password(ctx, c, secretNS, secretRef)
	if err != nil {
		return nil, from, fmt.Errorf("%s: %w", owner, err)
	}
	repo := backends.Component(backend, repoObj, componentPath, password, o.cacheDir)

	if _, err := preflight(ctx, repo, o.retryTimeout); err != nil {
		return nil, from, err
	}
	running := fieldsOf(corev1alpha1.ComponentRestoreStatus{Phase: storagev1alpha1.ComponentRunning}, "progress", "duration", "error")
	if err := patchComponent(ctx, c, rs, o.component, running, patchAttempts); err != nil {
		return nil, from, err
	}

	eng := o.newEngine()
	progress := startProgress(ctx, o.progressInterval, stderr, func(ctx context.Context, p engine.Progress) error {
		return patchComponent(ctx, c, rs, o.component, map[string]any{"progress": resticProgress(p)}, 1)
	})
	defer progress.stop()
	opts := engine.RestoreOptions{Path: hostPath, Progress: progress.update}
	var sum *engine.RestoreSummary
	switch {
	case o.target != "":
		sum, err = eng.RestoreDirectory(ctx, repo, snapshotID, o.target, opts)
	case o.stdout:
		sum, err = restoreToWriter(ctx, eng, repo, snapshotID, stdout, opts)
	case o.appBinding != "":
		sum, err = restoreIntoDatabase(ctx, c, eng, repo, snapshotID, parseAppBinding(o.appBinding, o.namespace), opts)
	default:
		sum, err = restoreIntoCommand(ctx, eng, repo, snapshotID, o.command, stdout, stderr, opts)
	}
	if err != nil {
		return nil, from, err
	}
	return sum, from, nil
}

// restoreToWriter streams the snapshot to w (standard output).
func restoreToWriter(ctx context.Context, eng engine.Engine, repo engine.Repo, snapshotID string, w io.Writer, opts engine.RestoreOptions) (*engine.RestoreSummary, error) {
	sum, err := eng.RestoreStream(ctx, repo, snapshotID, w, opts)
	if errors.Is(err, engine.ErrTargetFailed) {
		return nil, fmt.Errorf("writing the stream to standard output: %w", errors.Unwrap(err))
	}
	return sum, err
}

// restoreIntoCommand streams the snapshot into a shell command's stdin. A restore that fails
// stops the command rather than closing its input, so a database client does not take a
// truncated dump for a whole one; a command that fails fails the restore.
func restoreIntoCommand(ctx context.Context, eng engine.Engine, repo engine.Repo, snapshotID, script string,
	stdout, stderr io.Writer, opts engine.RestoreOptions) (*engine.RestoreSummary, error) {
	sh := newShellCommand(ctx, script, stderr)
	sh.cmd.Stdout = stdout
	in, err := sh.cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := sh.cmd.Start(); err != nil {
		sh.cancel()
		return nil, fmt.Errorf("starting the --command: %w", err)
	}
	sum, err := eng.RestoreStream(ctx, repo, snapshotID, in, opts)
	if err != nil && !errors.Is(err, engine.ErrTargetFailed) {
		sh.stop()
		return nil, err
	}
	// Either all was written, or the command stopped reading: its exit status says why.
	_ = in.Close()
	if werr := sh.wait(); werr != nil {
		return nil, werr
	}
	if err != nil {
		return nil, fmt.Errorf("the --command stopped reading its input before the end: %w", errors.Unwrap(err))
	}
	return sum, nil
}

// restoreIntoDatabase streams the snapshot into the database's restore. A repository side that
// fails ends the stream with its error, on which the addon kills its client before the client
// sees an end of input (addons.RunWithInput); a database that fails stops the repository side.
func restoreIntoDatabase(ctx context.Context, c client.Reader, eng engine.Engine, repo engine.Repo, snapshotID string,
	key client.ObjectKey, opts engine.RestoreOptions) (*engine.RestoreSummary, error) {
	db, err := openDatabase(ctx, c, key)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pr, pw := io.Pipe()
	type result struct {
		sum *engine.RestoreSummary
		err error
	}
	done := make(chan result, 1)
	go func() {
		sum, err := eng.RestoreStream(ctx, repo, snapshotID, pw, opts)
		pw.CloseWithError(err)
		done <- result{sum, err}
	}()
	dbErr := db.Restore(ctx, pr)
	_ = pr.CloseWithError(errors.New("the database restore ended"))
	if dbErr != nil {
		select {
		case res := <-done:
			// The repository side ended first: its failure is the cause, the database's
			// only the consequence.
			if res.err != nil && !errors.Is(res.err, engine.ErrTargetFailed) {
				return nil, res.err
			}
		default:
			// It may be retrying an unreachable backend: nothing will read what it gets.
			cancel()
			<-done
		}
		return nil, fmt.Errorf("restoring into AppBinding %s: %w", key, dbErr)
	}
	res := <-done
	if errors.Is(res.err, engine.ErrTargetFailed) {
		return nil, fmt.Errorf("the database stopped reading before the end of the dump: %w", errors.Unwrap(res.err))
	}
	return res.sum, res.err
}

// resolveSnapshot finds the Snapshot dataSource names; "latest" is storagev1alpha1.LatestSnapshot
// among the Snapshots of dataSource.repository.
func resolveSnapshot(ctx context.Context, c client.Client, ns string, ds corev1alpha1.RestoreDataSource, component string) (*storagev1alpha1.Snapshot, error) {
	switch ds.Snapshot {
	case "":
		return nil, errors.New("dataSource.snapshot is empty")
	case corev1alpha1.LatestSnapshot:
		if ds.Repository == "" {
			return nil, errors.New(`dataSource.snapshot "latest" needs dataSource.repository`)
		}
		var list storagev1alpha1.SnapshotList
		if err := c.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return nil, fmt.Errorf("listing the Snapshots in namespace %s: %w", ns, err)
		}
		s := storagev1alpha1.LatestSnapshot(list.Items, ds.Repository, component)
		if s == nil {
			return nil, fmt.Errorf("no Succeeded Snapshot of Repository %s/%s with component %q to restore as latest", ns, ds.Repository, component)
		}
		return s, nil
	}
	snap := &storagev1alpha1.Snapshot{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: ds.Snapshot}, snap); err != nil {
		return nil, fmt.Errorf("reading Snapshot %s/%s: %w", ns, ds.Snapshot, err)
	}
	return snap, nil
}

func componentNames(s *storagev1alpha1.Snapshot) string {
	if len(s.Status.Components) == 0 {
		return "none"
	}
	names := make([]string, 0, len(s.Status.Components))
	for n := range s.Status.Components {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
