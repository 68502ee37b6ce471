// Package executor builds the Jobs and CronJobs that run Coffer's executor (`coffer backup`,
// `coffer restore`, `coffer retention`, `coffer trigger`) in the target's namespace, and the
// identity they run as: a ServiceAccount bound to the executor ClusterRole
// (config/rbac/executor_role.yaml). Builders are pure functions, table-tested; only
// EnsureIdentity talks to the API server.
package executor
