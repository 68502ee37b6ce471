package verification

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	"github.com/cofferhq/coffer/api/shared"
	storagev1alpha1 "github.com/cofferhq/coffer/api/storage/v1alpha1"
	"github.com/cofferhq/coffer/cel"
	"github.com/cofferhq/coffer/controllers/executor"
	"github.com/cofferhq/coffer/controllers/internal/flow"
	"github.com/cofferhq/coffer/controllers/targets"
)

// Reconciler reconciles BackupVerificationSessions.
type Reconciler struct {
	Client client.Client
	// APIReader reads what the verifier Job wrote, past the cache.
	APIReader client.Reader
	Recorder  events.EventRecorder
	// Executor runs the verifier Jobs of Query and Script verifiers.
	Executor executor.Config
	Now      func() time.Time
}

// +kubebuilder:rbac:groups=core.coffer.dev,resources=backupverificationsession,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=core.coffer.dev,resources=backupverificationsession/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=core.coffer.dev,resources=backupverifier,verbs=get;list;watch
// +kubebuilder:rbac:groups=core.coffer.dev,resources=restoresessions,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups=storage.coffer.dev,resources=snapshots/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch

// SetupWithManager registers the controller.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&corev1alpha1.BackupVerificationSession{}).
		Owns(&corev1alpha1.RestoreSession{}).
		Owns(&batchv1.Job{}).
		Named("backupverificationsession").
		Complete(r)
}

func (r *Reconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// facts are what the phases observed; status is computed from them alone.
type facts struct {
	now            time.Time
	historyErr     string
	executorErr    string // the verification could not be set up: no verifier, no target, ...
	snapshot       *storagev1alpha1.Snapshot
	snapshotErr    string
	skippedBy      string // the session that already verified the snapshot
	restoreSession string
	restore        *corev1alpha1.RestoreObservation // set once the restore finished
	verifierJob    string                           // the Job running the queries or script
	verifierDone   bool                             // it finished (or there is none to run)
	verifierErr    string                           // it failed without recording what it saw
	results        []corev1alpha1.ConditionResult
	verified       *bool
}

type scope struct {
	bvs      *corev1alpha1.BackupVerificationSession
	bc       *corev1alpha1.BackupConfiguration
	repo     *corev1alpha1.RepositoryInfo
	verifier *corev1alpha1.BackupVerifier
	facts    facts
}

// Reconcile runs the phases and writes status once. A finished session only has its retry left
// to start.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	var bvs corev1alpha1.BackupVerificationSession
	if err := r.Client.Get(ctx, req.NamespacedName, &bvs); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !bvs.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	if finished(bvs.Status.Phase) {
		// A finished session counts toward the history itself: the cleanup at its start may
		// have read a predecessor that had not finished yet.
		s := &scope{bvs: &bvs}
		if _, err := r.resolve(ctx, s); err != nil {
			return ctrl.Result{}, err
		}
		if err := r.deleteOlderSessions(ctx, s, true); err != nil {
			return ctrl.Result{}, err
		}
		return r.retry(ctx, s)
	}
	s := &scope{bvs: &bvs, facts: facts{now: r.now()}}
	orig := bvs.DeepCopy()
	defer func() {
		if err := r.patchStatus(ctx, orig, s); err != nil {
			retErr = kerrors.NewAggregate([]error{retErr, err})
		}
	}()
	return flow.Run(ctx, s, r.resolve, r.cleanHistory, r.resolveSnapshot, r.ensureRestore, r.observeRestore,
		r.ensureVerifierJob, r.observeVerifierJob, r.evaluate, r.recordOnSnapshot)
}

func finished(p corev1alpha1.BackupVerificationSessionPhase) bool {
	return p == corev1alpha1.VerificationSucceeded || p == corev1alpha1.VerificationFailed || p == corev1alpha1.VerificationSkipped
}

