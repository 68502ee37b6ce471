// Package backupconfiguration reconciles BackupConfigurations: it checks the target, storages and
// retention policies they name, creates their Repositories, one trigger CronJob per session and
// the executor identity, and starts each session's first backup once everything is Ready.
package backupconfiguration
