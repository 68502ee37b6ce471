package executor

import (
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	"github.com/cofferhq/coffer/api/shared"
	storagev1alpha1 "github.com/cofferhq/coffer/api/storage/v1alpha1"
	"github.com/cofferhq/coffer/controllers/targets"
)

// Labels on every executor Job, so controllers find their Jobs without listing all of them.
const (
	LabelBackupSession  = "coffer.dev/backup-session"
	LabelRestoreSession = "coffer.dev/restore-session"
	LabelComponent      = "coffer.dev/component"
	LabelRole           = "coffer.dev/executor"
	RoleBackup          = "backup"
	RoleRestore         = "restore"
	RoleRetention       = "retention"
	RoleTrigger         = "trigger"
	RoleVerifyTrigger   = "verify-trigger"
	RoleVerify          = "verify"
	// LabelVerificationSession marks a verifier Job with its BackupVerificationSession.
	LabelVerificationSession = "coffer.dev/verification-session"
	// ContainerName is the executor container in every Job.
	ContainerName = "executor"
	// storageVolume is the name of a local BackupStorage's volume in executor pods.
	storageVolume = "coffer-storage"
)

// Config is what every executor shares.
type Config struct {
	// Image runs the executor: Coffer's own image (the manager's).
	Image string
	// ServiceAccount is the executor's identity in each namespace (see EnsureIdentity).
	ServiceAccount string
}

// Storage is the part of a BackupStorage an executor pod needs: a local storage's volume.
func Storage(bs *storagev1alpha1.BackupStorage) *storagev1alpha1.LocalSpec {
	if bs == nil {
		return nil
	}
	return bs.Spec.Storage.Local
}

// BackupJob runs `coffer backup` for one component of one Snapshot. It never retries by itself:
// a failed attempt fails the component, and the session's retry policy decides what happens
// next, so a failure is always reported rather than hidden by a pod restart.
func BackupJob(cfg Config, bs *corev1alpha1.BackupSession, snap *storagev1alpha1.Snapshot, comp targets.Component,
	storage *storagev1alpha1.LocalSpec, deadline *metav1.Time, now time.Time) *batchv1.Job {
	args := append([]string{"backup", "--namespace", snap.Namespace, "--snapshot", snap.Name, "--component", comp.Name}, source(comp, "--path")...)
	labels := jobLabels(shared.OwnerLabels("BackupSession", bs.Name, bs.Namespace), RoleBackup)
	labels[LabelBackupSession] = shared.TruncateName(bs.Name, shared.MaxNameLength)
	labels[LabelComponent] = comp.Name
	job := newJob(cfg, shared.TruncateName(snap.Name+"-"+comp.Name, shared.MaxNameLength), bs.Namespace, labels, args, comp, storage)
	job.Spec.ActiveDeadlineSeconds = secondsUntil(deadline, now)
	return job
}

// RestoreJob runs `coffer restore` for one component into the target's volumes.
func RestoreJob(cfg Config, rs *corev1alpha1.RestoreSession, component string, comp targets.Component,
	storage *storagev1alpha1.LocalSpec, deadline *metav1.Time, now time.Time) *batchv1.Job {
	args := append([]string{"restore", "--namespace", rs.Namespace, "--restoresession", rs.Name, "--component", component}, source(comp, "--target")...)
	labels := jobLabels(shared.OwnerLabels("RestoreSession", rs.Name, rs.Namespace), RoleRestore)
	labels[LabelRestoreSession] = shared.TruncateName(rs.Name, shared.MaxNameLength)
	labels[LabelComponent] = component
	job := newJob(cfg, shared.TruncateName("restore-"+rs.Name+"-"+component, shared.MaxNameLength), rs.Namespace, labels, args, comp, storage)
	job.Spec.ActiveDeadlineSeconds = secondsUntil(deadline, now)
	return job
}

// source is where a component's data is: the database an AppBinding names, or the directory
// of the target's volumes (given with dirFlag).
func source(comp targets.Component, dirFlag string) []string {
	if comp.Database != nil {
		return []string{"--app-binding", comp.Database.Namespace + "/" + comp.Database.Name}
	}
	return []string{dirFlag, comp.Path()}
}

