package snapshot

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cofferhq/coffer/api/shared"
	storagev1alpha1 "github.com/cofferhq/coffer/api/storage/v1alpha1"
	"github.com/cofferhq/coffer/controllers/backends"
)

// facts are what the phases observed.
type facts struct {
	// uploadErr says why the snapshot's file could not be written; uploaded that it was.
	uploadErr error
	uploaded  bool
}

// summarize derives the aggregate fields of a snapshot's status from its components: the size
// is their sum, integrity their AND, the time the earliest start.
func summarize(st *storagev1alpha1.SnapshotStatus, created metav1.Time) {
	var size int64
	sized := false
	var integrity *bool
	var start *metav1.Time
	for _, c := range st.Components {
		if c.SizeBytes != nil {
			size += *c.SizeBytes
			sized = true
		}
		if c.Integrity != nil {
			v := *c.Integrity && (integrity == nil || *integrity)
			integrity = &v
		}
		for _, rs := range c.ResticStats {
			if rs.Summary != nil && rs.Summary.StartTime != nil && (start == nil || rs.Summary.StartTime.Before(start)) {
				t := *rs.Summary.StartTime
				start = &t
			}
		}
	}
	if sized {
		st.SizeBytes = &size
		st.Size = backends.HumanBytes(size)
	}
	st.Integrity = integrity
	switch {
	case start != nil:
		st.SnapshotTime = start
	case st.SnapshotTime == nil && !created.IsZero():
		st.SnapshotTime = &created
	}
}

// setConditions records the upload outcome.
func setConditions(st *storagev1alpha1.SnapshotStatus, f *facts, generation int64) {
	switch {
	case f.uploaded:
		meta.SetStatusCondition(&st.Conditions, shared.NewCondition(storagev1alpha1.TypeSnapshotMetadataUploaded, metav1.ConditionTrue,
			storagev1alpha1.ReasonSuccessfullyUploadedSnapshotMetadata, "the snapshot's file is in the repository directory", generation))
	case f.uploadErr != nil:
		meta.SetStatusCondition(&st.Conditions, shared.NewCondition(storagev1alpha1.TypeSnapshotMetadataUploaded, metav1.ConditionFalse,
			storagev1alpha1.ReasonFailedToUploadSnapshotMetadata, f.uploadErr.Error(), generation))
	}
}
