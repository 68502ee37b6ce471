package repository

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	storagev1alpha1 "github.com/cofferhq/coffer/api/storage/v1alpha1"
)

func TestSnapshotStatus(t *testing.T) {
	snap := func(name string, h int, phase storagev1alpha1.SnapshotPhase, integrity *bool, paths ...string) storagev1alpha1.Snapshot {
		at := metav1.NewTime(time.Date(2026, 1, 1, h, 0, 0, 0, time.UTC))
		s := storagev1alpha1.Snapshot{ObjectMeta: metav1.ObjectMeta{Name: name},
			Status: storagev1alpha1.SnapshotStatus{Phase: phase, SnapshotTime: &at, Integrity: integrity, Components: map[string]storagev1alpha1.Component{}}}
		for _, p := range paths {
			s.Status.Components[p] = storagev1alpha1.Component{Path: "repository/v1/daily/" + p}
		}
		return s
	}
	yes, no := true, false
	var snaps []storagev1alpha1.Snapshot
	for i := 1; i <= 7; i++ {
		snaps = append(snaps, snap("s"+string(rune('0'+i)), i, storagev1alpha1.SnapshotSucceeded, &yes, "data"))
	}
	snaps = append(snaps, snap("failed", 9, storagev1alpha1.SnapshotFailed, &no, "logs"))

	var st storagev1alpha1.RepositoryStatus
	snapshotStatus(snaps, &st)
	if *st.SnapshotCount != 8 {
		t.Errorf("count %d", *st.SnapshotCount)
	}
	if len(st.RecentSnapshots) != storagev1alpha1.MaxRecentSnapshots || st.RecentSnapshots[0].Name != "failed" || st.RecentSnapshots[1].Name != "s7" {
		t.Errorf("recent = %+v, want newest first, bounded", st.RecentSnapshots)
	}
	if st.LastBackupTime == nil || st.LastBackupTime.Hour() != 7 {
		t.Errorf("last backup %v, want the newest Succeeded (7h), not the newer Failed one", st.LastBackupTime)
	}
	if st.Integrity == nil || *st.Integrity {
		t.Errorf("integrity %v, want false: one snapshot is damaged", st.Integrity)
	}
	if len(st.ComponentPaths) != 2 || st.ComponentPaths[0] != "repository/v1/daily/data" {
		t.Errorf("component paths %v", st.ComponentPaths)
	}

	// No snapshots: zero count, no times, no stale entries.
	snapshotStatus(nil, &st)
	if *st.SnapshotCount != 0 || st.RecentSnapshots != nil || st.LastBackupTime != nil || st.Integrity != nil || st.ComponentPaths != nil {
		t.Errorf("empty repository status = %+v", st)
	}
}
