package backupstorage

import (
	"errors"
	"testing"

	"github.com/cofferhq/coffer/api/shared"
	storagev1alpha1 "github.com/cofferhq/coffer/api/storage/v1alpha1"
)

func TestConditions(t *testing.T) {
	tests := map[string]struct {
		facts     facts
		wantPhase storagev1alpha1.BackupStoragePhase
		want      map[shared.ConditionType]string // condition type → status
	}{
		"initialized, no Secret needed": {facts: facts{initialized: true}, wantPhase: storagev1alpha1.BackupStorageReady,
			want: map[shared.ConditionType]string{storagev1alpha1.TypeBackendInitialized: "True"}},
		"Secret missing": {facts: facts{needsSecret: true, secretErr: errors.New("Secret x does not exist")}, wantPhase: storagev1alpha1.BackupStorageNotReady,
			want: map[shared.ConditionType]string{storagev1alpha1.TypeBackendSecretFound: "False", storagev1alpha1.TypeBackendInitialized: "False"}},
		"backend down": {facts: facts{needsSecret: true, backendErr: errors.New("connection refused")}, wantPhase: storagev1alpha1.BackupStorageNotReady,
			want: map[shared.ConditionType]string{storagev1alpha1.TypeBackendSecretFound: "True", storagev1alpha1.TypeBackendInitialized: "False"}},
		"default conflict does not make it NotReady": {facts: facts{initialized: true, isDefault: true, otherDefaults: []string{"b"}}, wantPhase: storagev1alpha1.BackupStorageReady,
			want: map[shared.ConditionType]string{storagev1alpha1.TypeBackendInitialized: "True", storagev1alpha1.TypeDefaultStorageConflict: "True"}},
		"sole default": {facts: facts{initialized: true, isDefault: true}, wantPhase: storagev1alpha1.BackupStorageReady,
			want: map[shared.ConditionType]string{storagev1alpha1.TypeBackendInitialized: "True", storagev1alpha1.TypeDefaultStorageConflict: "False"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			conds := conditions(&tc.facts, 1)
			if len(conds) != len(tc.want) {
				t.Fatalf("conditions %+v, want %v", conds, tc.want)
			}
			for _, c := range conds {
				if got := string(c.Status); got != tc.want[shared.ConditionType(c.Type)] {
					t.Errorf("%s = %s, want %s (%s)", c.Type, got, tc.want[shared.ConditionType(c.Type)], c.Message)
				}
			}
			if got := storagev1alpha1.BackupStoragePhaseFor(conds); got != tc.wantPhase {
				t.Errorf("phase %s, want %s", got, tc.wantPhase)
			}
		})
	}
}
