// Package v1alpha1 is the addons.coffer.dev API (cluster-scoped): Addons declare the backup and
// restore tasks for a kind of target, and Functions declare the container that runs a task.
//
// It is part of the API: it may import k8s.io/api, k8s.io/apimachinery and api/shared only.
//
// +kubebuilder:object:generate=true
// +groupName=addons.coffer.dev
package v1alpha1
