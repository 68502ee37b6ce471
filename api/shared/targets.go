package shared

import "slices"

// Kinds of target Coffer backs up as files: the volumes of a claim or of a workload's pods.
const (
	KindPersistentVolumeClaim = "PersistentVolumeClaim"
	KindDeployment            = "Deployment"
	KindStatefulSet           = "StatefulSet"
	KindDaemonSet             = "DaemonSet"
)

// KindAppBinding is the target kind of a database (group core.coffer.dev): its dump is backed
// up as one stream.
const KindAppBinding = "AppBinding"

// FileTargetKinds lists the kinds backed up as files, in the order error messages name them.
var FileTargetKinds = []string{KindPersistentVolumeClaim, KindDeployment, KindStatefulSet, KindDaemonSet}

// TargetKinds lists every kind Coffer backs up, in the order error messages name them.
var TargetKinds = append(slices.Clone(FileTargetKinds), KindAppBinding)

// IsTargetKind reports whether Coffer can back up a target of this kind.
func IsTargetKind(kind string) bool { return slices.Contains(TargetKinds, kind) }
