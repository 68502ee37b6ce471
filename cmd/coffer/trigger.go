package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	"github.com/cofferhq/coffer/controllers/backupconfiguration"
	"github.com/cofferhq/coffer/controllers/verification"
)

func newTriggerCommand() *cobra.Command {
	var kubeconfig, namespace, config, session, repository string
	cmd := &cobra.Command{
		Use:   "trigger",
		Short: "Start a backup (or a verification) now: create a BackupSession (or BackupVerificationSession)",
		Long: `Create a BackupSession for one session of a BackupConfiguration. The trigger CronJob of
each session runs this on the session's schedule; a person can run it to back up at once.

With --repository, create a BackupVerificationSession of that repository instead, with the
retries its BackupVerifier allows: the verifier CronJob of each verified repository runs this.`,
		Example: `  coffer trigger -n demo --backupconfiguration app --session daily
  coffer trigger -n demo --backupconfiguration app --session daily --repository app-local`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if namespace == "" || config == "" || session == "" {
				return errors.New("--namespace, --backupconfiguration and --session are required")
			}
			cfg, err := restConfig(kubeconfig)
			if err != nil {
				return err
			}
			scheme, err := newScheme()
			if err != nil {
				return err
			}
			c, err := client.New(cfg, client.Options{Scheme: scheme})
			if err != nil {
				return err
			}
			var bc corev1alpha1.BackupConfiguration
			if err := c.Get(cmd.Context(), client.ObjectKey{Namespace: namespace, Name: config}, &bc); err != nil {
				return fmt.Errorf("reading BackupConfiguration %s/%s: %w", namespace, config, err)
			}
			if repository != "" {
				return triggerVerification(cmd, c, &bc, session, repository)
			}
			for _, s := range bc.Spec.Sessions {
				if s.Name != session {
					continue
				}
				bs := backupconfiguration.NewBackupSession(&bc, s, time.Now())
				if err := c.Create(cmd.Context(), bs); err != nil {
					return fmt.Errorf("creating BackupSession %s: %w", bs.Name, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "BackupSession %s/%s created\n", bs.Namespace, bs.Name)
				return nil
			}
			return fmt.Errorf("BackupConfiguration %s/%s has no session %q", namespace, config, session)
		},
	}
	f := cmd.Flags()
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file; in-cluster config or $KUBECONFIG when empty")
	f.StringVarP(&namespace, "namespace", "n", "", "namespace of the BackupConfiguration")
	f.StringVar(&config, "backupconfiguration", "", "the BackupConfiguration")
	f.StringVar(&session, "session", "", "the session to run")
	f.StringVar(&repository, "repository", "", "verify this repository of the session instead of backing up")
	return cmd
}

// triggerVerification creates a BackupVerificationSession of one repository of a session, with
// as many retries as its verifier allows.
func triggerVerification(cmd *cobra.Command, c client.Client, bc *corev1alpha1.BackupConfiguration, session, repository string) error {
	info, err := verification.RepositoryOf(bc, session, repository)
	if err != nil {
		return err
	}
	v, err := verification.VerifierOf(cmd.Context(), c, bc, info)
	if err != nil {
		return err
	}
	var retries int32
	if v.Spec.RetryConfig != nil {
		retries = v.Spec.RetryConfig.MaxRetry
	}
	bvs := verification.NewSession(bc.Namespace, bc.Name, session, repository, retries, time.Now())
	bvs.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(bc, corev1alpha1.GroupVersion.WithKind("BackupConfiguration"))}
	if err := c.Create(cmd.Context(), bvs); err != nil {
		return fmt.Errorf("creating BackupVerificationSession %s: %w", bvs.Name, err)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "BackupVerificationSession %s/%s created\n", bvs.Namespace, bvs.Name)
	return nil
}
