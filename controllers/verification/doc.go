// Package verification reconciles BackupVerificationSessions: each proves one Snapshot
// restorable by restoring it through a RestoreSession built from the BackupVerifier's
// restoreOption, records what the restore did as observations, and evaluates the verifier's CEL
// conditions over them with the cel package. The outcome is written to the session's conditions
// and to the Snapshot's verificationStatus.
//
// It may import api, cel and the other controllers' exported helpers; it never prints.
package verification
