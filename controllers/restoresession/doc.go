// Package restoresession reconciles RestoreSessions: it resolves the snapshot (`latest` is the
// newest Succeeded one), pauses backups of the target while the restore runs, runs pre-restore
// hooks, one restore Job per component into the target's volumes, post-restore hooks, and
// resumes the backups it paused. The phase is derived by RestoreSessionPhaseFor.
package restoresession
