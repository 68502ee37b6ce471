// Package v1alpha1 is the core.coffer.dev API: how a target is backed up (BackupConfiguration),
// each backup run (BackupSession), restores (RestoreSession), templates of configurations
// (BackupBlueprint), proofs that backups restore (BackupVerifier, BackupVerificationSession) and
// hooks (HookTemplate). Phases are derived from conditions by the pure functions in phases.go.
//
// It is part of the API: it may import k8s.io/api, k8s.io/apimachinery and the other api
// packages only.
//
// +kubebuilder:object:generate=true
// +groupName=core.coffer.dev
package v1alpha1
