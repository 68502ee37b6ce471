package shared_test

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cofferhq/coffer/api/shared"
)

func from(f shared.NamespacesFrom) *shared.NamespacesFrom { return &f }

func selectorPolicy(sel *metav1.LabelSelector) shared.UsagePolicy {
	return shared.UsagePolicy{AllowedNamespaces: shared.AllowedNamespaces{
		From:     from(shared.NamespacesFromSelector),
		Selector: sel,
	}}
}

func TestUsagePolicyAllows(t *testing.T) {
	teamA := map[string]string{"team": "a", "env": "prod"}
	tests := map[string]struct {
		policy   shared.UsagePolicy
		owner    string
		ns       string
		nsLabels map[string]string
		want     bool
		wantErr  bool
	}{
		"All allows another namespace": {
			policy: shared.UsagePolicy{AllowedNamespaces: shared.AllowedNamespaces{From: from(shared.NamespacesFromAll)}},
			owner:  "storage", ns: "demo", want: true,
		},
		"All ignores a selector that would not match": {
			policy: shared.UsagePolicy{AllowedNamespaces: shared.AllowedNamespaces{
				From:     from(shared.NamespacesFromAll),
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "b"}},
			}},
			owner: "storage", ns: "demo", nsLabels: teamA, want: true,
		},
		"Same allows the owner's namespace": {
			policy: shared.UsagePolicy{AllowedNamespaces: shared.AllowedNamespaces{From: from(shared.NamespacesFromSame)}},
			owner:  "demo", ns: "demo", want: true,
		},
		"Same refuses another namespace": {
			policy: shared.UsagePolicy{AllowedNamespaces: shared.AllowedNamespaces{From: from(shared.NamespacesFromSame)}},
			owner:  "storage", ns: "demo", want: false,
		},
		"nil From defaults to Same: own namespace allowed": {
			policy: shared.UsagePolicy{},
			owner:  "demo", ns: "demo", want: true,
		},
		"nil From defaults to Same: other namespace refused": {
			policy: shared.UsagePolicy{},
			owner:  "storage", ns: "demo", nsLabels: teamA, want: false,
		},
		"empty From defaults to Same": {
			policy: shared.UsagePolicy{AllowedNamespaces: shared.AllowedNamespaces{From: from("")}},
			owner:  "storage", ns: "demo", want: false,
		},
		"Selector matching the namespace labels allows": {
			policy: selectorPolicy(&metav1.LabelSelector{MatchLabels: map[string]string{"team": "a"}}),
			owner:  "storage", ns: "demo", nsLabels: teamA, want: true,
		},
		"Selector not matching the namespace labels refuses": {
			policy: selectorPolicy(&metav1.LabelSelector{MatchLabels: map[string]string{"team": "b"}}),
			owner:  "storage", ns: "demo", nsLabels: teamA, want: false,
		},
		"Selector refuses a namespace without labels": {
			policy: selectorPolicy(&metav1.LabelSelector{MatchLabels: map[string]string{"team": "a"}}),
			owner:  "storage", ns: "demo", nsLabels: nil, want: false,
		},
		"Selector does not imply the owner's namespace": {
			policy: selectorPolicy(&metav1.LabelSelector{MatchLabels: map[string]string{"team": "b"}}),
			owner:  "demo", ns: "demo", nsLabels: teamA, want: false,
		},
		"Selector with a matching expression allows": {
			policy: selectorPolicy(&metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "env", Operator: metav1.LabelSelectorOpIn, Values: []string{"prod", "staging"}},
			}}),
			owner: "storage", ns: "demo", nsLabels: teamA, want: true,
		},
		"Selector with a failing expression refuses": {
			policy: selectorPolicy(&metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "env", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"prod"}},
			}}),
			owner: "storage", ns: "demo", nsLabels: teamA, want: false,
		},
		"empty Selector matches every namespace, as in Kubernetes": {
			policy: selectorPolicy(&metav1.LabelSelector{}),
			owner:  "storage", ns: "demo", want: true,
		},
		"Selector without a selector is an error": {
			policy: selectorPolicy(nil),
			owner:  "storage", ns: "demo", nsLabels: teamA, wantErr: true,
		},
		"Selector with an unknown operator is an error": {
			policy: selectorPolicy(&metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "team", Operator: "Near", Values: []string{"a"}},
			}}),
			owner: "storage", ns: "demo", nsLabels: teamA, wantErr: true,
		},
		"Selector with an invalid label key is an error": {
			policy: selectorPolicy(&metav1.LabelSelector{MatchLabels: map[string]string{"not a key!": "a"}}),
			owner:  "storage", ns: "demo", nsLabels: teamA, wantErr: true,
		},
		"Selector In without values is an error": {
			policy: selectorPolicy(&metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "team", Operator: metav1.LabelSelectorOpIn},
			}}),
			owner: "storage", ns: "demo", nsLabels: teamA, wantErr: true,
		},
		"unknown From is an error": {
			policy: shared.UsagePolicy{AllowedNamespaces: shared.AllowedNamespaces{From: from("Everywhere")}},
			owner:  "storage", ns: "storage", wantErr: true,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := tc.policy.Allows(tc.owner, tc.ns, tc.nsLabels)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Allows() error = %v, wantErr %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("Allows() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestEffectiveFrom(t *testing.T) {
	tests := map[string]struct {
		from *shared.NamespacesFrom
		want shared.NamespacesFrom
	}{
		"nil is Same":     {from: nil, want: shared.NamespacesFromSame},
		"empty is Same":   {from: from(""), want: shared.NamespacesFromSame},
		"All stays All":   {from: from(shared.NamespacesFromAll), want: shared.NamespacesFromAll},
		"Selector stays":  {from: from(shared.NamespacesFromSelector), want: shared.NamespacesFromSelector},
		"Same stays Same": {from: from(shared.NamespacesFromSame), want: shared.NamespacesFromSame},
		"unknown is kept": {from: from("Everywhere"), want: "Everywhere"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := (shared.AllowedNamespaces{From: tc.from}).EffectiveFrom(); got != tc.want {
				t.Errorf("EffectiveFrom() = %q, want %q", got, tc.want)
			}
		})
	}
}
