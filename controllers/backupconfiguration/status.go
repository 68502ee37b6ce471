package backupconfiguration

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	"github.com/cofferhq/coffer/api/shared"
	"github.com/cofferhq/coffer/controllers/internal/flow"
)

// facts are what the phases observed; status is computed from them alone.
type facts struct {
	now               time.Time
	invalid           field.ErrorList
	targetFound       bool
	targetProblem     string
	backends          []corev1alpha1.BackendStatus
	storageNamespaces []string
	repositories      []corev1alpha1.RepositoryStatusInfo
	sessions          []sessionFacts
}

type sessionFacts struct {
	name         string
	next         string
	scheduled    bool
	schedulerErr string
	initial      bool
	initialErr   string
}

// NextSchedule is when the session's CronJob fires next, RFC 3339; empty when the schedule does
// not parse (Validate reports that).
func NextSchedule(s *shared.SchedulerSpec, now time.Time) string {
	spec := s.Schedule
	if s.TimeZone != nil && *s.TimeZone != "" {
		spec = "CRON_TZ=" + *s.TimeZone + " " + spec
	}
	sched, err := cron.ParseStandard(spec)
	if err != nil {
		return ""
	}
	return sched.Next(now).UTC().Format(time.RFC3339)
}

func (f *facts) phase(bc *corev1alpha1.BackupConfiguration) corev1alpha1.BackupInvokerPhase {
	st := bc.DeepCopy()
	f.apply(st)
	return corev1alpha1.BackupConfigurationPhaseFor(st)
}

// apply writes the facts into bc.Status.
func (f *facts) apply(bc *corev1alpha1.BackupConfiguration) {
	st := &bc.Status
	gen := bc.Generation
	if len(f.invalid) > 0 {
		meta.SetStatusCondition(&st.Conditions, shared.NewCondition(corev1alpha1.TypeValidationPassed, metav1.ConditionFalse,
			corev1alpha1.ReasonResourceValidationFailed, f.invalid.ToAggregate().Error(), gen))
		return
	}
	meta.SetStatusCondition(&st.Conditions, shared.NewCondition(corev1alpha1.TypeValidationPassed, metav1.ConditionTrue,
		corev1alpha1.ReasonResourceValidationPassed, "The configuration is valid", gen))
	found := f.targetFound && f.targetProblem == ""
	st.TargetFound = &found
	st.Dependencies = nil
	if bc.Spec.Target != nil {
		ref := *bc.Spec.Target
		ref.Namespace = shared.NamespaceOr(ref.Namespace, bc.Namespace)
		dep := shared.ResourceFoundStatus{TypedObjectReference: ref, Found: &found, Reason: f.targetProblem}
		st.Dependencies = append(st.Dependencies, dep)
	}
	if f.backends != nil {
		st.Backends = f.backends
	}
	if f.repositories != nil {
		st.Repositories = f.repositories
	}
	if f.sessions == nil {
		return
	}
	sessions := make([]corev1alpha1.SessionStatus, 0, len(f.sessions))
	for _, sf := range f.sessions {
		ss := corev1alpha1.SessionStatus{Name: sf.name, NextSchedule: sf.next}
		if prev := previousSession(bc, sf.name); prev != nil {
			ss.Conditions = prev.Conditions
		}
		if sf.scheduled {
			meta.SetStatusCondition(&ss.Conditions, shared.NewCondition(corev1alpha1.TypeSchedulerEnsured, metav1.ConditionTrue,
				corev1alpha1.ReasonSchedulerEnsured, "The trigger CronJob is in place", gen))
		} else {
			meta.SetStatusCondition(&ss.Conditions, shared.NewCondition(corev1alpha1.TypeSchedulerEnsured, metav1.ConditionFalse,
				corev1alpha1.ReasonSchedulerNotEnsured, sf.schedulerErr, gen))
		}
		switch {
		case sf.initial:
			meta.SetStatusCondition(&ss.Conditions, shared.NewCondition(corev1alpha1.TypeInitialBackupTriggered, metav1.ConditionTrue,
				corev1alpha1.ReasonSuccessfullyTriggeredInitialBackup, "The first backup was started", gen))
		case sf.initialErr != "":
			meta.SetStatusCondition(&ss.Conditions, shared.NewCondition(corev1alpha1.TypeInitialBackupTriggered, metav1.ConditionFalse,
				corev1alpha1.ReasonFailedToTriggerInitialBackup, sf.initialErr, gen))
		}
		sessions = append(sessions, ss)
	}
	st.Sessions = sessions
}

// notReadyReason explains a NotReady configuration in one line.
func notReadyReason(bc *corev1alpha1.BackupConfiguration) string {
	var why []string
	st := &bc.Status
	if st.TargetFound == nil || !*st.TargetFound {
		for _, d := range st.Dependencies {
			if d.Reason != "" {
				why = append(why, d.Reason)
			}
		}
		if len(why) == 0 {
			why = append(why, "the target was not found")
		}
	}
	for _, b := range st.Backends {
		if b.Storage != nil && b.Storage.Reason != "" {
			why = append(why, b.Storage.Reason)
		}
		if b.RetentionPolicy != nil && b.RetentionPolicy.Reason != "" {
			why = append(why, b.RetentionPolicy.Reason)
		}
	}
	for _, s := range st.Sessions {
		if c := shared.FindCondition(s.Conditions, corev1alpha1.TypeSchedulerEnsured); c != nil && c.Status != metav1.ConditionTrue {
			why = append(why, fmt.Sprintf("session %s: %s", s.Name, c.Message))
		}
	}
	return strings.Join(why, "; ")
}

func (r *Reconciler) patchStatus(ctx context.Context, orig *corev1alpha1.BackupConfiguration, s *scope, succeeded bool) error {
	bc := s.bc
	s.facts.apply(bc)
	bc.Status.Phase = corev1alpha1.BackupConfigurationPhaseFor(bc)
	if succeeded || len(s.facts.invalid) > 0 {
		bc.Status.ObservedGeneration = bc.Generation
	}
	if equality.Semantic.DeepEqual(orig.Status, bc.Status) {
		return nil
	}
	if orig.Status.Phase != bc.Status.Phase {
		switch bc.Status.Phase {
		case corev1alpha1.BackupInvokerReady:
			flow.Eventf(r.Recorder, bc, corev1.EventTypeNormal, "Ready", "Reconcile", "Backups of %s %s are scheduled", bc.Spec.Target.Kind, bc.Spec.Target.Name)
		case corev1alpha1.BackupInvokerInvalid:
			flow.Eventf(r.Recorder, bc, corev1.EventTypeWarning, "Invalid", "Validate", "%s", s.facts.invalid.ToAggregate().Error())
		default:
			flow.Eventf(r.Recorder, bc, corev1.EventTypeWarning, "NotReady", "Reconcile", "%s", notReadyReason(bc))
		}
	}
	return r.Client.Status().Patch(ctx, bc, client.MergeFrom(orig))
}