// resolve finds the configuration, the repository and its verifier. What is missing fails the
// session (VerificationExecutorEnsured=False), it is not retried for ever.
func (r *Reconciler) resolve(ctx context.Context, s *scope) (ctrl.Result, error) {
	spec := s.bvs.Spec
	var bc corev1alpha1.BackupConfiguration
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: s.bvs.Namespace, Name: spec.Invoker.Name}, &bc)
	switch {
	case apierrors.IsNotFound(err):
		s.facts.executorErr = fmt.Sprintf("BackupConfiguration %s/%s not found", s.bvs.Namespace, spec.Invoker.Name)
		return ctrl.Result{}, nil
	case err != nil:
		return ctrl.Result{}, err
	}
	s.bc = &bc
	ri, err := RepositoryOf(&bc, spec.Session, spec.Repository)
	if err == nil {
		s.repo = ri
		s.verifier, err = VerifierOf(ctx, r.Client, &bc, ri)
	}
	if IsConfigError(err) {
		s.facts.executorErr = err.Error()
		return ctrl.Result{}, nil
	}
	return ctrl.Result{}, err
}

// cleanHistory keeps the verifier's sessionHistoryLimit newest finished sessions of the same
// configuration and repository, besides this one, and deletes the older ones.
func (r *Reconciler) cleanHistory(ctx context.Context, s *scope) (ctrl.Result, error) {
	if err := r.deleteOlderSessions(ctx, s, false); err != nil {
		s.facts.historyErr = err.Error()
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, nil
}

// deleteOlderSessions deletes the finished sessions of the same configuration and repository
// beyond the newest sessionHistoryLimit (default 1); includeSelf counts this session among them.
func (r *Reconciler) deleteOlderSessions(ctx context.Context, s *scope, includeSelf bool) error {
	limit := 1
	if s.verifier != nil {
		limit = int(s.verifier.Spec.SessionHistoryLimit)
	}
	var list corev1alpha1.BackupVerificationSessionList
	if err := r.Client.List(ctx, &list, client.InNamespace(s.bvs.Namespace)); err != nil {
		return err
	}
	var done []corev1alpha1.BackupVerificationSession
	for _, o := range list.Items {
		if (includeSelf || o.Name != s.bvs.Name) && o.Spec.Invoker.Name == s.bvs.Spec.Invoker.Name && o.Spec.Repository == s.bvs.Spec.Repository &&
			finished(o.Status.Phase) && o.DeletionTimestamp.IsZero() {
			done = append(done, o)
		}
	}
	// Newest first; creation times have a resolution of one second, and names end in the Unix
	// time of the trigger, so they order sessions of one second.
	sort.Slice(done, func(i, j int) bool {
		if !done[i].CreationTimestamp.Equal(&done[j].CreationTimestamp) {
			return done[j].CreationTimestamp.Before(&done[i].CreationTimestamp)
		}
		return done[i].Name > done[j].Name
	})
	var errs []error
	for i := limit; i < len(done); i++ {
		if done[i].Name == s.bvs.Name {
			continue // never itself: a newer session's cleanup removes it
		}
		if err := r.Client.Delete(ctx, &done[i], client.PropagationPolicy(metav1.DeletePropagationBackground)); client.IgnoreNotFound(err) != nil {
			errs = append(errs, err)
		}
	}
	return kerrors.NewAggregate(errs)
}

// resolveSnapshot picks the snapshot to verify (spec.snapshot, else the repository's newest
// Succeeded one) and skips the newest when another session already verified it.
func (r *Reconciler) resolveSnapshot(ctx context.Context, s *scope) (ctrl.Result, error) {
	if s.facts.executorErr != "" {
		return ctrl.Result{}, nil
	}
	name := s.bvs.Spec.Snapshot
	if name == "" {
		name = s.bvs.Status.Snapshot
	}
	if name == "" {
		var list storagev1alpha1.SnapshotList
		if err := r.Client.List(ctx, &list, client.InNamespace(s.bvs.Namespace)); err != nil {
			return ctrl.Result{}, err
		}
		latest := storagev1alpha1.LatestSnapshot(list.Items, s.bvs.Spec.Repository, "")
		if latest == nil {
			s.facts.snapshotErr = fmt.Sprintf("repository %s has no Succeeded snapshot to verify", s.bvs.Spec.Repository)
			return ctrl.Result{}, nil
		}
		name = latest.Name
	}
	var snap storagev1alpha1.Snapshot
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: s.bvs.Namespace, Name: name}, &snap)
	switch {
	case apierrors.IsNotFound(err):
		s.facts.snapshotErr = fmt.Sprintf("Snapshot %s not found", name)
		return ctrl.Result{}, nil
	case err != nil:
		return ctrl.Result{}, err
	}
	s.facts.snapshot = &snap
	// A session that names its snapshot asks for that snapshot to be verified again; one that
	// takes the newest (the scheduled kind) need not repeat a verification that held.
	if s.bvs.Spec.Snapshot == "" && snap.Status.VerificationStatus == storagev1alpha1.Verified && snap.Status.VerificationSession != s.bvs.Name {
		s.facts.skippedBy = snap.Status.VerificationSession
	}
	return ctrl.Result{}, nil
}

