package localcluster

import (
	"fmt"
	"os"
	"path/filepath"
)

// Addresses and ranges of the cluster. They are fixed because the serving certificate, the CNI
// configuration and the guard rules are written for them; only one local cluster runs per
// machine.
const (
	// APIServerPort is where the API server listens (on every address, see the guard rules).
	APIServerPort = 6443
	// ServiceCIDR is the service range; its first address is the kubernetes Service.
	ServiceCIDR = "10.96.0.0/16"
	// APIServiceIP is the ClusterIP of the kubernetes Service that pods dial.
	APIServiceIP = "10.96.0.1"
	// PodCIDR is the bridge network the pods live on; no route leads out of it.
	PodCIDR = "10.244.0.0/24"
	// BridgeIP is the host's address on the pod bridge cni0, and the API server's advertised
	// address, so the kubernetes Service's endpoint is reachable from pods.
	BridgeIP = "10.244.0.1"
	// bridgeName is the Linux bridge the CNI bridge plugin creates; Down deletes it.
	bridgeName = "cni0"
	// PauseImage is the sandbox image containerd is configured with; Up builds and imports it.
	PauseImage = "registry.k8s.io/pause:3.10"
)

// Config says where the cluster lives. The zero value is the default cluster.
type Config struct {
	// WorkDir holds everything the cluster writes: PKI, kubeconfigs, configs, etcd's data,
	// containerd's root and state, the kubelet's root, daemon logs, images and the state file.
	// Empty means DefaultWorkDir().
	WorkDir string
	// RepoRoot is the checkout whose hack/ scripts build the binaries and whose packages are
	// built into images. Empty means the directory of Coffer's go.mod above the working
	// directory.
	RepoRoot string
}

// WorkDirEnv overrides the default work directory.
const WorkDirEnv = "COFFER_LOCALCLUSTER_DIR"

// DefaultWorkDir is $COFFER_LOCALCLUSTER_DIR, or /var/lib/coffer-localcluster. It is not under the
// per-user cache: it holds a running system's state (etcd's data, mounts, sockets) rather than
// something that can be rebuilt, the cluster runs as root anyway, and socket paths must stay
// short (a unix socket path has at most 107 bytes).
func DefaultWorkDir() string {
	if d := os.Getenv(WorkDirEnv); d != "" {
		return d
	}
	return "/var/lib/coffer-localcluster"
}

// layout names every path under the work directory, so that Up and Down agree on them.
type layout struct{ dir string }

func newLayout(workDir string) (layout, error) {
	if workDir == "" {
		workDir = DefaultWorkDir()
	}
	abs, err := filepath.Abs(workDir)
	if err != nil {
		return layout{}, err
	}
	l := layout{dir: abs}
	// The kubelet's sockets are the deepest ones; leave room for their names.
	if n := len(l.kubeletRoot()) + len("/pod-resources/kubelet.sock"); n > 100 {
		return layout{}, fmt.Errorf("work directory %s is too long for unix socket paths below it; use a shorter one (%s)", abs, WorkDirEnv)
	}
	return l, nil
}

func (l layout) path(elem ...string) string {
	return filepath.Join(append([]string{l.dir}, elem...)...)
}

func (l layout) stateFile() string  { return l.path("state.json") }
func (l layout) lockFile() string   { return l.path(".lock") }
func (l layout) inUseFile() string  { return l.path(".inuse") }
func (l layout) kubeconfig() string { return l.path("kubeconfig") }
func (l layout) pkiDir() string     { return l.path("pki") }
func (l layout) pki(name string) string {
	return l.path("pki", name)
}
func (l layout) kubeconfigFor(user string) string {
	return l.path("pki", user+".kubeconfig")
}
func (l layout) logFile(daemon string) string { return l.path("logs", daemon+".log") }
func (l layout) etcdData() string             { return l.path("etcd") }
func (l layout) containerdDir() string        { return l.path("containerd") }
func (l layout) containerdConfig() string     { return l.path("containerd", "config.toml") }
func (l layout) containerdRoot() string       { return l.path("containerd", "root") }
func (l layout) containerdState() string      { return l.path("containerd", "state") }
func (l layout) runcRoot() string             { return l.path("containerd", "runc") }
func (l layout) registryHosts() string        { return l.path("containerd", "certs.d") }
func (l layout) containerdSocket() string     { return l.path("run", "containerd.sock") }
func (l layout) cniConfDir() string           { return l.path("cni", "net.d") }
func (l layout) cniDataDir() string           { return l.path("cni", "networks") }
func (l layout) kubeletRoot() string          { return l.path("kubelet") }
func (l layout) kubeletConfig() string        { return l.path("kubelet-config.yaml") }
func (l layout) resolvConf() string           { return l.path("resolv.conf") }
func (l layout) podLogs() string              { return l.path("pod-logs") }
func (l layout) imagesDir() string            { return l.path("images") }
func (l layout) deployDir() string            { return l.path("deploy") }
