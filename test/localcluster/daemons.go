package localcluster

import (
	"fmt"
	"path/filepath"
)

// Daemon names, in start order. Down stops them in stopOrder.
const (
	containerd        = "containerd"
	etcd              = "etcd"
	kubeAPIServer     = "kube-apiserver"
	controllerManager = "kube-controller-manager"
	scheduler         = "kube-scheduler"
	kubeProxy         = "kube-proxy"
	kubelet           = "kubelet"
)

// controlPlaneBinaries are what hack/controlplane.sh builds for the cluster.
var controlPlaneBinaries = []string{kubeAPIServer, etcd, controllerManager, scheduler, kubelet, kubeProxy}

// stopOrder stops the node first (its pods keep watches open on the API server, which would then
// wait for them in its graceful shutdown), and etcd last (an API server without etcd hangs in
// shutdown; reference, Part 1, obstacle 3).
var stopOrder = []string{kubeProxy, kubelet, containerd, scheduler, controllerManager, kubeAPIServer, etcd}

// Ports the daemons listen on (all on 127.0.0.1 except the API server). Up checks they are free
// so that a clash gets a clear message instead of a daemon's bind error in its log.
var daemonPorts = map[int]string{
	2379:          etcd,
	2380:          etcd,
	APIServerPort: kubeAPIServer,
	10257:         controllerManager,
	10259:         scheduler,
	10249:         kubeProxy,
	10256:         kubeProxy,
	10248:         kubelet,
	10250:         kubelet,
}

func containerdArgs(l layout) []string {
	return []string{"--config", l.containerdConfig()}
}

func etcdArgs(l layout) []string {
	return []string{
		"--name=default",
		"--data-dir=" + l.etcdData(),
		"--listen-client-urls=http://127.0.0.1:2379",
		"--advertise-client-urls=http://127.0.0.1:2379",
		"--listen-peer-urls=http://127.0.0.1:2380",
		"--initial-advertise-peer-urls=http://127.0.0.1:2380",
		"--initial-cluster=default=http://127.0.0.1:2380",
		// A throwaway cluster: fsync would only slow the tests down.
		"--unsafe-no-fsync",
		"--log-level=warn",
	}
}

// apiServerArgs: listening on every address and advertising the bridge address makes the
// kubernetes Service's endpoint 10.244.0.1:6443, which pods reach through kube-proxy (the guard
// rules keep other interfaces out). Aggregator routing sends webhook calls straight to endpoint
// IPs, so a webhook answers as soon as its pod is Ready, without waiting for kube-proxy's sync.
func apiServerArgs(l layout) []string {
	return []string{
		"--etcd-servers=http://127.0.0.1:2379",
		"--bind-address=0.0.0.0",
		"--advertise-address=" + BridgeIP,
		fmt.Sprintf("--secure-port=%d", APIServerPort),
		"--cert-dir=" + l.path("apiserver"),
		"--service-cluster-ip-range=" + ServiceCIDR,
		"--authorization-mode=Node,RBAC",
		"--enable-admission-plugins=NodeRestriction",
		"--allow-privileged=true",
		"--enable-aggregator-routing=true",
		"--client-ca-file=" + l.pki("ca.crt"),
		"--tls-cert-file=" + l.pki("apiserver.crt"),
		"--tls-private-key-file=" + l.pki("apiserver.key"),
		"--kubelet-client-certificate=" + l.pki("apiserver-kubelet-client.crt"),
		"--kubelet-client-key=" + l.pki("apiserver-kubelet-client.key"),
		"--service-account-key-file=" + l.pki("sa.pub"),
		"--service-account-signing-key-file=" + l.pki("sa.key"),
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--profiling=false",
	}
}

func controllerManagerArgs(l layout) []string {
	kc := l.kubeconfigFor("controller-manager")
	return []string{
		"--kubeconfig=" + kc,
		"--authentication-kubeconfig=" + kc,
		"--authorization-kubeconfig=" + kc,
		"--bind-address=127.0.0.1",
		"--leader-elect=false",
		"--use-service-account-credentials=true",
		"--service-account-private-key-file=" + l.pki("sa.key"),
		"--root-ca-file=" + l.pki("ca.crt"),
		"--cluster-signing-cert-file=" + l.pki("ca.crt"),
		"--cluster-signing-key-file=" + l.pki("ca.key"),
		"--cluster-name=coffer-local",
		"--profiling=false",
	}
}

func schedulerArgs(l layout) []string {
	kc := l.kubeconfigFor("scheduler")
	return []string{
		"--kubeconfig=" + kc,
		"--authentication-kubeconfig=" + kc,
		"--authorization-kubeconfig=" + kc,
		"--bind-address=127.0.0.1",
		"--leader-elect=false",
		"--profiling=false",
	}
}

// kubeProxyArgs (reference, Part 2, point 4): iptables mode; NodePorts only on the pod network;
// the last four flags stop it from changing any sysctl (route_localnet, nf_conntrack_max and the
// conntrack timeouts).
func kubeProxyArgs(l layout, nodeName string) []string {
	return []string{
		"--kubeconfig=" + l.kubeconfigFor("kube-proxy"),
		"--proxy-mode=iptables",
		"--cluster-cidr=" + PodCIDR,
		"--bind-address=127.0.0.1",
		"--hostname-override=" + nodeName,
		"--nodeport-addresses=" + PodCIDR,
		"--healthz-bind-address=127.0.0.1:10256",
		"--metrics-bind-address=127.0.0.1:10249",
		"--iptables-localhost-nodeports=false",
		"--conntrack-max-per-core=0",
		"--conntrack-tcp-timeout-established=0",
		"--conntrack-tcp-timeout-close-wait=0",
	}
}

// kubeletArgs: --root-dir and --cert-dir are flags only (not in the KubeletConfiguration); both
// default to /var/lib/kubelet.
func kubeletArgs(l layout, nodeName string) []string {
	return []string{
		"--config=" + l.kubeletConfig(),
		"--kubeconfig=" + l.kubeconfigFor("kubelet"),
		"--root-dir=" + l.kubeletRoot(),
		"--cert-dir=" + filepath.Join(l.kubeletRoot(), "pki"),
		"--hostname-override=" + nodeName,
	}
}
