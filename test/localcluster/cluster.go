package localcluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Cluster is a running local cluster.
type Cluster struct {
	layout    layout
	repoRoot  string
	state     *state
	config    *rest.Config
	clientset kubernetes.Interface
	started   bool

	clientOnce sync.Once
	client     client.Client
}

// ErrNotRoot is returned by Up when it does not run as root.
var ErrNotRoot = errors.New("the local cluster runs containerd and a kubelet and changes iptables rules, so it needs root: run as root (e.g. `sudo -E env PATH=$PATH make run`, or `sudo -E env PATH=$PATH go test ./test/localcluster/`)")

// Up brings the cluster up, or returns the one already running in the work directory if it is
// healthy. A cluster that is recorded but unhealthy (a daemon died, the machine rebooted) is
// torn down first. If starting fails, Up tears down what it started; the daemon logs stay in
// <work dir>/logs.
//
// Steps: install missing Debian packages (apt-get), build missing binaries
// (hack/controlplane.sh, minutes on first use), record the host's state, write PKI and configs,
// insert the guard rules, start containerd and import the pause image, start etcd and the API
// server and wait for /readyz, then the controller-manager, scheduler, kube-proxy and kubelet,
// and wait for the node to be Ready, kube-proxy to have synced and the default ServiceAccount.
// It logs progress to the logr.Logger in ctx.
func Up(ctx context.Context, cfg Config) (*Cluster, error) {
	if os.Geteuid() != 0 {
		return nil, ErrNotRoot
	}
	l, err := newLayout(cfg.WorkDir)
	if err != nil {
		return nil, err
	}
	root, err := findRepoRoot(cfg.RepoRoot)
	if err != nil {
		return nil, err
	}
	lock, err := lockFile(l.lockFile(), unix.LOCK_EX)
	if err != nil {
		return nil, err
	}
	defer lock.unlock()
	return up(ctx, l, root)
}

func up(ctx context.Context, l layout, root string) (*Cluster, error) {
	log := logr.FromContextOrDiscard(ctx)
	st, err := readState(l)
	if err != nil {
		return nil, err
	}
	if st != nil {
		c, err := newCluster(l, root, st)
		if err == nil {
			if err = c.healthy(ctx); err == nil {
				log.Info("reusing the running local cluster", "workDir", l.dir)
				return c, nil
			}
		}
		log.Info("the recorded local cluster is not healthy; tearing it down and starting again", "reason", err.Error())
		if err := down(ctx, l, st); err != nil {
			return nil, fmt.Errorf("tearing down the unhealthy cluster in %s: %w", l.dir, err)
		}
	}
	began := time.Now()
	c, err := start(ctx, l, root)
	if err != nil {
		if st, _ := readState(l); st != nil {
			// Use a fresh context: ctx may be what ended.
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
			defer cancel()
			if derr := down(dctx, l, st); derr != nil {
				err = fmt.Errorf("%w (and tearing down again: %v)", err, derr)
			}
		}
		return nil, fmt.Errorf("starting the local cluster (logs in %s): %w", l.path("logs"), err)
	}
	log.Info("local cluster up", "took", time.Since(began).Round(100*time.Millisecond).String(), "kubeconfig", l.kubeconfig())
	return c, nil
}