// VerifierJobName names the verifier Job of a verification session.
func VerifierJobName(bvs *corev1alpha1.BackupVerificationSession) string {
	return shared.TruncateName("verify-"+bvs.Name, shared.MaxNameLength)
}

// VerifierQueryTimeout bounds each query, or the script, of a verifier Job.
const VerifierQueryTimeout = 5 * time.Minute

// VerifierDeadline bounds a whole verifier Job of that many queries (a script counts as one),
// with room to start the pod, so a pod that can never run (a claim attached elsewhere, a missing
// ConfigMap) fails the verification instead of leaving it Running.
func VerifierDeadline(queries int) *int64 {
	return ptr.To(int64((time.Duration(max(queries, 1))*VerifierQueryTimeout + 10*time.Minute).Seconds()))
}

// VerifierJob runs `coffer verify` for a verification session: the verifier's queries against
// the restored database, or its script with the restored target's volumes (comp) and the
// verifier's own volumes mounted. Like the other executors it never retries by itself: the
// session's retry policy decides.
func VerifierJob(cfg Config, bvs *corev1alpha1.BackupVerificationSession, comp targets.Component,
	volumes []corev1.Volume, mounts []corev1.VolumeMount, deadline *int64) *batchv1.Job {
	args := []string{"verify", "--namespace", bvs.Namespace, "--session", bvs.Name, "--query-timeout", VerifierQueryTimeout.String()}
	labels := jobLabels(shared.OwnerLabels("BackupVerificationSession", bvs.Name, bvs.Namespace), RoleVerify)
	labels[LabelVerificationSession] = shared.TruncateName(bvs.Name, shared.MaxNameLength)
	job := newJob(cfg, VerifierJobName(bvs), bvs.Namespace, labels, args, comp, nil)
	spec := &job.Spec.Template.Spec
	spec.Volumes = append(spec.Volumes, volumes...)
	spec.Containers[0].VolumeMounts = append(spec.Containers[0].VolumeMounts, mounts...)
	job.Spec.ActiveDeadlineSeconds = deadline
	return job
}

// RetentionJobName names the retention Job of one repository in one session.
func RetentionJobName(bs *corev1alpha1.BackupSession, repository string) string {
	return shared.TruncateName("retention-"+bs.Name+"-"+repository, shared.MaxNameLength)
}

// RetentionJob runs `coffer retention` for one Repository after a session: it forgets the
// Snapshots its RetentionPolicy no longer keeps and prunes their data.
func RetentionJob(cfg Config, bs *corev1alpha1.BackupSession, repo *storagev1alpha1.Repository, policy shared.ObjectReference,
	storage *storagev1alpha1.LocalSpec) *batchv1.Job {
	policyNS := policy.Namespace
	if policyNS == "" {
		policyNS = repo.Namespace
	}
	args := []string{"retention", "--namespace", repo.Namespace, "--repository", repo.Name,
		"--retention-policy", policyNS + "/" + policy.Name}
	labels := jobLabels(shared.OwnerLabels("BackupSession", bs.Name, bs.Namespace), RoleRetention)
	labels[LabelBackupSession] = shared.TruncateName(bs.Name, shared.MaxNameLength)
	labels[shared.LabelRepositoryName] = shared.TruncateName(repo.Name, shared.MaxNameLength)
	return newJob(cfg, RetentionJobName(bs, repo.Name), bs.Namespace, labels, args, targets.Component{}, storage)
}

