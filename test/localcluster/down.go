package localcluster

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/sys/unix"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// daemonStopGrace is how long a daemon has after SIGTERM; they take 1-3 s here once the pods are
// gone.
const daemonStopGrace = 20 * time.Second

// Down tears down the cluster recorded in workDir (empty: DefaultWorkDir()) and puts the host back
// as Up found it. It does nothing when no cluster is recorded there, and every step is safe when
// what it undoes is already gone, so it can be run again after a partial failure.
//
// In order: delete the workloads and then the pods through the API (best effort, so the kubelet
// stops the containers and tears down their network); stop kube-proxy and the kubelet; delete
// the containers containerd still has; stop containerd, the scheduler, the controller-manager,
// the API server and etcd (SIGTERM by recorded PID, SIGKILL after a timeout); kill what is left
// in the pod cgroups and the cluster's containerd shims; run `kube-proxy --cleanup`; remove every
// KUBE-* chain and jump and the guard rules (iptables and ip6tables), and the nftables tables
// that only the cluster used; unmount what the cluster mounted; delete the cni0 bridge; remove the
// pod cgroups and the paths outside the work directory the cluster created; restore the recorded
// sysctls. The work directory stays (PKI, logs, images in containerd's root) for the next Up;
// removing it is safe once Down succeeded.
func Down(ctx context.Context, workDir string) error {
	l, err := newLayout(workDir)
	if err != nil {
		return err
	}
	if _, err := os.Stat(l.stateFile()); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if os.Geteuid() != 0 {
		return ErrNotRoot
	}
	lock, err := lockFile(l.lockFile(), unix.LOCK_EX)
	if err != nil {
		return err
	}
	defer lock.unlock()
	st, err := readState(l)
	if err != nil || st == nil {
		return err
	}
	return down(ctx, l, st)
}

