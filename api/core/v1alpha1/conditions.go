package v1alpha1

import "github.com/cofferhq/coffer/api/shared"

// Conditions shared by BackupConfiguration and RestoreSession.
const (
	// ValidationPassed: the references and settings were checked against other objects.
	TypeValidationPassed           shared.ConditionType   = "ValidationPassed"
	ReasonResourceValidationPassed shared.ConditionReason = "ResourceValidationPassed"
	ReasonResourceValidationFailed shared.ConditionReason = "ResourceValidationFailed"

	// MetricsPushed: the session's metrics were recorded. It is the last step of a session, so
	// a terminal phase is shown only once it is set.
	TypeMetricsPushed               shared.ConditionType   = "MetricsPushed"
	ReasonSuccessfullyPushedMetrics shared.ConditionReason = "SuccessfullyPushedMetrics"
	ReasonFailedToPushMetrics       shared.ConditionReason = "FailedToPushMetrics"
)

// BackupConfiguration conditions; the scheduler and initial-backup conditions live in
// status.sessions[].conditions.
const (
	TypeSchedulerEnsured      shared.ConditionType   = "SchedulerEnsured"
	ReasonSchedulerEnsured    shared.ConditionReason = "SchedulerEnsured"
	ReasonSchedulerNotEnsured shared.ConditionReason = "SchedulerNotEnsured"

	TypeInitialBackupTriggered               shared.ConditionType   = "InitialBackupTriggered"
	ReasonSuccessfullyTriggeredInitialBackup shared.ConditionReason = "SuccessfullyTriggeredInitialBackup"
	ReasonFailedToTriggerInitialBackup       shared.ConditionReason = "FailedToTriggerInitialBackup"
)

// BackupSession conditions.
const (
	// BackupSkipped (True): another session of the invoker runs, or the invoker is not Ready.
	TypeBackupSkipped               shared.ConditionType   = "BackupSkipped"
	ReasonPreRequisitesNotSatisfied shared.ConditionReason = "PreRequisitesNotSatisfied"

	TypeSessionHistoryCleaned               shared.ConditionType   = "SessionHistoryCleaned"
	ReasonSuccessfullyCleanedSessionHistory shared.ConditionReason = "SuccessfullyCleanedSessionHistory"
	ReasonFailedToCleanSessionHistory       shared.ConditionReason = "FailedToCleanSessionHistory"

	TypePreBackupHooksExecutionSucceeded     shared.ConditionType   = "PreBackupHooksExecutionSucceeded"
	ReasonSuccessfullyExecutedPreBackupHooks shared.ConditionReason = "SuccessfullyExecutedPreBackupHooks"
	ReasonFailedToExecutePreBackupHooks      shared.ConditionReason = "FailedToExecutePreBackupHooks"

	TypePostBackupHooksExecutionSucceeded     shared.ConditionType   = "PostBackupHooksExecutionSucceeded"
	ReasonSuccessfullyExecutedPostBackupHooks shared.ConditionReason = "SuccessfullyExecutedPostBackupHooks"
	ReasonFailedToExecutePostBackupHooks      shared.ConditionReason = "FailedToExecutePostBackupHooks"

	TypeBackupExecutorEnsured               shared.ConditionType   = "BackupExecutorEnsured"
	ReasonSuccessfullyEnsuredBackupExecutor shared.ConditionReason = "SuccessfullyEnsuredBackupExecutor"
	ReasonFailedToEnsureBackupExecutor      shared.ConditionReason = "FailedToEnsureBackupExecutor"

	TypeRetentionPolicyExecutorEnsured               shared.ConditionType   = "RetentionPolicyExecutorEnsured"
	ReasonSuccessfullyEnsuredRetentionPolicyExecutor shared.ConditionReason = "SuccessfullyEnsuredRetentionPolicyExecutor"
	ReasonFailedToEnsureRetentionPolicyExecutor      shared.ConditionReason = "FailedToEnsureRetentionPolicyExecutor"

	TypeSnapshotsEnsured               shared.ConditionType   = "SnapshotsEnsured"
	ReasonSuccessfullyEnsuredSnapshots shared.ConditionReason = "SuccessfullyEnsuredSnapshots"
	ReasonFailedToEnsureSnapshots      shared.ConditionReason = "FailedToEnsureSnapshots"

	// SnapshotCleanupIncomplete (True is bad): the retention Job ended before it finished.
	TypeSnapshotCleanupIncomplete                   shared.ConditionType   = "SnapshotCleanupIncomplete"
	ReasonSnapshotCleanupTerminatedBeforeCompletion shared.ConditionReason = "SnapshotCleanupTerminatedBeforeCompletion"

	// PodHasBeenInPendingStateForLongerThanExpected (True is bad): an executor pod never started.
	TypePodHasBeenInPendingStateForLongerThanExpected   shared.ConditionType   = "PodHasBeenInPendingStateForLongerThanExpected"
	ReasonPodHasBeenInPendingStateForLongerThanExpected shared.ConditionReason = "PodHasBeenInPendingStateForLongerThanExpected"
)

