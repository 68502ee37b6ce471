package reconcilers

import (
	"context"
	"fmt"
	"os"
	"testing"

	ctrl "sigs.k8s.io/controller-runtime"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/cofferhq/coffer/controllers"
	"github.com/cofferhq/coffer/controllers/executor"
	"github.com/cofferhq/coffer/test/envtest"
)

var env *envtest.Env

// executorImage is what the lifecycle controllers put into Jobs; no kubelet ever runs it.
const executorImage = "coffer.dev/coffer:test"

// TestMain starts one control plane and one manager running every controller.
func TestMain(m *testing.M) {
	e, stop, err := envtest.StartMain()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	env = e
	ctx, cancel := context.WithCancel(context.Background())
	done, err := startManager(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		stop()
		os.Exit(1)
	}
	code := m.Run()
	cancel()
	<-done
	stop()
	os.Exit(code)
}

func startManager(ctx context.Context) (<-chan struct{}, error) {
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{Scheme: env.Scheme, Metrics: metricsserver.Options{BindAddress: "0"}})
	if err != nil {
		return nil, err
	}
	if err := controllers.Setup(ctx, mgr, controllers.Options{
		OperatorVersion: "test",
		RESTConfig:      env.Config,
		Executor:        executor.Config{Image: executorImage, ServiceAccount: "coffer-executor"},
		Identity:        executor.Identity{ServiceAccount: "coffer-executor", ClusterRole: "coffer-executor-role"},
	}); err != nil {
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "manager:", err)
		}
	}()
	return done, nil
}