// active reports whether the verification goes on: nothing failed before it and it is not
// skipped.
func (f *facts) active() bool {
	return f.executorErr == "" && f.snapshotErr == "" && f.skippedBy == "" && f.snapshot != nil
}

// ensureRestore creates the RestoreSession that restores the snapshot into the verifier's
// scratch target. It is owned by the session and carries its name.
func (r *Reconciler) ensureRestore(ctx context.Context, s *scope) (ctrl.Result, error) {
	if !s.facts.active() {
		return ctrl.Result{}, nil
	}
	v := s.verifier
	switch {
	case v.Spec.RestoreOption == nil || v.Spec.RestoreOption.Target == nil:
		s.facts.executorErr = fmt.Sprintf("BackupVerifier %s/%s has no spec.restoreOption.target: a verification restores into a scratch target", v.Namespace, v.Name)
		return ctrl.Result{}, nil
	case runsJob(v) && v.Spec.Query != nil && len(v.Spec.Queries) == 0:
		s.facts.executorErr = fmt.Sprintf("BackupVerifier %s/%s: spec.query (KubeStash's form) is not run by Coffer: write spec.queries and conditions", v.Namespace, v.Name)
		return ctrl.Result{}, nil
	}
	s.facts.restoreSession = s.bvs.Name
	var existing corev1alpha1.RestoreSession
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: s.bvs.Namespace, Name: s.bvs.Name}, &existing)
	if err == nil || !apierrors.IsNotFound(err) {
		return ctrl.Result{}, err
	}
	rs := &corev1alpha1.RestoreSession{
		ObjectMeta: metav1.ObjectMeta{Name: s.bvs.Name, Namespace: s.bvs.Namespace,
			Labels: shared.OwnerLabels("BackupVerificationSession", s.bvs.Name, s.bvs.Namespace),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(s.bvs,
				corev1alpha1.GroupVersion.WithKind("BackupVerificationSession"))}},
		Spec: corev1alpha1.RestoreSessionSpec{
			Target: v.Spec.RestoreOption.Target.DeepCopy(),
			Addon:  v.Spec.RestoreOption.AddonInfo.DeepCopy(),
			DataSource: corev1alpha1.RestoreDataSource{Repository: s.bvs.Spec.Repository, Snapshot: s.facts.snapshot.Name,
				EncryptionSecret: s.repo.EncryptionSecret.DeepCopy()},
		},
	}
	if err := r.Client.Create(ctx, rs); err != nil && !apierrors.IsAlreadyExists(err) {
		s.facts.executorErr = fmt.Sprintf("creating RestoreSession %s: %v", rs.Name, err)
		return ctrl.Result{}, err
	}
	flow.Eventf(r.Recorder, s.bvs, corev1.EventTypeNormal, "RestoreStarted", "Restore", "Restoring Snapshot %s into %s %s through RestoreSession %s",
		s.facts.snapshot.Name, rs.Spec.Target.Kind, rs.Spec.Target.Name, rs.Name)
	return ctrl.Result{}, nil
}

