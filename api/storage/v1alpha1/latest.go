package v1alpha1

import "time"

// LatestSnapshot is the Snapshot "latest" means: the newest Snapshot of the repository whose
// phase is Succeeded. When none of its Snapshots has a phase yet (the operator has not derived
// any), it is the newest whose component succeeded. Newest is by status.snapshotTime, else by
// creation time, then by name. Nil when there is none.
func LatestSnapshot(items []Snapshot, repository, component string) *Snapshot {
	var ofRepo []*Snapshot
	phased := false
	for i := range items {
		if items[i].Spec.Repository == repository {
			ofRepo = append(ofRepo, &items[i])
			phased = phased || items[i].Status.Phase != ""
		}
	}
	var best *Snapshot
	for _, s := range ofRepo {
		ok := s.Status.Phase == SnapshotSucceeded
		if !phased {
			comp, has := s.Status.Components[component]
			ok = has && comp.Phase == ComponentSucceeded
		}
		if !ok {
			continue
		}
		if best == nil || newer(s, best) {
			best = s
		}
	}
	return best
}

func newer(a, b *Snapshot) bool {
	ta, tb := SnapshotTimeOf(a), SnapshotTimeOf(b)
	if !ta.Equal(tb) {
		return ta.After(tb)
	}
	return a.Name > b.Name
}

// SnapshotTimeOf is when a snapshot was taken: status.snapshotTime, else its creation.
func SnapshotTimeOf(s *Snapshot) time.Time {
	if s.Status.SnapshotTime != nil {
		return s.Status.SnapshotTime.Time
	}
	return s.CreationTimestamp.Time
}
