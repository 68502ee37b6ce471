package localcluster

import (
	"slices"
	"testing"
)

// Down deletes rules by replaying what iptables -S printed, so the split must give back exactly
// the words iptables expects, quotes removed.
func TestSplitRule(t *testing.T) {
	tests := map[string]struct {
		line     string
		want     []string
		jumpKube bool
	}{
		"kube-proxy jump with a quoted comment": {
			line:     `-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL`,
			want:     []string{"-A", "INPUT", "-m", "conntrack", "--ctstate", "NEW", "-m", "comment", "--comment", "kubernetes load balancer firewall", "-j", "KUBE-PROXY-FIREWALL"},
			jumpKube: true,
		},
		"guard rule": {
			line: `-A PREROUTING -i eth0 -p tcp -m tcp --dport 6443 -m comment --comment coffer-localcluster-guard -j DROP`,
			want: []string{"-A", "PREROUTING", "-i", "eth0", "-p", "tcp", "-m", "tcp", "--dport", "6443", "-m", "comment", "--comment", guardComment, "-j", "DROP"},
		},
		"escaped quote inside a comment": {
			line: `-A FORWARD -m comment --comment "say \"hi\"" -j ACCEPT`,
			want: []string{"-A", "FORWARD", "-m", "comment", "--comment", `say "hi"`, "-j", "ACCEPT"},
		},
		"goto a KUBE chain": {
			line:     `-A OUTPUT -g KUBE-SERVICES`,
			want:     []string{"-A", "OUTPUT", "-g", "KUBE-SERVICES"},
			jumpKube: true,
		},
		"empty": {line: "", want: nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := splitRule(tc.line)
			if !slices.Equal(got, tc.want) {
				t.Errorf("splitRule(%q) = %q, want %q", tc.line, got, tc.want)
			}
			if j := jumpsToKube(got); j != tc.jumpKube {
				t.Errorf("jumpsToKube = %v, want %v", j, tc.jumpKube)
			}
		})
	}
}

func TestUnescapeMountPath(t *testing.T) {
	if got := unescapeMountPath(`/run/netns/a\040b`); got != "/run/netns/a b" {
		t.Errorf("got %q", got)
	}
	if got := unescapeMountPath(`/plain`); got != "/plain" {
		t.Errorf("got %q", got)
	}
}