// observeRestore records what the restore did once it finished; until then the session waits
// (the RestoreSession is owned, so its changes bring the session back).
func (r *Reconciler) observeRestore(ctx context.Context, s *scope) (ctrl.Result, error) {
	if !s.facts.active() {
		return ctrl.Result{}, nil
	}
	var rs corev1alpha1.RestoreSession
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: s.bvs.Namespace, Name: s.facts.restoreSession}, &rs); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !rs.Status.Phase.Finished() {
		return ctrl.Result{}, nil
	}
	s.facts.restore = RestoreObservation(&rs, s.facts.snapshot)
	return ctrl.Result{}, nil
}

// runsJob reports whether the verifier judges the restored data with a verifier Job.
func runsJob(v *corev1alpha1.BackupVerifier) bool {
	return v.Spec.Type == corev1alpha1.VerifyQuery || v.Spec.Type == corev1alpha1.VerifyScript
}

// ensureVerifierJob starts the Job that runs a Query or Script verifier's queries or script once
// the restore succeeded. It runs in the verifier's Function image, else in the image of the
// restore's addon, so a database's client programs are at hand.
func (r *Reconciler) ensureVerifierJob(ctx context.Context, s *scope) (ctrl.Result, error) {
	v := s.verifier
	if !s.facts.active() || s.facts.restore == nil || s.facts.restore.Phase != corev1alpha1.RestoreSucceeded || !runsJob(v) {
		s.facts.verifierDone = true
		return ctrl.Result{}, nil
	}
	s.facts.verifierJob = executor.VerifierJobName(s.bvs)
	var existing batchv1.Job
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: s.bvs.Namespace, Name: s.facts.verifierJob}, &existing)
	if err == nil || !apierrors.IsNotFound(err) {
		return ctrl.Result{}, err
	}
	cfg := r.Executor
	var warning string
	if v.Spec.Function != "" {
		cfg.Image, warning, err = executor.FunctionImage(ctx, r.Client, r.Executor, v.Spec.Function)
		if warning != "" {
			// Named explicitly, it holds the script or the client programs: Coffer's own
			// image would only fail later and less clearly.
			s.facts.executorErr = fmt.Sprintf("BackupVerifier %s/%s: spec.function: Function %s not found", v.Namespace, v.Name, v.Spec.Function)
			return ctrl.Result{}, nil
		}
	} else {
		cfg.Image, warning, err = executor.TaskImage(ctx, r.Client, r.Executor, v.Spec.RestoreOption.AddonInfo, true)
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	comp, volumes, mounts, err := r.verifierVolumes(ctx, s)
	var problem *configProblem
	switch {
	case errors.As(err, &problem):
		s.facts.executorErr = problem.Error()
		return ctrl.Result{}, nil
	case err != nil:
		return ctrl.Result{}, err
	}
	job := executor.VerifierJob(cfg, s.bvs, comp, volumes, mounts, executor.VerifierDeadline(len(v.Spec.Queries)))
	job.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(s.bvs, corev1alpha1.GroupVersion.WithKind("BackupVerificationSession"))}
	if err := r.Client.Create(ctx, job); err != nil {
		// An existing Job is this session's own, created before the cache saw it.
		return ctrl.Result{}, client.IgnoreAlreadyExists(err)
	}
	if warning != "" {
		flow.Eventf(r.Recorder, s.bvs, corev1.EventTypeWarning, "AddonImage", "Verify", "%s", warning)
	}
	flow.Eventf(r.Recorder, s.bvs, corev1.EventTypeNormal, "VerifierStarted", "Verify", "Running the %s verifier in Job %s", strings.ToLower(string(v.Spec.Type)), job.Name)
	return ctrl.Result{}, nil
}

// configProblem is a verifier the user must fix; other errors are retried.
type configProblem struct{ msg string }

func (p *configProblem) Error() string { return p.msg }

