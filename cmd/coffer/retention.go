package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storagev1alpha1 "github.com/cofferhq/coffer/api/storage/v1alpha1"
	"github.com/cofferhq/coffer/controllers/backends"
	"github.com/cofferhq/coffer/engine"
	"github.com/cofferhq/coffer/engine/blob"
)

type retentionOptions struct {
	executorOptions
	repository string
	policy     string
}

func newRetentionCommand() *cobra.Command {
	o := &retentionOptions{}
	cmd := &cobra.Command{
		Use:   "retention",
		Short: "Apply a RetentionPolicy to a Repository: forget the Snapshots it no longer keeps and prune their data",
		Long: `Apply a RetentionPolicy to one Repository. The Snapshots to drop are chosen from the
Repository's Snapshot objects (RetentionPolicySpec.Expired); their restic snapshots are forgotten
in each component's repository, the data only they used is pruned, their files on the backend are
removed, and the Snapshot objects are deleted. This is the program a retention Job runs after a
successful BackupSession; no backup of the repository runs at the same time.`,
		Example: `  coffer retention -n demo --repository app-local --retention-policy demo/keep-3`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := errors.Join(o.executorOptions.validate(), o.validate()); err != nil {
				return err
			}
			ctx, stop := signalContext(cmd.Context())
			defer stop()
			c, err := o.newClient()
			if err != nil {
				return err
			}
			return runRetention(ctx, c, o, cmd.OutOrStdout())
		},
	}
	o.addFlags(cmd)
	cmd.Flags().StringVar(&o.repository, "repository", "", "the Repository to apply the policy to")
	cmd.Flags().StringVar(&o.policy, "retention-policy", "", "the RetentionPolicy, as namespace/name")
	return cmd
}

func (o *retentionOptions) validate() error {
	var errs []error
	if o.repository == "" {
		errs = append(errs, errors.New("--repository is required"))
	}
	if ns, name, ok := strings.Cut(o.policy, "/"); !ok || ns == "" || name == "" {
		errs = append(errs, errors.New("--retention-policy must be namespace/name"))
	}
	return errors.Join(errs...)
}

func runRetention(ctx context.Context, c client.Client, o *retentionOptions, out io.Writer) error {
	ns, name, _ := strings.Cut(o.policy, "/")
	var policy storagev1alpha1.RetentionPolicy
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &policy); err != nil {
		return fmt.Errorf("reading RetentionPolicy %s: %w", o.policy, err)
	}
	repoObj := &storagev1alpha1.Repository{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: o.namespace, Name: o.repository}, repoObj); err != nil {
		return fmt.Errorf("reading Repository %s/%s: %w", o.namespace, o.repository, err)
	}
	var list storagev1alpha1.SnapshotList
	if err := c.List(ctx, &list, client.InNamespace(o.namespace)); err != nil {
		return err
	}
	var mine []storagev1alpha1.Snapshot
	for _, s := range list.Items {
		if s.Spec.Repository == o.repository && s.DeletionTimestamp.IsZero() {
			mine = append(mine, s)
		}
	}
	expired, err := policy.Spec.Expired(mine, time.Now())
	if err != nil {
		return fmt.Errorf("RetentionPolicy %s: spec.maxRetentionPeriod: %w", o.policy, err)
	}
	if len(expired) == 0 {
		fmt.Fprintf(out, "Repository %s/%s: all %d snapshots are kept\n", o.namespace, o.repository, len(mine))
		return nil
	}
	bs, err := backends.StorageOf(ctx, c, repoObj)
	if err != nil {
		return err
	}
	backend, err := backends.ForStorage(ctx, c, bs)
	if err != nil {
		return fmt.Errorf("BackupStorage %s/%s: %w", bs.Namespace, bs.Name, err)
	}
	password, err := backends.Password(ctx, c, repoObj.Namespace, repoObj.Spec.EncryptionSecret)
	if err != nil {
		return fmt.Errorf("Repository %s/%s: %w", repoObj.Namespace, repoObj.Name, err)
	}
	// restic IDs per component repository, so each repository is pruned once.
	ids := map[string][]string{}
	for _, s := range expired {
		for cname, comp := range s.Status.Components {
			path := comp.Path
			if path == "" {
				path = engine.ComponentPath(s.Spec.Version, s.Spec.Session, cname)
			}
			for _, st := range comp.ResticStats {
				if st.Summary != nil && st.Summary.ID != "" {
					ids[path] = append(ids[path], st.Summary.ID)
				}
			}
		}
	}
	paths := make([]string, 0, len(ids))
	for p := range ids {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	eng := o.newEngine()
	for _, p := range paths {
		repo := backends.Component(backend, repoObj, p, password, o.cacheDir)
		if err := eng.ForgetIDs(ctx, repo, ids[p], true); err != nil {
			return fmt.Errorf("forgetting %d snapshot(s) in %s: %w", len(ids[p]), p, err)
		}
	}
	bucket, err := blob.Open(ctx, backend)
	if err != nil {
		return err
	}
	defer bucket.Close()
	for _, s := range expired {
		if err := bucket.Delete(ctx, engine.SnapshotFile(backends.RepoDir(repoObj), s.Name)); err != nil && !errors.Is(err, blob.ErrNotFound) {
			return fmt.Errorf("removing the file of Snapshot %s: %w", s.Name, err)
		}
		if err := c.Delete(ctx, &s); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting Snapshot %s: %w", s.Name, err)
		}
		fmt.Fprintf(out, "forgot Snapshot %s (%s)\n", s.Name, s.Status.Phase)
	}
	fmt.Fprintf(out, "Repository %s/%s: kept %d, forgot %d\n", o.namespace, o.repository, len(mine)-len(expired), len(expired))
	return nil
}
