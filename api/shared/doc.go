// Package shared holds the types, names and pure helpers that Coffer's three API groups have in
// common: references, usage policies, retry and scheduler settings, runtime settings, the labels
// and annotations Coffer writes, and the middle-cut name truncation.
//
// It is part of the API: it may import k8s.io/api and k8s.io/apimachinery only.
//
// +kubebuilder:object:generate=true
package shared
