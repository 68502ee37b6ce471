package localcluster

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	kerrors "k8s.io/apimachinery/pkg/util/errors"
)

// hostSnapshot is how the host was before Up changed it: what Down restores.
type hostSnapshot struct {
	Sysctls []sysctlValue `json:"sysctls"`
	// Mounts are the mount points that existed; the ones that appear later under the cluster's
	// directories (the kubelet's volumes, containerd's rootfs and network namespaces) are unmounted.
	Mounts []mountPoint `json:"mounts"`
	// Absent are paths outside the work directory that did not exist and that the daemons create
	// at fixed places (the CNI result cache, /var/log/containers, the kubepods cgroups, ...).
	Absent []string `json:"absent"`
	// NFTables are the nftables tables that existed (iptables-nft creates tables on first use).
	NFTables []nftTable `json:"nftTables"`
}

// sysctlValue is one sysctl, by its path under /proc/sys (interface names may contain dots).
type sysctlValue struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type mountPoint struct {
	ID   int    `json:"id"`
	Path string `json:"path"`
}

// changedSysctls are the sysctls the kubelet (protectKernelDefaults: false), the bridge plugin
// (isGateway turns on IPv4 forwarding, which also changes every interface's forwarding and
// accept_redirects) and kube-proxy (kept off by its flags, recorded anyway) may change.
// net/ipv4/ip_forward comes first: restoring it resets the per-interface values, which are
// then restored after it.
var changedSysctls = []string{
	"net/ipv4/ip_forward",
	"kernel/panic",
	"kernel/panic_on_oops",
	"vm/overcommit_memory",
	"vm/panic_on_oom",
	"kernel/keys/root_maxkeys",
	"kernel/keys/root_maxbytes",
	"net/ipv6/conf/all/forwarding",
	"net/ipv6/conf/default/forwarding",
	"net/netfilter/nf_conntrack_max",
	"net/netfilter/nf_conntrack_tcp_timeout_established",
	"net/netfilter/nf_conntrack_tcp_timeout_close_wait",
	"net/bridge/bridge-nf-call-iptables",
	"net/bridge/bridge-nf-call-ip6tables",
}

// perInterfaceSysctls are recorded for "all", "default" and every interface that exists.
var perInterfaceSysctls = []string{"forwarding", "accept_redirects", "send_redirects", "route_localnet"}

// fixedPaths are where the daemons write outside the work directory whatever their flags say:
// libcni's result cache, the kubelet's /var/log/containers symlinks, containerd's shim sockets
// under /run/containerd/s, the network namespaces, iptables' lock file. The rest are defaults
// that the flags move into the work directory, listed so a forgotten flag shows up and is undone.
var fixedPaths = []string{
	"/var/lib/cni",
	"/var/log/containers",
	"/var/log/pods",
	"/run/containerd",
	"/run/netns",
	"/run/xtables.lock",
	"/run/mount", // libmount's utab, written when the kubelet mounts
	"/run/kubernetes",
	"/var/lib/kubelet",
	"/var/lib/containerd",
	"/opt/containerd",
	"/etc/kubernetes",
	"/etc/cni",
}

// mountPrefixes are where mounts made by the cluster appear, besides the work directory.
var mountPrefixes = []string{"/run/netns", "/var/run/netns", "/run/containerd", "/var/lib/kubelet"}

func snapshotHost() (hostSnapshot, error) {
	var h hostSnapshot
	keys := slices.Clone(changedSysctls)
	ifaces, _ := os.ReadDir("/proc/sys/net/ipv4/conf")
	for _, i := range ifaces {
		for _, k := range perInterfaceSysctls {
			keys = append(keys, "net/ipv4/conf/"+i.Name()+"/"+k)
		}
	}
	for _, k := range keys {
		v, err := readSysctl(k)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return h, err
		}
		h.Sysctls = append(h.Sysctls, sysctlValue{Key: k, Value: v})
	}
	mounts, err := readMounts()
	if err != nil {
		return h, err
	}
	h.Mounts = mounts
	for _, p := range append(slices.Clone(fixedPaths), cgroupCandidates()...) {
		if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
			h.Absent = append(h.Absent, p)
		}
	}
	if h.NFTables, err = listNFTables(); err != nil {
		return h, err
	}
	return h, nil
}

func readSysctl(key string) (string, error) {
	b, err := os.ReadFile(filepath.Join("/proc/sys", key))
	return strings.TrimSpace(string(b)), err
}

// restoreSysctls writes back every recorded value that differs now.
func restoreSysctls(h hostSnapshot) error {
	var errs []error
	for _, s := range h.Sysctls {
		cur, err := readSysctl(s.Key)
		if errors.Is(err, fs.ErrNotExist) {
			continue // an interface that went away
		}
		if err == nil && cur == s.Value {
			continue
		}
		if err := os.WriteFile(filepath.Join("/proc/sys", s.Key), []byte(s.Value), 0o644); err != nil {
			errs = append(errs, fmt.Errorf("restoring sysctl %s=%s: %w", strings.ReplaceAll(s.Key, "/", "."), s.Value, err))
		}
	}
	return kerrors.NewAggregate(errs)
}