func start(ctx context.Context, l layout, root string) (*Cluster, error) {
	log := logr.FromContextOrDiscard(ctx)
	if err := ensurePackages(ctx); err != nil {
		return nil, err
	}
	log.Info("getting the Kubernetes binaries (hack/controlplane.sh; builds on first use only)")
	binDir, err := runScript(ctx, root, "controlplane.sh", controlPlaneBinaries...)
	if err != nil {
		return nil, err
	}
	if err := checkPortsFree(); err != nil {
		return nil, err
	}
	nodeName, err := nodeName()
	if err != nil {
		return nil, err
	}
	if err := prepareWorkDir(l); err != nil {
		return nil, err
	}
	// Record the host before changing anything, and save it at once: from here on a failure, or
	// a crash, leaves Down what it needs to put the host back.
	host, err := snapshotHost()
	if err != nil {
		return nil, fmt.Errorf("recording the host's state: %w", err)
	}
	st := &state{NodeName: nodeName, BinDir: binDir, Host: host}
	if err := writeState(l, st); err != nil {
		return nil, err
	}
	if err := writePKI(l, nodeName); err != nil {
		return nil, fmt.Errorf("writing PKI: %w", err)
	}
	if err := writeConfigs(l); err != nil {
		return nil, err
	}
	ifaces, err := externalInterfaces()
	if err != nil {
		return nil, err
	}
	st.Guards = guardRules(ifaces)
	if err := writeState(l, st); err != nil {
		return nil, err
	}
	if err := insertGuards(ctx, st.Guards); err != nil {
		return nil, fmt.Errorf("inserting the guard rules: %w", err)
	}

	run := func(name string, args []string) (*process, error) {
		bin := filepath.Join(binDir, name)
		if name == containerd {
			bin = "/usr/bin/containerd"
		}
		p, err := startDaemon(name, bin, args, l.logFile(name))
		if err != nil {
			return nil, err
		}
		st.Processes = append(st.Processes, p)
		return &p, writeState(l, st)
	}

	p, err := run(containerd, containerdArgs(l))
	if err != nil {
		return nil, err
	}
	if err := waitFor(ctx, "containerd", p, 30*time.Second, func(context.Context) error {
		conn, err := net.Dial("unix", l.containerdSocket())
		if err == nil {
			conn.Close()
		}
		return err
	}); err != nil {
		return nil, err
	}
	// A cluster killed without Down leaves its containers in containerd's metadata, which stays
	// with the images; the new kubelet must not find them.
	if err := deleteContainers(ctx, l); err != nil {
		return nil, err
	}
	if err := importPause(ctx, l, root); err != nil {
		return nil, err
	}

	if p, err = run(etcd, etcdArgs(l)); err != nil {
		return nil, err
	}
	if err := waitFor(ctx, "etcd", p, 30*time.Second, etcdHealthy); err != nil {
		return nil, err
	}

	if p, err = run(kubeAPIServer, apiServerArgs(l)); err != nil {
		return nil, err
	}
	c, err := newCluster(l, root, st)
	if err != nil {
		return nil, err
	}
	c.started = true
	// The controller-manager exits when started before the API server's RBAC bootstrap is done.
	if err := waitFor(ctx, "the API server's /readyz", p, 60*time.Second, c.readyz); err != nil {
		return nil, err
	}

	for _, d := range []struct {
		name string
		args []string
	}{
		{controllerManager, controllerManagerArgs(l)},
		{scheduler, schedulerArgs(l)},
		{kubeProxy, kubeProxyArgs(l, nodeName)},
		{kubelet, kubeletArgs(l, nodeName)},
	} {
		if _, err := run(d.name, d.args); err != nil {
			return nil, err
		}
	}
	kubeletProc, _ := st.process(kubelet)
	if err := waitFor(ctx, "node "+nodeName+" Ready", &kubeletProc, 90*time.Second, c.nodeReady); err != nil {
		return nil, err
	}
	proxyProc, _ := st.process(kubeProxy)
	if err := waitFor(ctx, "kube-proxy to sync its rules", &proxyProc, 30*time.Second, kubeProxyHealthy); err != nil {
		return nil, err
	}
	cmProc, _ := st.process(controllerManager)
	if err := waitFor(ctx, "the default ServiceAccount", &cmProc, 60*time.Second, func(ctx context.Context) error {
		_, err := c.clientset.CoreV1().ServiceAccounts(metav1.NamespaceDefault).Get(ctx, "default", metav1.GetOptions{})
		return err
	}); err != nil {
		return nil, err
	}
	return c, nil
}

// prepareWorkDir removes what a previous cluster left that a new one must not inherit (etcd's
// data, the kubelet's pods, containerd's runtime state, IP allocations, logs), and keeps
// containerd's root, where the imported images' content stays.
func prepareWorkDir(l layout) error {
	if err := os.MkdirAll(l.dir, 0o755); err != nil {
		return err
	}
	mounts, err := readMounts()
	if err != nil {
		return err
	}
	for _, m := range mounts {
		if under(m.Path, l.dir) {
			return fmt.Errorf("%s is still mounted inside the work directory; run Down (make down) first", m.Path)
		}
	}
	for _, p := range []string{l.etcdData(), l.kubeletRoot(), l.containerdState(), l.runcRoot(), l.path("run"), l.cniDataDir(), l.podLogs(), l.path("logs"), l.path("apiserver")} {
		if err := os.RemoveAll(p); err != nil {
			return err
		}
	}
	return nil
}

func checkPortsFree() error {
	var busy []string
	for port, daemon := range daemonPorts {
		ln, err := net.Listen("tcp", fmt.Sprintf(":%d", port))
		if err != nil {
			busy = append(busy, fmt.Sprintf("%d (for %s)", port, daemon))
			continue
		}
		ln.Close()
	}
	if len(busy) > 0 {
		return fmt.Errorf("ports already in use: %s; is another cluster (or another work directory's local cluster) running?", strings.Join(busy, ", "))
	}
	return nil
}

