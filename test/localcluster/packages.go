package localcluster

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/go-logr/logr"
)

// debianPackages maps each Debian package the cluster needs to files it installs, which is how Up
// tells whether it is installed without asking dpkg about every one.
var debianPackages = []struct {
	name  string
	files []string
}{
	{"containerd", []string{"/usr/bin/containerd", "/usr/bin/containerd-shim-runc-v2", "/usr/bin/ctr"}},
	{"runc", []string{"/usr/sbin/runc"}},
	{"containernetworking-plugins", []string{"/usr/lib/cni/bridge", "/usr/lib/cni/host-local", "/usr/lib/cni/loopback"}},
	{"iptables", []string{"/usr/sbin/iptables", "/usr/sbin/ip6tables"}},
}

// ensurePackages installs the Debian packages that are missing with apt-get, and does nothing when
// all are there. It runs `apt-get update` only when the install fails, since the lists are
// usually already current on a machine that installed anything before.
func ensurePackages(ctx context.Context) error {
	var missing []string
	for _, p := range debianPackages {
		for _, f := range p.files {
			if _, err := os.Stat(f); err != nil {
				missing = append(missing, p.name)
				break
			}
		}
	}
	if len(missing) == 0 {
		return nil
	}
	log := logr.FromContextOrDiscard(ctx)
	if _, err := exec.LookPath("apt-get"); err != nil {
		return fmt.Errorf("the local cluster needs the Debian packages %s and there is no apt-get to install them: install them by hand", strings.Join(missing, " "))
	}
	log.Info("installing missing Debian packages with apt-get install (once per machine)", "packages", missing)
	install := append([]string{"install", "-y", "--no-install-recommends"}, missing...)
	if out, err := aptGet(ctx, install...); err != nil {
		log.Info("apt-get install failed; running apt-get update and trying again", "output", lastLines(out, 5))
		if out, err := aptGet(ctx, "update"); err != nil {
			return fmt.Errorf("apt-get update: %w\n%s", err, lastLines(out, 20))
		}
		if out, err := aptGet(ctx, install...); err != nil {
			return fmt.Errorf("apt-get install %s: %w\n%s", strings.Join(missing, " "), err, lastLines(out, 20))
		}
	}
	return nil
}

func aptGet(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "apt-get", args...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	return cmd.CombinedOutput()
}

// lastLines keeps the end of a command's output for an error message.
func lastLines(out []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(bytes.TrimSpace(out)), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
