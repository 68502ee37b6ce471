// Package localcluster runs a real single-node Kubernetes cluster on this machine: etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler, kube-proxy and a real kubelet that runs
// containers through containerd and runc. The end-to-end suites and `make run` use it to run
// Coffer's own image as a user would. DESIGN.md ("Local cluster") says why it exists and
// the reference (reference/local-cluster.md) records how each obstacle on these machines was found.
//
// Everything comes from the Go module proxy and Debian packages; nothing is pulled from a
// container registry and no traffic leaves the machine:
//   - Debian's containerd, runc, CNI plugins and iptables are installed with apt-get when missing;
//   - the Kubernetes v1.36.3 and etcd binaries are built once by hack/controlplane.sh into the
//     per-user cache;
//   - images are static Go programs packed as image tarballs with go-containerregistry and
//     imported with ctr (the pause image too), and every registry is redirected to
//     127.0.0.1:5000, where nothing listens, so a pull fails fast instead of going out;
//   - the API server listens on all addresses (pods reach it through the service IP 10.96.0.1,
//     translated by kube-proxy to the bridge address 10.244.0.1), so iptables guard rules drop
//     what arrives for it, or would be forwarded, on the machine's other interfaces.
//
// Up is idempotent: it starts the daemons in order by PID (setsid, logs in the work directory)
// and records in a state file what Down needs, including the host's sysctls, mounts, nftables
// tables and paths as they were before, so that any process can tear the cluster down and put the
// host back as it found it. When a healthy cluster is already running, Up returns it. Use and
// ForTest share a running cluster between processes and tear it down only when they started it.
//
// Needs root (the kubelet and containerd manage mounts, cgroups and network namespaces).
//
// It is test support: it may import client-go, controller-runtime and go-containerregistry, and
// must not import controllers, webhooks, api or anything else under test; it deploys Coffer from
// config/ and the image built from cmd/coffer, the way a user would.
package localcluster
