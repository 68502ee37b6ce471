package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	"github.com/cofferhq/coffer/controllers/backupconfiguration"
)

func newTriggerCommand() *cobra.Command {
	var kubeconfig, namespace, config, session string
	cmd := &cobra.Command{
		Use:   "trigger",
		Short: "Start a backup now: create a BackupSession for one session of a BackupConfiguration",
		Long: `Create a BackupSession for one session of a BackupConfiguration. The trigger CronJob of
each session runs this on the session's schedule; a person can run it to back up at once.`,
		Example: `  coffer trigger -n demo --backupconfiguration app --session daily`,
		Args:    cobra.NoArgs,
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
	return cmd
}
