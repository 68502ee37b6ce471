// Package repository reconciles Repository: it checks that the BackupStorage is ready and lets
// the repository's namespace use it, that the encryption Secret holds RESTIC_PASSWORD, writes
// repository.yaml into the repository's directory, and reports the repository's snapshots, size
// and integrity. Deleting a Repository deletes its Snapshots and, under WipeOut, its directory.
package repository