// RestoreSession conditions (besides ValidationPassed and MetricsPushed).
const (
	TypeRestoreExecutorEnsured               shared.ConditionType   = "RestoreExecutorEnsured"
	ReasonSuccessfullyEnsuredRestoreExecutor shared.ConditionReason = "SuccessfullyEnsuredRestoreExecutor"
	ReasonFailedToEnsureRestoreExecutor      shared.ConditionReason = "FailedToEnsureRestoreExecutor"

	TypePreRestoreHooksExecutionSucceeded     shared.ConditionType   = "PreRestoreHooksExecutionSucceeded"
	ReasonSuccessfullyExecutedPreRestoreHooks shared.ConditionReason = "SuccessfullyExecutedPreRestoreHooks"
	ReasonFailedToExecutePreRestoreHooks      shared.ConditionReason = "FailedToExecutePreRestoreHooks"

	TypePostRestoreHooksExecutionSucceeded     shared.ConditionType   = "PostRestoreHooksExecutionSucceeded"
	ReasonSuccessfullyExecutedPostRestoreHooks shared.ConditionReason = "SuccessfullyExecutedPostRestoreHooks"
	ReasonFailedToExecutePostRestoreHooks      shared.ConditionReason = "FailedToExecutePostRestoreHooks"

	// RestoreTargetFound: the target exists. Unknown (UnableToCheckTargetAvailability) makes the
	// phase Unknown.
	TypeRestoreTargetFound                shared.ConditionType   = "RestoreTargetFound"
	ReasonRestoreTargetFound              shared.ConditionReason = "RestoreTargetFound"
	ReasonRestoreTargetNotFound           shared.ConditionReason = "RestoreTargetNotFound"
	ReasonUnableToCheckTargetAvailability shared.ConditionReason = "UnableToCheckTargetAvailability"

	// RestoreIncomplete (True is bad): a restore executor ended before its component finished.
	TypeRestoreIncomplete                           shared.ConditionType   = "RestoreIncomplete"
	ReasonRestoreExecutorTerminatedBeforeCompletion shared.ConditionReason = "RestoreExecutorTerminatedBeforeCompletion"
)

// BackupVerificationSession conditions.
const (
	// BackupVerificationSkipped (True): the snapshot was already verified.
	TypeBackupVerificationSkipped shared.ConditionType   = "BackupVerificationSkipped"
	ReasonSnapshotAlreadyVerified shared.ConditionReason = "SnapshotAlreadyVerified"

	TypeVerificationSessionHistoryCleaned               shared.ConditionType   = "VerificationSessionHistoryCleaned"
	ReasonSuccessfullyCleanedVerificationSessionHistory shared.ConditionReason = "SuccessfullyCleanedVerificationSessionHistory"
	ReasonFailedToCleanVerificationSessionHistory       shared.ConditionReason = "FailedToCleanVerificationSessionHistory"

	TypeVerificationExecutorEnsured               shared.ConditionType   = "VerificationExecutorEnsured"
	ReasonSuccessfullyEnsuredVerificationExecutor shared.ConditionReason = "SuccessfullyEnsuredVerificationExecutor"
	ReasonFailedToEnsureVerificationExecutor      shared.ConditionReason = "FailedToEnsureVerificationExecutor"

	TypeRestoreSucceeded             shared.ConditionType   = "RestoreSucceeded"
	ReasonSuccessfullyRestoredBackup shared.ConditionReason = "SuccessfullyRestoredBackup"
	ReasonFailedToRestoreBackup      shared.ConditionReason = "FailedToRestoreBackup"

	TypeBackupVerified               shared.ConditionType   = "BackupVerified"
	ReasonSuccessfullyVerifiedBackup shared.ConditionReason = "SuccessfullyVerifiedBackup"
	ReasonFailedToVerifyBackup       shared.ConditionReason = "FailedToVerifyBackup"
)
