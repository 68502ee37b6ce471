package v1alpha1

import (
	"sort"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func snapAt(name string, phase SnapshotPhase, t time.Time) Snapshot {
	return Snapshot{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(t)},
		Status: SnapshotStatus{Phase: phase, SnapshotTime: &metav1.Time{Time: t}}}
}

func TestExpired(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	hour := func(h int) time.Time { return now.Add(-time.Duration(h) * time.Hour) }
	day := func(d int) time.Time { return now.Add(-time.Duration(d) * 24 * time.Hour) }
	cases := map[string]struct {
		spec  RetentionPolicySpec
		snaps []Snapshot
		want  []string
	}{
		"keep last 2 of 4": {
			spec:  RetentionPolicySpec{SuccessfulSnapshots: &SuccessfulSnapshotsKeepPolicy{Last: ptr.To[int32](2)}},
			snaps: []Snapshot{snapAt("a", SnapshotSucceeded, hour(4)), snapAt("b", SnapshotSucceeded, hour(3)), snapAt("c", SnapshotSucceeded, hour(2)), snapAt("d", SnapshotSucceeded, hour(1))},
			want:  []string{"a", "b"},
		},
		"running snapshots are never expired": {
			spec:  RetentionPolicySpec{SuccessfulSnapshots: &SuccessfulSnapshotsKeepPolicy{Last: ptr.To[int32](1)}},
			snaps: []Snapshot{snapAt("old", SnapshotRunning, day(30)), snapAt("b", SnapshotSucceeded, hour(3)), snapAt("c", SnapshotSucceeded, hour(2))},
			want:  []string{"b"},
		},
		"daily keeps the newest of each day": {
			spec: RetentionPolicySpec{SuccessfulSnapshots: &SuccessfulSnapshotsKeepPolicy{Daily: ptr.To[int32](2)}},
			snaps: []Snapshot{snapAt("d2-early", SnapshotSucceeded, day(2).Add(-time.Hour)), snapAt("d2-late", SnapshotSucceeded, day(2)),
				snapAt("d1", SnapshotSucceeded, day(1)), snapAt("d0-a", SnapshotSucceeded, hour(2)), snapAt("d0-b", SnapshotSucceeded, hour(1))},
			want: []string{"d0-a", "d2-early", "d2-late"},
		},
		"failed snapshots beyond failedSnapshots.last go": {
			spec: RetentionPolicySpec{SuccessfulSnapshots: &SuccessfulSnapshotsKeepPolicy{Last: ptr.To[int32](5)},
				FailedSnapshots: &FailedSnapshotsKeepPolicy{Last: ptr.To[int32](1)}},
			snaps: []Snapshot{snapAt("f1", SnapshotFailed, hour(3)), snapAt("f2", SnapshotFailed, hour(2)), snapAt("ok", SnapshotSucceeded, hour(1))},
			want:  []string{"f1"},
		},
		"maxRetentionPeriod wins over keep rules": {
			spec:  RetentionPolicySpec{MaxRetentionPeriod: "2d", SuccessfulSnapshots: &SuccessfulSnapshotsKeepPolicy{Last: ptr.To[int32](5)}},
			snaps: []Snapshot{snapAt("ancient", SnapshotSucceeded, day(3)), snapAt("recent", SnapshotSucceeded, day(1))},
			want:  []string{"ancient"},
		},
		"no successful rules keeps every success": {
			spec:  RetentionPolicySpec{MaxRetentionPeriod: "30d"},
			snaps: []Snapshot{snapAt("a", SnapshotSucceeded, day(3)), snapAt("b", SnapshotSucceeded, day(1))},
			want:  nil,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := tc.spec.Expired(tc.snaps, now)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, s := range got {
				names = append(names, s.Name)
			}
			sort.Strings(names)
			if len(names) != len(tc.want) {
				t.Fatalf("expired %v, want %v", names, tc.want)
			}
			for i := range names {
				if names[i] != tc.want[i] {
					t.Fatalf("expired %v, want %v", names, tc.want)
				}
			}
		})
	}
}
