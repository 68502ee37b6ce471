package shared

import "slices"

// Kinds of target Coffer backs up as files: the volumes of a claim or of a workload's pods.
const (
	KindPersistentVolumeClaim = "PersistentVolumeClaim"
	KindDeployment            = "Deployment"
	KindStatefulSet           = "StatefulSet"
	KindDaemonSet             = "DaemonSet"
)

// FileTargetKinds lists them, in the order error messages name them.
var FileTargetKinds = []string{KindPersistentVolumeClaim, KindDeployment, KindStatefulSet, KindDaemonSet}

// IsTargetKind reports whether Coffer can back up a target of this kind.
func IsTargetKind(kind string) bool { return slices.Contains(FileTargetKinds, kind) }
