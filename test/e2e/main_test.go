//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cofferhq/coffer/test/envtest"
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
	cluster = cl
	scheme, err := envtest.NewScheme()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	cfg := cl.RESTConfig()
	cfg.WarningHandlerWithContext = printWarnings{}
	if kube, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	if cl.Started() {
		defer func() {
			if err := cl.Down(context.Background()); err != nil {
				fmt.Fprintln(os.Stderr, "e2e: stopping the local cluster:", err)
			}
		}()
	}
	if _, err := cl.DeployCoffer(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: deploying Coffer:", err)
		return 1
	}
	return m.Run()
}

// printWarnings shows the API server's (and the webhooks') warnings in the test output.
type printWarnings struct{}

func (printWarnings) HandleWarningHeaderWithContext(_ context.Context, _ int, _ string, text string) {
	fmt.Fprintln(os.Stderr, "e2e: warning:", text)
}
