// Package autobackup turns workloads into BackupConfigurations: for each Deployment,
// StatefulSet, DaemonSet and PersistentVolumeClaim that names a BackupBlueprint or is matched by
// a blueprint's selector it renders the configuration with blueprints.ResolveWorkload (the
// function the admission webhook runs) and applies it with server-side apply; it re-renders
// every configuration of a blueprint when the blueprint changes, and deletes or keeps
// configurations whose workload or annotation went away per the blueprint's deletionPolicy.
package autobackup
