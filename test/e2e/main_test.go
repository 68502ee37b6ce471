//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cofferhq/coffer/test/localcluster"
)

var (
	cluster *localcluster.Cluster
	kube    client.Client
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cl, err := localcluster.Up(ctx, localcluster.Config{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: starting the local cluster:", err)
		return 1
	}
	cluster, kube = cl, cl.Client()
	if cl.Started() {
		defer func() {
			if err := cl.Down(context.Background()); err != nil {
				fmt.Fprintln(os.Stderr, "e2e: stopping the local cluster:", err)
			}
		}()
	}
	if err := localcluster.DeployCoffer(ctx, cl); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: deploying Coffer:", err)
		return 1
	}
	return m.Run()
}
