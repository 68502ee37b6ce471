package shared

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
)

// Labels, annotations and the finalizer Coffer writes. DESIGN.md lists them; everything that
// reads or writes them uses these constants.
const (
	LabelManagedBy        = "app.kubernetes.io/managed-by"
	ManagedByCoffer       = "coffer.dev"
	LabelComponent        = "app.kubernetes.io/component"
	LabelInvokerKind      = "coffer.dev/invoker-kind"
	LabelInvokerName      = "coffer.dev/invoker-name"
	LabelInvokerNamespace = "coffer.dev/invoker-namespace"
	LabelSessionName      = "coffer.dev/session-name"
	LabelRepositoryName   = "coffer.dev/repo-name"
	LabelAppRefKind       = "coffer.dev/app-ref-kind"
	LabelAppRefName       = "coffer.dev/app-ref-name"
	LabelAppRefNamespace  = "coffer.dev/app-ref-namespace"

	// AnnotationBlueprintName on a workload names the BackupBlueprint that backs it up.
	AnnotationBlueprintName = "blueprint.coffer.dev/name"
	// AnnotationBlueprintNamespace is the blueprint's namespace; the workload's when absent.
	AnnotationBlueprintNamespace = "blueprint.coffer.dev/namespace"
	// AnnotationBlueprintSessionNames is a comma-separated subset of the blueprint's sessions.
	AnnotationBlueprintSessionNames = "blueprint.coffer.dev/session-names"
	// VariableAnnotationPrefix + <name> gives a blueprint variable its value.
	VariableAnnotationPrefix = "variables.coffer.dev/"
	// AnnotationBlueprintResolved is stamped by the workload webhook: <ns>/<name>@<generation>.
	AnnotationBlueprintResolved = "coffer.dev/blueprint-resolved"

	// Finalizer guards cleanup of what Coffer created for an object.
	Finalizer = "coffer.dev/cleanup"
)

// Name limits: a Kubernetes label value or DNS label is 63 characters; a CronJob name leaves 11
// characters for the Job suffix the CronJob controller adds.
const (
	MaxNameLength        = 63
	MaxCronJobNameLength = 52
)

// TruncateName returns name unchanged when it fits in limit characters. Otherwise it keeps the
// start and the end, which carry the owner and the distinguishing suffix (session, timestamp), and
// puts a short hash of the whole name in the middle so two long names that share both ends stay
// distinct.
func TruncateName(name string, limit int) string {
	if len(name) <= limit {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	hash := hex.EncodeToString(sum[:])[:8]
	room := limit - len(hash) - 2
	if room < 2 {
		return hash[:min(limit, len(hash))]
	}
	head := strings.TrimRight(name[:(room+1)/2], "-.")
	tail := strings.TrimLeft(name[len(name)-room/2:], "-.")
	return head + "-" + hash + "-" + tail
}

// BackupSessionName is <invoker>-<session>-<unix seconds>.
func BackupSessionName(invoker, session string, unix int64) string {
	return TruncateName(invoker+"-"+session+"-"+strconv.FormatInt(unix, 10), MaxNameLength)
}

// SnapshotName is <repository>-<backup session>.
func SnapshotName(repository, backupSession string) string {
	return TruncateName(repository+"-"+backupSession, MaxNameLength)
}

// VerificationSessionName is <repository>-<session>-<unix seconds>. KubeStash's code and docs
// disagree on the order; Coffer follows the code.
func VerificationSessionName(repository, session string, unix int64) string {
	return TruncateName(repository+"-"+session+"-"+strconv.FormatInt(unix, 10), MaxNameLength)
}

// TriggerCronJobName is trigger-<backup configuration>-<session>.
func TriggerCronJobName(backupConfiguration, session string) string {
	return TruncateName("trigger-"+backupConfiguration+"-"+session, MaxCronJobNameLength)
}

// VerifierCronJobName is verify-<backup configuration>-<repository>.
func VerifierCronJobName(backupConfiguration, repository string) string {
	return TruncateName("verify-"+backupConfiguration+"-"+repository, MaxCronJobNameLength)
}

// AutoBackupConfigurationName names the BackupConfiguration generated for a workload:
// <lowercase kind>-<name>, prefixed with the workload's namespace when the configuration lives
// in another namespace.
func AutoBackupConfigurationName(kind, name, workloadNamespace, configNamespace string) string {
	n := strings.ToLower(kind) + "-" + name
	if configNamespace != "" && configNamespace != workloadNamespace {
		n = workloadNamespace + "-" + n
	}
	return TruncateName(n, MaxNameLength)
}

// OwnerLabels are the labels on every object Coffer creates for an invoker.
func OwnerLabels(kind, name, namespace string) map[string]string {
	l := map[string]string{
		LabelManagedBy:   ManagedByCoffer,
		LabelInvokerKind: kind,
		LabelInvokerName: TruncateName(name, MaxNameLength),
	}
	if namespace != "" {
		l[LabelInvokerNamespace] = namespace
	}
	return l
}

// NamespaceOr is a reference's namespace, or def (the referrer's) when the reference names none.
func NamespaceOr(ns, def string) string {
	if ns == "" {
		return def
	}
	return ns
}
