package v1alpha1_test

import (
	"strconv"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cofferhq/coffer/api/shared"
	storagev1alpha1 "github.com/cofferhq/coffer/api/storage/v1alpha1"
)

func condTrue(t shared.ConditionType) metav1.Condition {
	return shared.NewCondition(t, metav1.ConditionTrue, "Test", "", 1)
}

func condFalse(t shared.ConditionType) metav1.Condition {
	return shared.NewCondition(t, metav1.ConditionFalse, "Test", "", 1)
}

func condUnknown(t shared.ConditionType) metav1.Condition {
	return shared.NewCondition(t, metav1.ConditionUnknown, "Test", "", 1)
}

func conds(c ...metav1.Condition) []metav1.Condition { return c }

// components builds a component map named c0, c1, ... with the given phases.
func components(phases ...storagev1alpha1.ComponentPhase) map[string]storagev1alpha1.Component {
	if len(phases) == 0 {
		return nil
	}
	m := make(map[string]storagev1alpha1.Component, len(phases))
	for i, p := range phases {
		m["c"+strconv.Itoa(i)] = storagev1alpha1.Component{Phase: p}
	}
	return m
}

func TestBackupStoragePhaseFor(t *testing.T) {
	tests := map[string]struct {
		conditions []metav1.Condition
		want       storagev1alpha1.BackupStoragePhase
	}{
		"no conditions": {
			want: storagev1alpha1.BackupStorageNotReady,
		},
		"initialized, no secret condition": {
			conditions: conds(condTrue(storagev1alpha1.TypeBackendInitialized)),
			want:       storagev1alpha1.BackupStorageReady,
		},
		"initialized, secret found": {
			conditions: conds(condTrue(storagev1alpha1.TypeBackendInitialized), condTrue(storagev1alpha1.TypeBackendSecretFound)),
			want:       storagev1alpha1.BackupStorageReady,
		},
		"initialized, secret not found": {
			conditions: conds(condTrue(storagev1alpha1.TypeBackendInitialized), condFalse(storagev1alpha1.TypeBackendSecretFound)),
			want:       storagev1alpha1.BackupStorageNotReady,
		},
		"initialization failed": {
			conditions: conds(condFalse(storagev1alpha1.TypeBackendInitialized), condTrue(storagev1alpha1.TypeBackendSecretFound)),
			want:       storagev1alpha1.BackupStorageNotReady,
		},
		"initialization unknown": {
			conditions: conds(condUnknown(storagev1alpha1.TypeBackendInitialized)),
			want:       storagev1alpha1.BackupStorageNotReady,
		},
		"initialized, secret check unknown is not Ready": {
			conditions: conds(condTrue(storagev1alpha1.TypeBackendInitialized), condUnknown(storagev1alpha1.TypeBackendSecretFound)),
			want:       storagev1alpha1.BackupStorageNotReady,
		},
		"secret found but not initialized yet": {
			conditions: conds(condTrue(storagev1alpha1.TypeBackendSecretFound)),
			want:       storagev1alpha1.BackupStorageNotReady,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := storagev1alpha1.BackupStoragePhaseFor(tc.conditions); got != tc.want {
				t.Errorf("BackupStoragePhaseFor() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestRepositoryPhaseFor(t *testing.T) {
	tests := map[string]struct {
		conditions []metav1.Condition
		want       storagev1alpha1.RepositoryPhase
	}{
		"no conditions": {
			want: storagev1alpha1.RepositoryNotReady,
		},
		"initialized": {
			conditions: conds(condTrue(storagev1alpha1.TypeRepositoryInitialized)),
			want:       storagev1alpha1.RepositoryReady,
		},
		"initialization failed": {
			conditions: conds(condFalse(storagev1alpha1.TypeRepositoryInitialized)),
			want:       storagev1alpha1.RepositoryNotReady,
		},
		"initialization unknown": {
			conditions: conds(condUnknown(storagev1alpha1.TypeRepositoryInitialized)),
			want:       storagev1alpha1.RepositoryNotReady,
		},
		"a backend condition does not make a repository ready": {
			conditions: conds(condTrue(storagev1alpha1.TypeBackendInitialized)),
			want:       storagev1alpha1.RepositoryNotReady,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := storagev1alpha1.RepositoryPhaseFor(tc.conditions); got != tc.want {
				t.Errorf("RepositoryPhaseFor() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSnapshotPhaseFor(t *testing.T) {
	const (
		pending   = storagev1alpha1.ComponentPending
		running   = storagev1alpha1.ComponentRunning
		succeeded = storagev1alpha1.ComponentSucceeded
		failed    = storagev1alpha1.ComponentFailed
	)
	uploaded := condTrue(storagev1alpha1.TypeSnapshotMetadataUploaded)
	tests := map[string]struct {
		conditions []metav1.Condition
		total      int32
		components map[string]storagev1alpha1.Component
		want       storagev1alpha1.SnapshotPhase
	}{
		"nothing yet is Pending": {
			want: storagev1alpha1.SnapshotPending,
		},
		"no components is Pending even with metadata uploaded": {
			conditions: conds(uploaded, condTrue(storagev1alpha1.TypeRecentSnapshotListUpdated)),
			total:      2,
			want:       storagev1alpha1.SnapshotPending,
		},
		"a listed component still running keeps it Running though the expected count is lower": {
			conditions: conds(uploaded),
			total:      1, components: components(succeeded, running),
			want: storagev1alpha1.SnapshotRunning,
		},
		"metadata upload unknown keeps a finished snapshot Running": {
			conditions: conds(condUnknown(storagev1alpha1.TypeSnapshotMetadataUploaded)),
			total:      1, components: components(succeeded),
			want: storagev1alpha1.SnapshotRunning,
		},
		"metadata upload failed is Failed": {
			conditions: conds(condFalse(storagev1alpha1.TypeSnapshotMetadataUploaded)),
			total:      1, components: components(succeeded),
			want: storagev1alpha1.SnapshotFailed,
		},
		"metadata upload failed is Failed even with no components": {
			conditions: conds(condFalse(storagev1alpha1.TypeSnapshotMetadataUploaded)),
			want:       storagev1alpha1.SnapshotFailed,
		},
		"recent list update failed is Failed": {
			conditions: conds(uploaded, condFalse(storagev1alpha1.TypeRecentSnapshotListUpdated)),
			total:      1, components: components(succeeded),
			want: storagev1alpha1.SnapshotFailed,
		},
		"recent list update failed before metadata upload is Failed": {
			conditions: conds(condFalse(storagev1alpha1.TypeRecentSnapshotListUpdated)),
			total:      1, components: components(running),
			want: storagev1alpha1.SnapshotFailed,
		},
		"backup incomplete is Failed": {
			conditions: conds(uploaded, condTrue(storagev1alpha1.TypeBackupIncomplete)),
			total:      1, components: components(succeeded),
			want: storagev1alpha1.SnapshotFailed,
		},
		"backup incomplete with no components is Failed": {
			conditions: conds(condTrue(storagev1alpha1.TypeBackupIncomplete)),
			want:       storagev1alpha1.SnapshotFailed,
		},
		"backup incomplete False is not a failure": {
			conditions: conds(uploaded, condFalse(storagev1alpha1.TypeBackupIncomplete)),
			total:      1, components: components(succeeded),
			want: storagev1alpha1.SnapshotSucceeded,
		},
		"components before metadata upload are Running": {
			total: 2, components: components(running, pending),
			want: storagev1alpha1.SnapshotRunning,
		},
		"all components succeeded before metadata upload is still Running": {
			total: 2, components: components(succeeded, succeeded),
			want: storagev1alpha1.SnapshotRunning,
		},
		"a failed component before metadata upload is still Running": {
			total: 2, components: components(failed, succeeded),
			want: storagev1alpha1.SnapshotRunning,
		},
		"all components succeeded after metadata upload is Succeeded": {
			conditions: conds(uploaded),
			total:      2, components: components(succeeded, succeeded),
			want: storagev1alpha1.SnapshotSucceeded,
		},
		"all bookkeeping done and all components succeeded is Succeeded": {
			conditions: conds(uploaded, condTrue(storagev1alpha1.TypeRecentSnapshotListUpdated), condFalse(storagev1alpha1.TypeBackupIncomplete)),
			total:      3, components: components(succeeded, succeeded, succeeded),
			want: storagev1alpha1.SnapshotSucceeded,
		},
		"any failed component after metadata upload is Failed": {
			conditions: conds(uploaded),
			total:      2, components: components(succeeded, failed),
			want: storagev1alpha1.SnapshotFailed,
		},
		"a failed component fails while others still run": {
			conditions: conds(uploaded),
			total:      3, components: components(running, failed, pending),
			want: storagev1alpha1.SnapshotFailed,
		},
		"some components still running is Running": {
			conditions: conds(uploaded),
			total:      2, components: components(succeeded, running),
			want: storagev1alpha1.SnapshotRunning,
		},
		"fewer components reported than total is Running": {
			conditions: conds(uploaded),
			total:      3, components: components(succeeded, succeeded),
			want: storagev1alpha1.SnapshotRunning,
		},
		"unknown total never reports Succeeded": {
			conditions: conds(uploaded),
			total:      0, components: components(succeeded),
			want: storagev1alpha1.SnapshotRunning,
		},
		"components without a phase are Running": {
			conditions: conds(uploaded),
			total:      1, components: components(""),
			want: storagev1alpha1.SnapshotRunning,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			st := &storagev1alpha1.SnapshotStatus{
				Conditions:      tc.conditions,
				TotalComponents: tc.total,
				Components:      tc.components,
			}
			if got := storagev1alpha1.SnapshotPhaseFor(st); got != tc.want {
				t.Errorf("SnapshotPhaseFor() = %q, want %q", got, tc.want)
			}
		})
	}
}