// verifierVolumes are what a verifier Job mounts: the verifier's own volumes, and for a script
// over files, the restored target's volumes where backup and restore Jobs mount them.
func (r *Reconciler) verifierVolumes(ctx context.Context, s *scope) (targets.Component, []corev1.Volume, []corev1.VolumeMount, error) {
	v := s.verifier
	var volumes []corev1.Volume
	for i, raw := range v.Spec.Volumes {
		vol, err := shared.Embedded[corev1.Volume](&raw.RawExtension)
		if err != nil || vol == nil {
			return targets.Component{}, nil, nil, &configProblem{fmt.Sprintf("BackupVerifier %s/%s: spec.volumes[%d]: not a volume: %v", v.Namespace, v.Name, i, err)}
		}
		volumes = append(volumes, *vol)
	}
	var comp targets.Component
	if t := v.Spec.RestoreOption.Target; v.Spec.Type == corev1alpha1.VerifyScript && t.Kind != shared.KindAppBinding {
		comps, err := targets.Resolve(ctx, r.Client, s.bvs.Namespace, *t)
		var missing *targets.NotFoundError
		switch {
		case errors.As(err, &missing):
			return targets.Component{}, nil, nil, &configProblem{fmt.Sprintf("BackupVerifier %s/%s: spec.restoreOption.target: %v", v.Namespace, v.Name, err)}
		case err != nil:
			return targets.Component{}, nil, nil, err
		}
		// The script sees one pod's volumes: a StatefulSet's first ordinal, a DaemonSet's
		// first node, or the only component of the other kinds.
		comp = comps[0]
	}
	return comp, volumes, v.Spec.VolumeMounts, nil
}

// observeVerifierJob waits for the verifier Job. The Job records its observations in the
// session's status before it ends; a Job that failed without recording them is the reason the
// verification fails.
func (r *Reconciler) observeVerifierJob(ctx context.Context, s *scope) (ctrl.Result, error) {
	if s.facts.verifierDone || s.facts.verifierJob == "" || !s.facts.active() {
		return ctrl.Result{}, nil
	}
	var job batchv1.Job
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: s.bvs.Namespace, Name: s.facts.verifierJob}, &job); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	failed := executor.Failed(&job)
	if failed == nil && !executor.Succeeded(&job) {
		return ctrl.Result{}, nil
	}
	s.facts.verifierDone = true
	if !observed(s.bvs.Status.Observations, s.verifier.Spec.Type) {
		// The Job patched the session before it ended, but the cached session may predate
		// that patch: judge the session as the API server has it.
		var live corev1alpha1.BackupVerificationSession
		if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(s.bvs), &live); err != nil {
			return ctrl.Result{}, err
		}
		s.bvs.Status.Observations = live.Status.Observations
	}
	switch {
	case observed(s.bvs.Status.Observations, s.verifier.Spec.Type):
	case failed != nil:
		s.facts.verifierErr = fmt.Sprintf("verifier Job %s failed without recording observations (%s: %s)%s", job.Name, failed.Reason, failed.Message,
			executor.PodMessage(ctx, r.Client, &job))
	default:
		s.facts.verifierErr = fmt.Sprintf("verifier Job %s succeeded but recorded no observations", job.Name)
	}
	return ctrl.Result{}, nil
}

// observed reports whether the verifier Job recorded what a verifier of this type observes.
func observed(obs *corev1alpha1.VerificationObservations, typ corev1alpha1.VerificationType) bool {
	if obs == nil {
		return false
	}
	if typ == corev1alpha1.VerifyScript {
		return obs.Script != nil
	}
	return obs.Queries != nil
}

