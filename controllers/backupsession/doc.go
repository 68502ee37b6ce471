// Package backupsession reconciles BackupSessions: one Snapshot per repository, pre-backup
// hooks, a backup Job per component, failure of components whose executor died, post-backup
// hooks, retention Jobs, metrics, history cleanup and retries. Every step records a condition;
// the phase is derived by api/core/v1alpha1.BackupSessionPhaseFor.
package backupsession
