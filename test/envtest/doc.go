// Package envtest starts a real kube-apiserver and etcd for tests, with every Coffer CRD from
// config/crd/bases installed, and hands back a rest.Config and a client whose scheme knows
// client-go's kinds and Coffer's.
//
// The binaries come from KUBEBUILDER_ASSETS when it is set, and otherwise from
// hack/controlplane.sh, which builds them from the Go module proxy into a per-user cache on first
// use and prints their directory; `go test ./test/...` therefore works on a fresh machine.
//
// Start one control plane per test package in TestMain with StartMain and share it; give each
// test its own namespace with Env.Namespace. Start is the same for a single test.
//
// It is test support: it may import the api packages, client-go and controller-runtime, and
// must not import controllers, webhooks or anything else under test.
package envtest