// nodeName is the machine's hostname when /etc/hosts maps it to loopback, so the API server's
// connections to the kubelet (logs, exec), which dial the node's hostname first, stay on
// 127.0.0.1. Otherwise it is "localhost". /etc/hosts is read directly: a DNS query for the name
// must not leave the machine.
func nodeName() (string, error) {
	h, err := os.Hostname()
	if err != nil {
		return "", err
	}
	h = strings.ToLower(h)
	data, err := os.ReadFile("/etc/hosts")
	if err != nil {
		return "localhost", nil
	}
	for _, line := range strings.Split(string(data), "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		ip := net.ParseIP(f[0])
		if ip == nil || !ip.IsLoopback() {
			continue
		}
		for _, name := range f[1:] {
			if strings.ToLower(name) == h {
				return h, nil
			}
		}
	}
	return "localhost", nil
}

func newCluster(l layout, root string, st *state) (*Cluster, error) {
	cfg, err := adminConfig(l)
	if err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &Cluster{layout: l, repoRoot: root, state: st, config: cfg, clientset: cs}, nil
}

func adminConfig(l layout) (*rest.Config, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", l.kubeconfig())
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", l.kubeconfig(), err)
	}
	cfg.QPS, cfg.Burst = 50, 100
	return cfg, nil
}

func newClientset(l layout) (kubernetes.Interface, error) {
	cfg, err := adminConfig(l)
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfig(cfg)
}

// healthy says whether every daemon runs, the API server is ready and the node is Ready.
func (c *Cluster) healthy(ctx context.Context) error {
	for _, name := range stopOrder {
		p, ok := c.state.process(name)
		if !ok {
			return fmt.Errorf("%s was never started", name)
		}
		if !p.alive() {
			return fmt.Errorf("%s (pid %d) is not running", name, p.PID)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := c.readyz(ctx); err != nil {
		return err
	}
	return c.nodeReady(ctx)
}

func (c *Cluster) readyz(ctx context.Context) error {
	body, err := c.clientset.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
	if err != nil {
		return fmt.Errorf("/readyz: %w: %s", err, body)
	}
	return nil
}

func (c *Cluster) nodeReady(ctx context.Context) error {
	n, err := c.clientset.CoreV1().Nodes().Get(ctx, c.state.NodeName, metav1.GetOptions{})
	if err != nil {
		return err
	}
	for _, cond := range n.Status.Conditions {
		if cond.Type == corev1.NodeReady {
			if cond.Status == corev1.ConditionTrue {
				return nil
			}
			return fmt.Errorf("node %s: Ready=%s: %s", n.Name, cond.Status, cond.Message)
		}
	}
	return fmt.Errorf("node %s has no Ready condition yet", n.Name)
}

// Kubeconfig is the path of the cluster admin's kubeconfig (<work dir>/kubeconfig).
func (c *Cluster) Kubeconfig() string { return c.layout.kubeconfig() }

// RESTConfig connects as the cluster admin (group system:masters). It is a copy.
func (c *Cluster) RESTConfig() *rest.Config { return rest.CopyConfig(c.config) }

// Client is a controller-runtime client with client-go's scheme, reading straight from the API
// server. Build another from RESTConfig for other kinds. It is made on first use, so that Up
// and Down alone never touch controller-runtime (which wants its global logger set).
func (c *Cluster) Client() client.Client {
	c.clientOnce.Do(func() {
		cl, err := client.New(c.config, client.Options{Scheme: clientgoscheme.Scheme})
		if err != nil {
			// Only a broken rest.Config fails here, and Up has just used the same one.
			panic(fmt.Sprintf("localcluster: controller-runtime client: %v", err))
		}
		c.client = cl
	})
	return c.client
}

// Clientset is a client-go clientset for what controller-runtime does not do (logs).
func (c *Cluster) Clientset() kubernetes.Interface { return c.clientset }

// WorkDir is the directory holding everything of this cluster.
func (c *Cluster) WorkDir() string { return c.layout.dir }

// NodeName is the name of the cluster's only node.
func (c *Cluster) NodeName() string { return c.state.NodeName }

// Started says whether this Up started the cluster (false when it found it running).
func (c *Cluster) Started() bool { return c.started }

// Down tears the cluster down; see the package function Down.
func (c *Cluster) Down(ctx context.Context) error { return Down(ctx, c.layout.dir) }
