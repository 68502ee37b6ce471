package shared

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// EffectiveFrom is From, or Same when unset (the CRD default).
func (a AllowedNamespaces) EffectiveFrom() NamespacesFrom {
	if a.From == nil || *a.From == "" {
		return NamespacesFromSame
	}
	return *a.From
}

// Allows reports whether an object living in ownerNamespace, guarded by this policy, may be used
// from namespace ns whose labels are nsLabels. An invalid selector is an error, not a refusal,
// so the caller can name the broken field.
func (u UsagePolicy) Allows(ownerNamespace, ns string, nsLabels map[string]string) (bool, error) {
	switch u.AllowedNamespaces.EffectiveFrom() {
	case NamespacesFromAll:
		return true, nil
	case NamespacesFromSame:
		return ownerNamespace == ns, nil
	case NamespacesFromSelector:
		if u.AllowedNamespaces.Selector == nil {
			return false, fmt.Errorf("allowedNamespaces.selector is required when from is Selector")
		}
		sel, err := metav1.LabelSelectorAsSelector(u.AllowedNamespaces.Selector)
		if err != nil {
			return false, fmt.Errorf("allowedNamespaces.selector: %w", err)
		}
		return sel.Matches(labels.Set(nsLabels)), nil
	default:
		return false, fmt.Errorf("allowedNamespaces.from: unknown value %q", *u.AllowedNamespaces.From)
	}
}
