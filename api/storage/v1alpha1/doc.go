// Package v1alpha1 is the storage.coffer.dev API: where backups go (BackupStorage), the
// repositories inside it (Repository), each backup taken (Snapshot) and how long backups live
// (RetentionPolicy). Phases are derived from conditions by the pure functions in phases.go.
//
// It is part of the API: it may import k8s.io/api, k8s.io/apimachinery and api/shared only.
//
// +kubebuilder:object:generate=true
// +groupName=storage.coffer.dev
package v1alpha1
