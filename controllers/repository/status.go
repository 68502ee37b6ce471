package repository

import (
	"sort"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cofferhq/coffer/api/shared"
	storagev1alpha1 "github.com/cofferhq/coffer/api/storage/v1alpha1"
)

// facts are what the phases observed.
type facts struct {
	// notReady says why the repository cannot be used yet; "" once repository.yaml is written.
	notReady    string
	initialized bool
	snapshots   []storagev1alpha1.Snapshot
	size        int64
	sized       bool
}

func conditions(f *facts, generation int64) []metav1.Condition {
	if f.initialized {
		return []metav1.Condition{shared.NewCondition(storagev1alpha1.TypeRepositoryInitialized, metav1.ConditionTrue,
			storagev1alpha1.ReasonRepositoryInitializationSucceeded, "repository.yaml is written and the encryption Secret is usable", generation)}
	}
	if f.notReady != "" {
		return []metav1.Condition{shared.NewCondition(storagev1alpha1.TypeRepositoryInitialized, metav1.ConditionFalse,
			storagev1alpha1.ReasonRepositoryInitializationFailed, f.notReady, generation)}
	}
	return nil
}

// snapshotStatus derives the snapshot fields of a Repository's status from its Snapshots.
func snapshotStatus(snaps []storagev1alpha1.Snapshot, st *storagev1alpha1.RepositoryStatus) {
	sorted := append([]storagev1alpha1.Snapshot(nil), snaps...)
	sort.SliceStable(sorted, func(i, j int) bool { return snapshotTime(&sorted[i]).After(snapshotTime(&sorted[j]).Time) })
	count := int32(len(sorted))
	st.SnapshotCount = &count
	st.RecentSnapshots = nil
	st.LastBackupTime = nil
	var integrity *bool
	paths := map[string]bool{}
	for i := range sorted {
		s := &sorted[i]
		if len(st.RecentSnapshots) < storagev1alpha1.MaxRecentSnapshots {
			t := snapshotTime(s)
			st.RecentSnapshots = append(st.RecentSnapshots, storagev1alpha1.SnapshotInfo{Name: s.Name, Phase: s.Status.Phase,
				Session: s.Spec.Session, Size: s.Status.Size, SnapshotTime: &t})
		}
		if s.Status.Phase == storagev1alpha1.SnapshotSucceeded && st.LastBackupTime == nil {
			t := snapshotTime(s)
			st.LastBackupTime = &t
		}
		if s.Status.Integrity != nil {
			v := *s.Status.Integrity && (integrity == nil || *integrity)
			integrity = &v
		}
		for _, c := range s.Status.Components {
			if c.Path != "" {
				paths[c.Path] = true
			}
		}
	}
	st.Integrity = integrity
	st.ComponentPaths = nil
	for p := range paths {
		st.ComponentPaths = append(st.ComponentPaths, p)
	}
	sort.Strings(st.ComponentPaths)
}

func snapshotTime(s *storagev1alpha1.Snapshot) metav1.Time {
	return metav1.NewTime(storagev1alpha1.SnapshotTimeOf(s))
}
