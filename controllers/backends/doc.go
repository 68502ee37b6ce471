// Package backends turns a BackupStorage and its Secret, and a Repository and its encryption
// Secret, into the engine's Backend and Repo values. The storage and repository controllers and
// the executor (`coffer backup`, `coffer restore`) all call it, so what a controller found
// reachable is exactly what a backup Job will use.
//
// The Secret keys are KubeStash's: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, CA_CERT_DATA;
// GOOGLE_SERVICE_ACCOUNT_JSON_KEY, GOOGLE_PROJECT_ID; AZURE_ACCOUNT_KEY; and RESTIC_PASSWORD in
// a repository's encryption Secret.
package backends
