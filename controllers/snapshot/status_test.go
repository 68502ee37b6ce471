package snapshot

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	storagev1alpha1 "github.com/cofferhq/coffer/api/storage/v1alpha1"
)

func TestSummarize(t *testing.T) {
	at := func(h int) *metav1.Time { v := metav1.NewTime(time.Date(2026, 1, 1, h, 0, 0, 0, time.UTC)); return &v }
	size := func(n int64) *int64 { return &n }
	yes, no := true, false
	withStart := func(h int) []storagev1alpha1.ResticStats {
		return []storagev1alpha1.ResticStats{{Summary: &storagev1alpha1.ResticSummary{StartTime: at(h)}}}
	}
	created := *at(0)
	tests := map[string]struct {
		components    map[string]storagev1alpha1.Component
		snapshotTime  *metav1.Time
		wantSize      string
		wantIntegrity *bool
		wantTime      *metav1.Time
	}{
		"no components: created time, no size": {wantTime: &created},
		"sizes add up, integrity is the AND": {
			components: map[string]storagev1alpha1.Component{
				"a": {SizeBytes: size(1 << 20), Integrity: &yes},
				"b": {SizeBytes: size(1 << 20), Integrity: &no},
			},
			wantSize: "2.000 MiB", wantIntegrity: &no, wantTime: &created,
		},
		"unknown integrity does not count": {
			components:    map[string]storagev1alpha1.Component{"a": {Integrity: &yes}, "b": {}},
			wantIntegrity: &yes, wantTime: &created,
		},
		"earliest component start wins over an earlier guess": {
			components:   map[string]storagev1alpha1.Component{"a": {ResticStats: withStart(5)}, "b": {ResticStats: withStart(3)}},
			snapshotTime: &created, wantTime: at(3),
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			st := storagev1alpha1.SnapshotStatus{Components: tc.components, SnapshotTime: tc.snapshotTime}
			summarize(&st, created)
			if st.Size != tc.wantSize {
				t.Errorf("size %q, want %q", st.Size, tc.wantSize)
			}
			if (st.Integrity == nil) != (tc.wantIntegrity == nil) || (st.Integrity != nil && *st.Integrity != *tc.wantIntegrity) {
				t.Errorf("integrity %v, want %v", st.Integrity, tc.wantIntegrity)
			}
			if !st.SnapshotTime.Equal(tc.wantTime) {
				t.Errorf("time %v, want %v", st.SnapshotTime, tc.wantTime)
			}
		})
	}
}
