// Package storage tests the BackupStorage and Repository controllers together on a real
// kube-apiserver (envtest), against a real local directory and a real S3 server (versitygw):
// readiness and its conditions, the files they write, re-creation from existing data, and
// deletion under each policy.
package storage
