package localcluster

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"slices"
	"strings"

	kerrors "k8s.io/apimachinery/pkg/util/errors"
)

// guardComment tags the guard rules, so Down removes exactly them and nothing else.
const guardComment = "coffer-localcluster-guard"

// iptablesRule is one rule as iptables -S prints it, without "-A CHAIN".
type iptablesRule struct {
	Tool  string   `json:"tool"` // iptables or ip6tables
	Table string   `json:"table"`
	Chain string   `json:"chain"`
	Args  []string `json:"args"`
}

// externalInterfaces are the interfaces other than loopback and the pod network's: everything a
// packet from outside the machine could arrive on.
func externalInterfaces() ([]string, error) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, i := range ifaces {
		if i.Flags&net.FlagLoopback != 0 || i.Name == bridgeName || strings.HasPrefix(i.Name, "veth") {
			continue
		}
		out = append(out, i.Name)
	}
	return out, nil
}

// guardRules keep the cluster on the machine (reference, Part 2, point 8):
//   - the API server listens on every address so that pods reach it on the bridge; nothing
//     arriving on another interface may reach port 6443. This is in the raw table because
//     the kubelet and kube-proxy put their own jumps at the top of filter INPUT;
//   - the bridge plugin turns on IPv4 forwarding; nothing is forwarded to or from another
//     interface;
//   - nothing addressed to the service or pod range, or coming from a pod, leaves through another
//     interface. This is in mangle POSTROUTING, which sees the real output device after
//     kube-proxy's DNAT re-routed a packet (filter OUTPUT still sees the first route's device and
//     would drop host-to-ClusterIP traffic).
func guardRules(ifaces []string) []iptablesRule {
	var rules []iptablesRule
	add := func(tool, table, chain string, args ...string) {
		args = append(args, "-m", "comment", "--comment", guardComment, "-j", "DROP")
		rules = append(rules, iptablesRule{Tool: tool, Table: table, Chain: chain, Args: args})
	}
	port := fmt.Sprint(APIServerPort)
	for _, i := range ifaces {
		for _, tool := range []string{"iptables", "ip6tables"} {
			add(tool, "raw", "PREROUTING", "-i", i, "-p", "tcp", "-m", "tcp", "--dport", port)
			add(tool, "filter", "FORWARD", "-i", i)
			add(tool, "filter", "FORWARD", "-o", i)
		}
		add("iptables", "mangle", "POSTROUTING", "-d", ServiceCIDR, "-o", i)
		add("iptables", "mangle", "POSTROUTING", "-d", PodCIDR, "-o", i)
		add("iptables", "mangle", "POSTROUTING", "-s", PodCIDR, "-o", i)
	}
	return rules
}

func iptables(ctx context.Context, tool string, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, tool, append([]string{"-w"}, args...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", tool, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

func insertGuards(ctx context.Context, rules []iptablesRule) error {
	for _, r := range rules {
		args := append([]string{"-t", r.Table, "-I", r.Chain, "1"}, r.Args...)
		if _, err := iptables(ctx, r.Tool, args...); err != nil {
			return err
		}
	}
	return nil
}

var iptablesTables = []string{"raw", "mangle", "nat", "filter"}

// removeClusterRules removes the guard rules and everything the kubelet and kube-proxy left:
// every rule that jumps to a KUBE-* chain, then the KUBE-* chains themselves, in every table of
// iptables and ip6tables. Rules anyone else added stay.
func removeClusterRules(ctx context.Context) error {
	var errs []error
	for _, tool := range []string{"iptables", "ip6tables"} {
		if _, err := exec.LookPath(tool); err != nil {
			continue
		}
		for _, table := range iptablesTables {
			out, err := iptables(ctx, tool, "-t", table, "-S")
			if err != nil {
				continue // the table does not exist in this kernel
			}
			var kubeChains []string
			for _, line := range strings.Split(out, "\n") {
				f := splitRule(line)
				if len(f) < 2 {
					continue
				}
				switch {
				case f[0] == "-N" && strings.HasPrefix(f[1], "KUBE-"):
					kubeChains = append(kubeChains, f[1])
				case f[0] == "-A" && !strings.HasPrefix(f[1], "KUBE-") && (jumpsToKube(f) || slices.Contains(f, guardComment)):
					if _, err := iptables(ctx, tool, append([]string{"-t", table, "-D"}, f[1:]...)...); err != nil {
						errs = append(errs, err)
					}
				}
			}
			// Flush all first: the chains jump to each other.
			for _, ch := range kubeChains {
				if _, err := iptables(ctx, tool, "-t", table, "-F", ch); err != nil {
					errs = append(errs, err)
				}
			}
			for _, ch := range kubeChains {
				if _, err := iptables(ctx, tool, "-t", table, "-X", ch); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	return kerrors.NewAggregate(errs)
}

func jumpsToKube(f []string) bool {
	for i := 0; i+1 < len(f); i++ {
		if (f[i] == "-j" || f[i] == "-g") && strings.HasPrefix(f[i+1], "KUBE-") {
			return true
		}
	}
	return false
}

// splitRule splits a line of iptables -S into words, honouring the double quotes (with
// backslash escapes) iptables puts around comments.
func splitRule(line string) []string {
	var out []string
	var cur strings.Builder
	inWord, inQuote := false, false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case inQuote && c == '\\' && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
		case c == '"':
			inQuote = !inQuote
			inWord = true
		case !inQuote && (c == ' ' || c == '\t'):
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out
}
