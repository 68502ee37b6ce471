// Package targets turns what a BackupConfiguration or RestoreSession points at (a stand-alone
// PersistentVolumeClaim, or a Deployment, StatefulSet or DaemonSet) into components: the unit a
// backup or restore Job works on, with the volumes that Job mounts and the node it must run on.
// Backup and restore resolve targets with the same function, so a restore mounts exactly what
// the backup read. It reads objects through a client and imports only api/.
package targets
