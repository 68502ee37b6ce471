package crds

import (
	"fmt"
	"os"
	"testing"

	"github.com/cofferhq/coffer/test/envtest"
)

// env is the control plane every test of the package shares; each test works in its own
// namespace (or, for cluster-scoped kinds, with its own object names).
var env *envtest.Env

func TestMain(m *testing.M) {
	e, stop, err := envtest.StartMain()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	env = e
	code := m.Run()
	stop()
	os.Exit(code)
}