// readMounts lists the mount points of this mount namespace in mount order.
func readMounts() ([]mountPoint, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []mountPoint
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 64*1024), 1024*1024)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) < 5 {
			continue
		}
		id, err := strconv.Atoi(fields[0])
		if err != nil {
			continue
		}
		out = append(out, mountPoint{ID: id, Path: unescapeMountPath(fields[4])})
	}
	return out, s.Err()
}

// unescapeMountPath undoes mountinfo's octal escapes (\040 for a space).
func unescapeMountPath(p string) string {
	if !strings.Contains(p, `\`) {
		return p
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] == '\\' && i+3 < len(p) {
			if n, err := strconv.ParseUint(p[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(p[i])
	}
	return b.String()
}

func under(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, strings.TrimSuffix(dir, "/")+"/")
}

// unmountNew unmounts, newest first, every mount that did not exist in the snapshot and lies under
// the work directory or one of mountPrefixes. A busy mount is detached rather than left behind.
func unmountNew(h hostSnapshot, workDir string) error {
	before := map[mountPoint]bool{}
	for _, m := range h.Mounts {
		before[m] = true
	}
	prefixes := append([]string{workDir}, mountPrefixes...)
	var errs []error
	for range 5 { // stacked mounts show up again after the top one is gone
		mounts, err := readMounts()
		if err != nil {
			return err
		}
		var todo []mountPoint
		for _, m := range mounts {
			if before[m] {
				continue
			}
			if slices.ContainsFunc(prefixes, func(p string) bool { return under(m.Path, p) }) {
				todo = append(todo, m)
			}
		}
		if len(todo) == 0 {
			return nil
		}
		errs = errs[:0]
		for _, m := range slices.Backward(todo) {
			if err := unix.Unmount(m.Path, 0); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
				if err := unix.Unmount(m.Path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
					errs = append(errs, fmt.Errorf("unmounting %s: %w", m.Path, err))
				}
			}
		}
	}
	return kerrors.NewAggregate(errs)
}

// removeCreatedPaths removes the paths the snapshot recorded as absent, unless something is
// still mounted below one (then removing it would reach into that file system).
func removeCreatedPaths(h hostSnapshot) error {
	mounts, err := readMounts()
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range h.Absent {
		if isCgroupPath(p) {
			continue // removeCgroups
		}
		if slices.ContainsFunc(mounts, func(m mountPoint) bool { return under(m.Path, p) }) {
			errs = append(errs, fmt.Errorf("not removing %s: something is still mounted below it", p))
			continue
		}
		if err := os.RemoveAll(p); err != nil {
			errs = append(errs, err)
		}
	}
	return kerrors.NewAggregate(errs)
}

const cgroupRoot = "/sys/fs/cgroup"

// cgroupCandidates are the kubelet's pod cgroups (cgroupfs driver): /kubepods in every cgroup v1
// hierarchy, or in the unified hierarchy.
func cgroupCandidates() []string {
	out := []string{filepath.Join(cgroupRoot, "kubepods")}
	entries, _ := os.ReadDir(cgroupRoot)
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, filepath.Join(cgroupRoot, e.Name(), "kubepods"))
		}
	}
	return out
}

func isCgroupPath(p string) bool { return under(p, cgroupRoot) }

// killCgroupProcesses SIGKILLs every process left in the cluster's pod cgroups: containers whose
// pods were not deleted before the kubelet and containerd stopped.
func killCgroupProcesses(h hostSnapshot) int {
	killed := map[int]bool{}
	for _, root := range h.Absent {
		if !isCgroupPath(root) {
			continue
		}
		_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || d.Name() != "cgroup.procs" {
				return nil
			}
			data, _ := os.ReadFile(path)
			for _, f := range strings.Fields(string(data)) {
				if pid, err := strconv.Atoi(f); err == nil && !killed[pid] {
					killed[pid] = true
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
			return nil
		})
	}
	return len(killed)
}

// removeCgroups removes the pod cgroups the kubelet created, deepest first. A cgroup directory
// is removed with rmdir even though it lists control files; it fails while processes remain,
// so it is retried briefly after killCgroupProcesses.
func removeCgroups(h hostSnapshot) error {
	var errs []error
	for _, root := range h.Absent {
		if !isCgroupPath(root) {
			continue
		}
		if _, err := os.Stat(root); err != nil {
			continue
		}
		var dirs []string
		_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, path)
			}
			return nil
		})
		for _, d := range slices.Backward(dirs) {
			var err error
			for range 20 {
				if err = unix.Rmdir(d); err == nil || errors.Is(err, unix.ENOENT) {
					err = nil
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("removing cgroup %s: %w", d, err))
			}
		}
	}
	return kerrors.NewAggregate(errs)
}