// TriggerCronJob creates a BackupSession of one session of a BackupConfiguration on its schedule.
func TriggerCronJob(cfg Config, bc *corev1alpha1.BackupConfiguration, session corev1alpha1.Session) *batchv1.CronJob {
	sched := session.Scheduler
	if sched == nil {
		sched = &shared.SchedulerSpec{}
	}
	labels := jobLabels(shared.OwnerLabels("BackupConfiguration", bc.Name, bc.Namespace), RoleTrigger)
	labels[shared.LabelSessionName] = shared.TruncateName(session.Name, shared.MaxNameLength)
	args := []string{"trigger", "--namespace", bc.Namespace, "--backupconfiguration", bc.Name, "--session", session.Name}
	job := newJob(cfg, "", bc.Namespace, labels, args, targets.Component{}, nil)
	// The trigger only creates an object: it needs no root and no volume.
	job.Spec.Template.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](65532)}
	if jt := sched.JobTemplate; jt != nil {
		if jt.BackoffLimit != nil {
			job.Spec.BackoffLimit = jt.BackoffLimit
		}
		job.Spec.TTLSecondsAfterFinished = jt.TTLSecondsAfterFinished
	}
	policy := batchv1.ForbidConcurrent
	if sched.ConcurrencyPolicy != "" {
		policy = batchv1.ConcurrencyPolicy(sched.ConcurrencyPolicy)
	}
	return &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: shared.TriggerCronJobName(bc.Name, session.Name), Namespace: bc.Namespace, Labels: labels},
		Spec: batchv1.CronJobSpec{
			Schedule:                   sched.Schedule,
			TimeZone:                   sched.TimeZone,
			StartingDeadlineSeconds:    sched.StartingDeadlineSeconds,
			ConcurrencyPolicy:          policy,
			Suspend:                    ptr.To(bc.Spec.Paused || ptr.Deref(sched.Suspend, false)),
			SuccessfulJobsHistoryLimit: sched.SuccessfulJobsHistoryLimit,
			FailedJobsHistoryLimit:     sched.FailedJobsHistoryLimit,
			JobTemplate: batchv1.JobTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       job.Spec,
			},
		},
	}
}

// VerifierCronJob runs `coffer trigger --repository` on the verifier's schedule: each run
// creates a BackupVerificationSession of that repository.
func VerifierCronJob(cfg Config, bc *corev1alpha1.BackupConfiguration, session, repository string, sched *shared.SchedulerSpec) *batchv1.CronJob {
	cj := TriggerCronJob(cfg, bc, corev1alpha1.Session{SessionConfig: corev1alpha1.SessionConfig{Name: session, Scheduler: sched}})
	cj.Name = shared.VerifierCronJobName(bc.Name, repository)
	cj.Labels[LabelRole] = RoleVerifyTrigger
	cj.Labels[shared.LabelRepositoryName] = shared.TruncateName(repository, shared.MaxNameLength)
	cj.Spec.JobTemplate.Labels = cj.Labels
	c := &cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0]
	c.Args = append(c.Args, "--repository", repository)
	return cj
}

func jobLabels(owner map[string]string, role string) map[string]string {
	owner[LabelRole] = role
	return owner
}

func newJob(cfg Config, name, namespace string, labels map[string]string, args []string, comp targets.Component, storage *storagev1alpha1.LocalSpec) *batchv1.Job {
	volumes := append([]corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}, comp.Volumes...)
	mounts := append([]corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}}, comp.Mounts...)
	if storage != nil {
		volumes = append(volumes, corev1.Volume{Name: storageVolume, VolumeSource: storage.VolumeSource})
		// The whole volume, as the manager sees it: subPath is a directory inside it
		// (backends.ForStorage joins mountPath and subPath).
		mounts = append(mounts, corev1.VolumeMount{Name: storageVolume, MountPath: storage.MountPath})
	}
	podLabels := map[string]string{}
	for k, v := range labels {
		podLabels[k] = v
	}
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels},
		Spec: batchv1.JobSpec{
			BackoffLimit: ptr.To[int32](0),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels},
				Spec: corev1.PodSpec{
					RestartPolicy:      corev1.RestartPolicyNever,
					ServiceAccountName: cfg.ServiceAccount,
					NodeName:           comp.NodeName,
					// Files in a workload's volumes belong to whatever user the workload runs
					// as; only root reads and restores every one of them with owners intact.
					SecurityContext: &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](0)},
					Volumes:         volumes,
					Containers: []corev1.Container{{
						Name:                     ContainerName,
						Image:                    cfg.Image,
						ImagePullPolicy:          corev1.PullIfNotPresent,
						Args:                     args,
						VolumeMounts:             mounts,
						TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
						Env:                      []corev1.EnvVar{{Name: "TMPDIR", Value: "/tmp"}},
					}},
				},
			},
		},
	}
}

func secondsUntil(deadline *metav1.Time, now time.Time) *int64 {
	if deadline == nil {
		return nil
	}
	return ptr.To(max(int64(deadline.Sub(now).Seconds()), 1))
}