func down(ctx context.Context, l layout, st *state) error {
	log := logr.FromContextOrDiscard(ctx)
	start := time.Now()
	var errs []error
	stop := func(names ...string) {
		for _, name := range names {
			if p, ok := st.process(name); ok {
				if err := p.stop(daemonStopGrace); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}

	if p, ok := st.process(kubeAPIServer); ok && p.alive() {
		// Without a kubelet no pod goes away by itself; the containers are removed below.
		k, _ := st.process(kubelet)
		if err := deleteWorkloads(ctx, l, k.alive()); err != nil {
			log.Info("deleting the workloads before stopping (best effort) did not finish", "error", err.Error())
		}
	}
	stop(kubeProxy, kubelet)
	if p, ok := st.process(containerd); ok && p.alive() {
		if err := deleteContainers(ctx, l); err != nil {
			log.Info("deleting containerd's containers (best effort) did not finish", "error", err.Error())
		}
	}
	stop(containerd, scheduler, controllerManager, kubeAPIServer, etcd)

	if n := killCgroupProcesses(st.Host); n > 0 {
		log.Info("killed processes left in the pod cgroups", "count", n)
	}
	for _, pid := range findProcesses("containerd-shim", l.containerdSocket()) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}

	if st.BinDir != "" {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		cmd := exec.CommandContext(cctx, filepath.Join(st.BinDir, kubeProxy), "--cleanup")
		cmd.Env = daemonEnv
		if out, err := cmd.CombinedOutput(); err != nil {
			// It also tries IPVS and nftables, which this machine may not have; the iptables
			// cleanup below does not depend on it.
			log.V(1).Info("kube-proxy --cleanup reported an error", "error", err.Error(), "output", lastLines(out, 5))
		}
		cancel()
	}
	if err := removeClusterRules(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := deleteNewEmptyTables(st.Host.NFTables); err != nil {
		errs = append(errs, err)
	}

	if err := unmountNew(st.Host, l.dir); err != nil {
		errs = append(errs, err)
	}
	if _, err := net.InterfaceByName(bridgeName); err == nil {
		if out, err := exec.CommandContext(ctx, "ip", "link", "del", bridgeName).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("ip link del %s: %w: %s", bridgeName, err, strings.TrimSpace(string(out))))
		}
	}
	if err := removeCgroups(st.Host); err != nil {
		errs = append(errs, err)
	}
	if err := removeCreatedPaths(st.Host); err != nil {
		errs = append(errs, err)
	}
	// After the bridge is gone: restoring ip_forward also resets every interface's forwarding.
	if err := restoreSysctls(st.Host); err != nil {
		errs = append(errs, err)
	}

	if len(errs) > 0 {
		// Keep the state file so that Down can be run again once the cause is fixed.
		return fmt.Errorf("tearing down the local cluster in %s: %w", l.dir, kerrors.NewAggregate(errs))
	}
	if err := os.Remove(l.stateFile()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	log.Info("local cluster down; host restored", "took", time.Since(start).Round(100*time.Millisecond).String())
	return nil
}

// deleteWorkloads deletes the webhook configurations (a webhook whose pod is gone must not block
// the deletes), then every workload controller, so nothing re-creates pods, then every pod, and,
// when a kubelet runs, waits briefly for the pods to be gone: the kubelet then has stopped their
// containers, torn down their network and unmounted their volumes. Pods get 2 s to stop instead
// of their own grace period.
func deleteWorkloads(ctx context.Context, l layout, waitForPods bool) error {
	ctx, cancel := context.WithTimeout(ctx, 40*time.Second)
	defer cancel()
	cs, err := newClientset(l)
	if err != nil {
		return err
	}
	bg := metav1.DeletePropagationBackground
	all := metav1.DeleteOptions{PropagationPolicy: &bg}
	var errs []error
	adm := cs.AdmissionregistrationV1()
	errs = append(errs,
		adm.ValidatingWebhookConfigurations().DeleteCollection(ctx, all, metav1.ListOptions{}),
		adm.MutatingWebhookConfigurations().DeleteCollection(ctx, all, metav1.ListOptions{}))
	nss, err := cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for _, ns := range nss.Items {
		errs = append(errs, deleteControllers(ctx, cs, ns.Name, all)...)
	}
	pods := metav1.DeleteOptions{PropagationPolicy: &bg, GracePeriodSeconds: ptr.To[int64](2)}
	for _, ns := range nss.Items {
		errs = append(errs, cs.CoreV1().Pods(ns.Name).DeleteCollection(ctx, pods, metav1.ListOptions{}))
	}
	if err := kerrors.NewAggregate(errs); err != nil || !waitForPods {
		return err
	}
	for {
		list, err := cs.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
		if err == nil && len(list.Items) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			n := -1
			if list != nil {
				n = len(list.Items)
			}
			return fmt.Errorf("%d pods still there: %w", n, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func deleteControllers(ctx context.Context, cs kubernetes.Interface, ns string, opts metav1.DeleteOptions) []error {
	lo := metav1.ListOptions{}
	return []error{
		cs.AppsV1().Deployments(ns).DeleteCollection(ctx, opts, lo),
		cs.AppsV1().ReplicaSets(ns).DeleteCollection(ctx, opts, lo),
		cs.AppsV1().DaemonSets(ns).DeleteCollection(ctx, opts, lo),
		cs.AppsV1().StatefulSets(ns).DeleteCollection(ctx, opts, lo),
		cs.BatchV1().CronJobs(ns).DeleteCollection(ctx, opts, lo),
		cs.BatchV1().Jobs(ns).DeleteCollection(ctx, opts, lo),
	}
}

// deleteContainers removes, once the kubelet is stopped, every task and container containerd
// still has for Kubernetes, so no container outlives the cluster and the next start does not
// recover stale sandboxes from containerd's metadata (which stays, with the images).
func deleteContainers(ctx context.Context, l layout) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ctr := func(args ...string) (string, error) {
		out, err := exec.CommandContext(ctx, "ctr", append([]string{"--address", l.containerdSocket(), "--namespace", "k8s.io"}, args...)...).CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("ctr %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
		return string(out), nil
	}
	var errs []error
	tasks, err := ctr("tasks", "ls", "-q")
	if err != nil {
		return err
	}
	for _, id := range strings.Fields(tasks) {
		// --force kills the task first. A task may have gone in the meantime (not found).
		if _, err := ctr("tasks", "delete", "--force", id); err != nil && !strings.Contains(err.Error(), "not found") {
			errs = append(errs, err)
		}
	}
	containers, err := ctr("containers", "ls", "-q")
	if err != nil {
		return err
	}
	if ids := strings.Fields(containers); len(ids) > 0 {
		if _, err := ctr(append([]string{"containers", "delete"}, ids...)...); err != nil {
			errs = append(errs, err)
		}
	}
	return kerrors.NewAggregate(errs)
}
