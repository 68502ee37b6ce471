// Command devcluster runs a command against a throwaway control plane: the envtest kube-apiserver
// and etcd (built once from the Go module proxy into the per-user cache) with Coffer's CRDs and
// the samples in config/samples applied. It runs the manager as a local process, without a
// kubelet; `make run` uses the local cluster (test/cmd/localcluster) instead.
//
//	go run ./test/cmd/devcluster -- bin/coffer manager --log-format=console
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"

	"sigs.k8s.io/controller-runtime/pkg/client"
	crenvtest "sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/cofferhq/coffer/test/envtest"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "devcluster:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		return errors.New("usage: devcluster -- COMMAND [ARGS...]")
	}
	env, stop, err := envtest.StartMain()
	if err != nil {
		return err
	}
	defer stop()

	user, err := env.Environment.AddUser(crenvtest.User{Name: "developer", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("adding a user: %w", err)
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "coffer-devcluster-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(path, kubeconfig, 0o600); err != nil {
		return err
	}
	if err := applySamples(env.Client, filepath.Join(env.RepoRoot, "config", "samples")); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "devcluster: control plane up; use it with\n  export KUBECONFIG=%s\n", path)

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Args = append(cmd.Args, "--kubeconfig="+path)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+path)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	if err := cmd.Run(); err != nil && ctx.Err() == nil {
		return fmt.Errorf("%s: %w", args[0], err)
	}
	return nil
}

// applySamples creates every object in the sample files, namespaces first as they are listed.
func applySamples(c client.Client, dir string) error {
	objs, err := envtest.LoadObjects(dir)
	if err != nil {
		return err
	}
	for _, obj := range objs {
		if err := c.Create(context.Background(), obj); client.IgnoreAlreadyExists(err) != nil {
			return fmt.Errorf("creating sample %s %s: %w", obj.GetKind(), obj.GetName(), err)
		}
	}
	return nil
}
