// Package hooks runs the actions of HookTemplates before and after backups and restores: a
// command executed in a target pod (pods/exec through the API server), or an HTTP GET/POST to
// a pod or to a fixed host made by the operator. It is shared by the backup and restore session
// controllers.
package hooks