// RestoreObservation is what a finished restore tells the verification conditions: its phase,
// duration, size and components, and why it failed.
func RestoreObservation(rs *corev1alpha1.RestoreSession, snap *storagev1alpha1.Snapshot) *corev1alpha1.RestoreObservation {
	obs := &corev1alpha1.RestoreObservation{RestoreSession: rs.Name, Phase: rs.Status.Phase, Components: int32(len(rs.Status.Components))}
	if d, err := time.ParseDuration(rs.Status.Duration); err == nil {
		obs.Duration = &metav1.Duration{Duration: d}
	}
	if snap != nil && rs.Status.Phase == corev1alpha1.RestoreSucceeded {
		obs.SizeBytes = snap.Status.SizeBytes
	}
	if rs.Status.Phase != corev1alpha1.RestoreSucceeded {
		var reasons []string
		names := make([]string, 0, len(rs.Status.Components))
		for name := range rs.Status.Components {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			if c := rs.Status.Components[name]; c.Error != "" {
				reasons = append(reasons, fmt.Sprintf("component %s: %s", name, c.Error))
			}
		}
		for _, c := range rs.Status.Conditions {
			if c.Status == metav1.ConditionFalse || (c.Type == string(corev1alpha1.TypeRestoreIncomplete) && c.Status == metav1.ConditionTrue) {
				reasons = append(reasons, c.Message)
			}
		}
		obs.Error = truncate(strings.Join(reasons, "; "), corev1alpha1.MaxObservedErrorBytes)
	}
	return obs
}

// evaluate runs the verifier's conditions over the observations with the cel package, under
// one runtime cost budget.
func (r *Reconciler) evaluate(ctx context.Context, s *scope) (ctrl.Result, error) {
	if s.facts.restore == nil || !s.facts.verifierDone {
		return ctrl.Result{}, nil
	}
	specPath := field.NewPath("spec")
	compiled, errs := cel.CompileVerifier(&s.verifier.Spec, specPath)
	if len(errs) > 0 {
		// Admission compiles the same conditions, so this is a verifier written before the
		// webhook ran or an environment that changed under it.
		s.facts.verified = ptr.To(false)
		s.facts.results = []corev1alpha1.ConditionResult{{Name: "compile", Message: truncate(errs.ToAggregate().Error(), corev1alpha1.MaxConditionMessageBytes)}}
		return ctrl.Result{}, nil
	}
	in := s.bvs.DeepCopy()
	if in.Status.Observations == nil {
		in.Status.Observations = &corev1alpha1.VerificationObservations{}
	}
	in.Status.Observations.Restore = s.facts.restore
	results, ok := compiled.Evaluate(ctx, cel.VerificationInput{Session: in, Snapshot: s.facts.snapshot}, cel.NewBudget(cel.RuntimeCostBudget), specPath)
	s.facts.results, s.facts.verified = results, &ok
	return ctrl.Result{}, nil
}

// recordOnSnapshot writes the outcome to the Snapshot: Verified, or VerificationFailed when the
// restore or a condition failed.
func (r *Reconciler) recordOnSnapshot(ctx context.Context, s *scope) (ctrl.Result, error) {
	// Only a verification that ran says anything about the snapshot: a verifier that could not
	// be set up proves nothing either way.
	snap := s.facts.snapshot
	if snap == nil || s.facts.skippedBy != "" || s.facts.verified == nil {
		return ctrl.Result{}, nil
	}
	status := storagev1alpha1.VerificationFailed
	if s.facts.verified != nil && *s.facts.verified {
		status = storagev1alpha1.Verified
	}
	if snap.Status.VerificationStatus == status && snap.Status.VerificationSession == s.bvs.Name {
		return ctrl.Result{}, nil
	}
	before := snap.DeepCopy()
	snap.Status.VerificationStatus, snap.Status.VerificationSession = status, s.bvs.Name
	if err := r.Client.Status().Patch(ctx, snap, client.MergeFrom(before)); err != nil {
		return ctrl.Result{}, fmt.Errorf("recording the verification on Snapshot %s: %w", snap.Name, err)
	}
	return ctrl.Result{}, nil
}

