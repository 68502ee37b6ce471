package localcluster

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// writeConfigs writes containerd's, the CNI's and the kubelet's configuration files.
func writeConfigs(l layout) error {
	files := map[string]string{
		l.containerdConfig(): containerdConfig(l),
		// Every registry is sent to 127.0.0.1:5000, where nothing listens: an image that was not
		// imported fails to pull at once and no request leaves the machine.
		filepath.Join(l.registryHosts(), "_default", "hosts.toml"): "server = \"http://127.0.0.1:5000\"\n\n[host.\"http://127.0.0.1:5000\"]\n  capabilities = [\"pull\", \"resolve\"]\n",
		filepath.Join(l.cniConfDir(), "10-coffer-local.conflist"):  cniConfig(l),
		l.kubeletConfig(): kubeletConfig(l),
		// Pods get a resolver that answers nothing rather than the machine's: no cluster DNS
		// runs, and no lookup may leave the machine.
		l.resolvConf(): "nameserver 127.0.0.1\n",
	}
	for path, content := range files {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// containerdConfig is for Debian's containerd 1.6 (config version 2). Root, state, sockets, the
// runc root and the opt directory are all in the work directory, so it never meets a system
// containerd.
func containerdConfig(l layout) string {
	q := func(s string) string { return fmt.Sprintf("%q", s) }
	return strings.Join([]string{
		`version = 2`,
		`root = ` + q(l.containerdRoot()),
		`state = ` + q(l.containerdState()),
		``,
		`[grpc]`,
		`  address = ` + q(l.containerdSocket()),
		``,
		`[ttrpc]`,
		`  address = ` + q(l.containerdSocket()+".ttrpc"),
		``,
		`[plugins."io.containerd.internal.v1.opt"]`,
		`  path = ` + q(l.path("containerd", "opt")),
		``,
		`[plugins."io.containerd.grpc.v1.cri"]`,
		`  sandbox_image = ` + q(PauseImage),
		// Root here has no CAP_SYS_RESOURCE, so runc cannot set a negative oom_score_adj; without
		// this every sandbox fails with "can't get final child's PID from pipe: EOF".
		`  restrict_oom_score_adj = true`,
		`  stream_server_address = "127.0.0.1"`,
		`  stream_server_port = "0"`,
		``,
		`[plugins."io.containerd.grpc.v1.cri".cni]`,
		`  bin_dir = "/usr/lib/cni"`,
		`  conf_dir = ` + q(l.cniConfDir()),
		`  max_conf_num = 1`,
		``,
		`[plugins."io.containerd.grpc.v1.cri".containerd]`,
		`  snapshotter = "overlayfs"`,
		`  default_runtime_name = "runc"`,
		``,
		`[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]`,
		`  runtime_type = "io.containerd.runc.v2"`,
		``,
		`[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]`,
		`  SystemdCgroup = false`,
		`  Root = ` + q(l.runcRoot()),
		``,
		`[plugins."io.containerd.grpc.v1.cri".registry]`,
		`  config_path = ` + q(l.registryHosts()),
		``,
	}, "\n")
}

// cniConfig is the pod network (reference, Part 2, point 1): a bridge whose host side is the
// gateway 10.244.0.1, no masquerading, and one route in the pods, to the service range. Pods reach
// each other, the host's bridge address and ClusterIPs, and nothing else. containerd adds the
// loopback interface itself.
func cniConfig(l layout) string {
	conf := map[string]any{
		"cniVersion": "0.4.0",
		"name":       "coffer-local",
		"plugins": []any{map[string]any{
			"type":        "bridge",
			"bridge":      bridgeName,
			"isGateway":   true,
			"ipMasq":      false,
			"hairpinMode": true,
			"ipam": map[string]any{
				"type":    "host-local",
				"dataDir": l.cniDataDir(),
				"ranges":  [][]map[string]string{{{"subnet": PodCIDR, "gateway": BridgeIP}}},
				"routes":  []map[string]string{{"dst": ServiceCIDR}},
			},
		}},
	}
	b, _ := json.MarshalIndent(conf, "", "  ")
	return string(b) + "\n"
}

// kubeletConfig is the KubeletConfiguration this machine needs (reference, Part 1, obstacle 8):
// cgroup v1 and cgroupfs, swap tolerated, listening on loopback only with webhook authn/authz,
// and never evicting or garbage-collecting the imported images on a small disk (they cannot be
// pulled again). Pod logs go to the work directory.
func kubeletConfig(l layout) string {
	return fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: 10250
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: %q}
authorization:
  mode: Webhook
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://%s
resolvConf: %q
clusterDomain: cluster.local
podLogsDir: %q
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 50Mi
  nodefs.available: 1%%
  nodefs.inodesFree: 1%%
  imagefs.available: 1%%
serializeImagePulls: false
rotateCertificates: false
serverTLSBootstrap: false
`, l.pki("ca.crt"), l.containerdSocket(), l.resolvConf(), l.podLogs())
}
