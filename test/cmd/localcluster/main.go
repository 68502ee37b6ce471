// Command localcluster brings the local single-node cluster (test/localcluster) up, deploys
// Coffer into it as a user would, and tears it down. It needs root. `make run` and `make down`
// use it:
//
//	localcluster up                          # start it, or reuse the running one
//	localcluster deploy --samples config/samples
//	localcluster down                        # stop it and restore the host
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"github.com/spf13/cobra"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/cofferhq/coffer/test/localcluster"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := funcr.New(func(prefix, args string) {
		fmt.Fprintf(os.Stderr, "%s %s\n", time.Now().Format("15:04:05"), args)
	}, funcr.Options{Verbosity: verbosity()})
	ctx = logr.NewContext(ctx, log)
	logf.SetLogger(log) // controller-runtime's client logs through its global logger
	if err := newRootCommand().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "localcluster:", err)
		os.Exit(1)
	}
}

// verbosity is 1 with LOCALCLUSTER_VERBOSE set, for the teardown's best-effort details.
func verbosity() int {
	if os.Getenv("LOCALCLUSTER_VERBOSE") != "" {
		return 1
	}
	return 0
}

func newRootCommand() *cobra.Command {
	var cfg localcluster.Config
	root := &cobra.Command{
		Use:           "localcluster",
		Short:         "A real single-node Kubernetes cluster on this machine, with Coffer deployed into it",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&cfg.WorkDir, "workdir", "", "the cluster's work directory (default $"+localcluster.WorkDirEnv+" or /var/lib/coffer-localcluster)")
	root.AddCommand(newUpCommand(&cfg), newDeployCommand(&cfg), newDownCommand(&cfg))
	return root
}

func newUpCommand(cfg *localcluster.Config) *cobra.Command {
	return &cobra.Command{
		Use:   "up",
		Short: "Start the cluster, or reuse the healthy one already running; print its kubeconfig's path",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := localcluster.Up(cmd.Context(), *cfg)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "KUBECONFIG=%s\n", c.Kubeconfig())
			return nil
		},
	}
}

func newDeployCommand(cfg *localcluster.Config) *cobra.Command {
	var samples string
	cmd := &cobra.Command{
		Use:   "deploy",
		Short: "Build Coffer's image, import it, apply config/local with it and wait for the manager; then apply --samples",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			log := logr.FromContextOrDiscard(ctx)
			c, err := localcluster.Up(ctx, *cfg)
			if err != nil {
				return err
			}
			log.Info("building Coffer's image and deploying config/local")
			ref, err := c.DeployCoffer(ctx)
			if err != nil {
				return err
			}
			log.Info("Coffer is running", "image", ref)
			if samples != "" {
				if err := applySamples(ctx, c, samples); err != nil {
					return err
				}
			}
			kubectl, err := c.KubectlBinary(ctx)
			if err != nil {
				return err
			}
			printUsage(cmd, c, kubectl, samples != "")
			return nil
		},
	}
	cmd.Flags().StringVar(&samples, "samples", "", "a file or directory of manifests to apply once Coffer runs")
	return cmd
}

// applySamples retries for a while: right after the deploy, the API server may not serve the
// CRDs' kinds yet, and webhooks may not answer yet.
func applySamples(ctx context.Context, c *localcluster.Cluster, path string) error {
	log := logr.FromContextOrDiscard(ctx)
	deadline := time.Now().Add(time.Minute)
	for {
		_, err := c.Kubectl(ctx, "apply", "--server-side", "--force-conflicts", "-f", path)
		if err == nil {
			log.Info("applied the samples", "path", path)
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		log.Info("the samples do not apply yet; retrying", "error", firstLine(err.Error()))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}

func firstLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
}

func printUsage(cmd *cobra.Command, c *localcluster.Cluster, kubectl string, samples bool) {
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, `
Coffer runs in the local cluster (%s/%s). Use it with the cluster's own kubectl:

  export KUBECONFIG=%s
  alias kubectl=%s
  kubectl get pods -A
  kubectl -n %s logs deploy/%s -f
`, localcluster.ManagerNamespace, localcluster.ManagerDeployment, c.Kubeconfig(), kubectl,
		localcluster.ManagerNamespace, localcluster.ManagerDeployment)
	if samples {
		fmt.Fprint(out, `
The samples back up the claim demo/data (/var/lib/coffer/demo/data) at once and every 30
minutes, and restore the first snapshot into demo/restored (/var/lib/coffer/demo/restored):

  kubectl -n demo get backupsessions,snapshots,restoresessions
  diff -r /var/lib/coffer/demo/data /var/lib/coffer/demo/restored

The Deployment demo/app is labelled backup=daily: the blueprint "daily" picks it up, the
webhook stamps it and Coffer generates its BackupConfiguration, with no other object written:

  kubectl -n demo get deployment app -o jsonpath='{.metadata.annotations}'
  kubectl -n demo get backupconfiguration deployment-app
`)
	}
	fmt.Fprintf(out, `
Backups of local BackupStorages are under %s on this machine.
Run `+"`make run`"+` again to redeploy after a change; stop the cluster and restore the host with `+"`make down`"+`.
`, localcluster.BackupsHostPath)
}

func newDownCommand(cfg *localcluster.Config) *cobra.Command {
	return &cobra.Command{
		Use:   "down",
		Short: "Stop the cluster and put the host back as it was (iptables, links, sysctls, mounts); does nothing if none runs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Finish the teardown even after Ctrl-C: stopping half-way leaves more to clean up.
			ctx := context.WithoutCancel(cmd.Context())
			return localcluster.Down(ctx, cfg.WorkDir)
		},
	}
}