// retry starts the next session of a failed one that has retries left, after the verifier's
// retry delay, and marks the failed one retried.
func (r *Reconciler) retry(ctx context.Context, s *scope) (ctrl.Result, error) {
	bvs := s.bvs
	if bvs.Status.Phase != corev1alpha1.VerificationFailed || bvs.Spec.RetryLeft <= 0 || ptr.Deref(bvs.Status.Retried, false) {
		return ctrl.Result{}, nil
	}
	var delay time.Duration
	if s.verifier != nil && s.verifier.Spec.RetryConfig != nil && s.verifier.Spec.RetryConfig.Delay != nil {
		delay = s.verifier.Spec.RetryConfig.Delay.Duration
	}
	var failedAt time.Time
	for _, c := range bvs.Status.Conditions {
		if c.LastTransitionTime.After(failedAt) {
			failedAt = c.LastTransitionTime.Time
		}
	}
	now := r.now()
	if wait := failedAt.Add(delay).Sub(now); wait > 0 {
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	// Named after a second later than its predecessor at least, so an immediate retry does not
	// meet the failed session's name.
	at := now
	if min := bvs.CreationTimestamp.Add(time.Second); at.Before(min) {
		at = min
	}
	next := NewSession(bvs.Namespace, bvs.Spec.Invoker.Name, bvs.Spec.Session, bvs.Spec.Repository, bvs.Spec.RetryLeft-1, at)
	next.OwnerReferences = bvs.OwnerReferences
	if err := r.Client.Create(ctx, next); err != nil && !apierrors.IsAlreadyExists(err) {
		return ctrl.Result{}, err
	}
	before := bvs.DeepCopy()
	bvs.Status.Retried = ptr.To(true)
	if err := r.Client.Status().Patch(ctx, bvs, client.MergeFrom(before)); err != nil {
		return ctrl.Result{}, err
	}
	flow.Eventf(r.Recorder, bvs, corev1.EventTypeNormal, "Retried", "Retry", "Verification failed; retrying as %s (%d retries left)", next.Name, next.Spec.RetryLeft)
	return ctrl.Result{}, nil
}

// NewSession is a verification session of one repository, as the verifier CronJob's trigger
// and a retry create it.
func NewSession(namespace, config, session, repository string, retryLeft int32, now time.Time) *corev1alpha1.BackupVerificationSession {
	labels := shared.OwnerLabels("BackupConfiguration", config, namespace)
	labels[shared.LabelSessionName] = shared.TruncateName(session, shared.MaxNameLength)
	labels[shared.LabelRepositoryName] = shared.TruncateName(repository, shared.MaxNameLength)
	return &corev1alpha1.BackupVerificationSession{
		ObjectMeta: metav1.ObjectMeta{Name: shared.VerificationSessionName(repository, session, now.Unix()), Namespace: namespace, Labels: labels},
		Spec: corev1alpha1.BackupVerificationSessionSpec{
			Invoker:    shared.TypedLocalObjectReference{APIGroup: corev1alpha1.GroupVersion.Group, Kind: "BackupConfiguration", Name: config},
			Session:    session,
			Repository: repository,
			RetryLeft:  max(retryLeft, 0),
		},
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

func (r *Reconciler) patchStatus(ctx context.Context, orig *corev1alpha1.BackupVerificationSession, s *scope) error {
	bvs := s.bvs
	s.facts.apply(bvs)
	if equality.Semantic.DeepEqual(orig.Status, bvs.Status) {
		return nil
	}
	if err := r.Client.Status().Patch(ctx, bvs, client.MergeFrom(orig)); err != nil {
		return fmt.Errorf("patching BackupVerificationSession %s status: %w", bvs.Name, err)
	}
	if finished(bvs.Status.Phase) && !finished(orig.Status.Phase) {
		eventType := corev1.EventTypeNormal
		if bvs.Status.Phase == corev1alpha1.VerificationFailed {
			eventType = corev1.EventTypeWarning
		}
		flow.Eventf(r.Recorder, bvs, eventType, "Verification"+string(bvs.Status.Phase), "Verify", "Verification of Snapshot %s %s", bvs.Status.Snapshot, strings.ToLower(string(bvs.Status.Phase)))
	}
	return nil
}
