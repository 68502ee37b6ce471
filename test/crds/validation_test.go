package crds

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	addonsv1alpha1 "github.com/cofferhq/coffer/api/addons/v1alpha1"
	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	"github.com/cofferhq/coffer/api/shared"
	storagev1alpha1 "github.com/cofferhq/coffer/api/storage/v1alpha1"
)

// The schema messages the API server uses for OpenAPI rules.
const (
	msgRequired  = "Required value"
	msgPattern   = "should match"
	msgEnum      = "Unsupported value"
	msgMinLength = "should be at least 1 chars long"
	msgMinItems  = "should have at least 1 items"
	msgDuplicate = "Duplicate value"
)

func TestBackupStorageValidation(t *testing.T) {
	selector := shared.NamespacesFromSelector
	runInvalid(t, map[string]invalidCase{
		"provider s3 without s3": {
			obj: backupStorage(func(s *storagev1alpha1.BackupStorage) {
				s.Spec.Storage.S3 = nil
			}),
			path: "spec.storage", message: "s3 is required when provider is s3",
		},
		"provider gcs with only s3 set": {
			obj: backupStorage(func(s *storagev1alpha1.BackupStorage) {
				s.Spec.Storage.Provider = storagev1alpha1.ProviderGCS
			}),
			path: "spec.storage", message: "gcs is required when provider is gcs",
		},
		"provider local without local": {
			obj: backupStorage(func(s *storagev1alpha1.BackupStorage) {
				s.Spec.Storage.Provider = storagev1alpha1.ProviderLocal
				s.Spec.Storage.S3 = nil
			}),
			path: "spec.storage", message: "local is required when provider is local",
		},
		"two backends set": {
			obj: backupStorage(func(s *storagev1alpha1.BackupStorage) {
				s.Spec.Storage.GCS = &storagev1alpha1.GCSSpec{Bucket: "backups"}
			}),
			path: "spec.storage", message: "only the backend named by provider may be set",
		},
		"unknown provider": {
			obj: backupStorage(func(s *storagev1alpha1.BackupStorage) {
				s.Spec.Storage.Provider = "ftp"
			}),
			path: "spec.storage.provider", message: msgEnum,
		},
		"s3 without bucket": {
			obj: backupStorage(func(s *storagev1alpha1.BackupStorage) {
				s.Spec.Storage.S3.Bucket = ""
			}),
			path: "spec.storage.s3.bucket", message: msgMinLength,
		},
		"relative local mountPath": {
			obj: backupStorage(func(s *storagev1alpha1.BackupStorage) {
				s.Spec.Storage.Provider = storagev1alpha1.ProviderLocal
				s.Spec.Storage.S3 = nil
				s.Spec.Storage.Local = &storagev1alpha1.LocalSpec{MountPath: "backups"}
			}),
			path: "spec.storage.local.mountPath", message: msgPattern,
		},
		"usagePolicy from Selector without selector": {
			obj: backupStorage(func(s *storagev1alpha1.BackupStorage) {
				s.Spec.UsagePolicy = &shared.UsagePolicy{AllowedNamespaces: shared.AllowedNamespaces{From: &selector}}
			}),
			path: "spec.usagePolicy.allowedNamespaces", message: "selector is required when from is Selector",
		},
		"unknown deletionPolicy": {
			obj: backupStorage(func(s *storagev1alpha1.BackupStorage) {
				s.Spec.DeletionPolicy = "Keep"
			}),
			path: "spec.deletionPolicy", message: msgEnum,
		},
	})
}

func TestRetentionPolicyValidation(t *testing.T) {
	runInvalid(t, map[string]invalidCase{
		"neither maxRetentionPeriod nor successfulSnapshots": {
			obj: retentionPolicy(func(p *storagev1alpha1.RetentionPolicy) {
				p.Spec.MaxRetentionPeriod = ""
			}),
			path: "spec", message: "one of maxRetentionPeriod or successfulSnapshots is required",
		},
		"period with an unknown unit": {
			obj: retentionPolicy(func(p *storagev1alpha1.RetentionPolicy) {
				p.Spec.MaxRetentionPeriod = "1x"
			}),
			path: "spec.maxRetentionPeriod", message: msgPattern,
		},
		"period smallest unit first": {
			obj: retentionPolicy(func(p *storagev1alpha1.RetentionPolicy) {
				p.Spec.MaxRetentionPeriod = "1d1w"
			}),
			path: "spec.maxRetentionPeriod", message: msgPattern,
		},
		"negative keep count": {
			obj: retentionPolicy(func(p *storagev1alpha1.RetentionPolicy) {
				p.Spec.SuccessfulSnapshots = &storagev1alpha1.SuccessfulSnapshotsKeepPolicy{Daily: ptr(int32(-1))}
			}),
			path: "spec.successfulSnapshots.daily", message: "should be greater than or equal to 0",
		},
	})
}

func TestRepositoryValidation(t *testing.T) {
	runInvalid(t, map[string]invalidCase{
		"path changed": {
			obj: repository(),
			update: func(o client.Object) {
				o.(*storagev1alpha1.Repository).Spec.Path = "demo/db-2"
			},
			path: "spec", message: "path is immutable",
		},
		"path that is only slashes": {
			obj: repository(func(r *storagev1alpha1.Repository) {
				r.Spec.Path = "//"
			}),
			path: "spec.path", message: "path must be a directory below the backend root",
		},
		"path escaping the backend root": {
			obj: repository(func(r *storagev1alpha1.Repository) {
				r.Spec.Path = "demo/../../etc"
			}),
			path: "spec.path", message: "path must be a directory below the backend root",
		},
		"path with a dot segment": {
			obj: repository(func(r *storagev1alpha1.Repository) {
				r.Spec.Path = "demo/./db"
			}),
			path: "spec.path", message: "path must be a directory below the backend root",
		},
		"no appRef kind": {
			obj: repository(func(r *storagev1alpha1.Repository) {
				r.Spec.AppRef.Kind = ""
			}),
			path: "spec.appRef.kind", message: msgMinLength,
		},
	})
}

func TestSnapshotValidation(t *testing.T) {
	runInvalid(t, map[string]invalidCase{
		"repository changed": {
			obj: snapshot(),
			update: func(o client.Object) {
				o.(*storagev1alpha1.Snapshot).Spec.Repository = "other-repo"
			},
			path: "spec", message: "repository, session and backupSession are immutable",
		},
		"session changed": {
			obj: snapshot(),
			update: func(o client.Object) {
				o.(*storagev1alpha1.Snapshot).Spec.Session = "weekly"
			},
			path: "spec", message: "repository, session and backupSession are immutable",
		},
		"backupSession changed": {
			obj: snapshot(),
			update: func(o client.Object) {
				o.(*storagev1alpha1.Snapshot).Spec.BackupSession = "db-nightly-1700003600"
			},
			path: "spec", message: "repository, session and backupSession are immutable",
		},
		"no repository": {
			obj: snapshot(func(s *storagev1alpha1.Snapshot) {
				s.Spec.Repository = ""
			}),
			path: "spec.repository", message: msgMinLength,
		},
	})
}

func TestBackupConfigurationValidation(t *testing.T) {
	runInvalid(t, map[string]invalidCase{
		"duplicate backend names": {
			obj: backupConfiguration(func(c *corev1alpha1.BackupConfiguration) {
				c.Spec.Backends = []corev1alpha1.BackendReference{
					{Name: "s3", StorageRef: &shared.ObjectReference{Name: "a"}},
					{Name: "s3", StorageRef: &shared.ObjectReference{Name: "b"}},
				}
			}),
			path: "spec.backends", message: "backend names must be unique",
		},
		"two unnamed backends": {
			obj: backupConfiguration(func(c *corev1alpha1.BackupConfiguration) {
				c.Spec.Backends = []corev1alpha1.BackendReference{
					{StorageRef: &shared.ObjectReference{Name: "a"}},
					{StorageRef: &shared.ObjectReference{Name: "b"}},
				}
			}),
			path: "spec.backends", message: "backend names must be unique",
		},
		"empty sessions": {
			obj: backupConfiguration(func(c *corev1alpha1.BackupConfiguration) {
				c.Spec.Sessions = []corev1alpha1.Session{}
			}),
			path: "spec.sessions", message: msgMinItems,
		},
		"no sessions": {
			obj: backupConfiguration(func(c *corev1alpha1.BackupConfiguration) {
				c.Spec.Sessions = nil
			}),
			path: "spec.sessions", message: msgRequired,
		},
		"duplicate session names": {
			obj: backupConfiguration(func(c *corev1alpha1.BackupConfiguration) {
				c.Spec.Sessions = []corev1alpha1.Session{session("nightly"), session("nightly")}
			}),
			path: "spec.sessions[1]", message: msgDuplicate,
		},
		"session without repositories": {
			obj: backupConfiguration(func(c *corev1alpha1.BackupConfiguration) {
				c.Spec.Sessions[0].Repositories = []corev1alpha1.RepositoryInfo{}
			}),
			path: "spec.sessions[0].repositories", message: msgMinItems,
		},
		"duplicate repository names": {
			obj: backupConfiguration(func(c *corev1alpha1.BackupConfiguration) {
				r := c.Spec.Sessions[0].Repositories[0]
				c.Spec.Sessions[0].Repositories = append(c.Spec.Sessions[0].Repositories, r)
			}),
			path: "spec.sessions[0].repositories[1]", message: msgDuplicate,
		},
		"backupTimeout in words": {
			obj: unstructuredFrom(backupConfiguration(), func(u map[string]any) {
				sessions, _, _ := unstructured.NestedSlice(u, "spec", "sessions")
				sessions[0].(map[string]any)["backupTimeout"] = "5 minutes"
				_ = unstructured.SetNestedSlice(u, sessions, "spec", "sessions")
			}),
			path: "spec.sessions[0].backupTimeout", message: msgPattern,
		},
		"task without name": {
			obj: backupConfiguration(func(c *corev1alpha1.BackupConfiguration) {
				c.Spec.Sessions[0].Addon = &corev1alpha1.AddonInfo{Name: "workload-addon", Tasks: []corev1alpha1.TaskReference{{}}}
			}),
			path: "spec.sessions[0].addon.tasks[0].name", message: msgMinLength,
		},
		"hook with unknown execution policy": {
			obj: backupConfiguration(func(c *corev1alpha1.BackupConfiguration) {
				c.Spec.Sessions[0].Hooks = &corev1alpha1.BackupHooks{PostBackup: []corev1alpha1.HookInfo{{
					Name: "notify", HookTemplate: shared.ObjectReference{Name: "notify"}, ExecutionPolicy: "Sometimes",
				}}}
			}),
			path: "spec.sessions[0].hooks.postBackup[0].executionPolicy", message: msgEnum,
		},
	})
}

func TestBackupSessionValidation(t *testing.T) {
	runInvalid(t, map[string]invalidCase{
		"session changed": {
			obj: backupSession(),
			update: func(o client.Object) {
				o.(*corev1alpha1.BackupSession).Spec.Session = "weekly"
			},
			path: "spec", message: "spec is immutable",
		},
		"retryLeft changed": {
			obj: backupSession(),
			update: func(o client.Object) {
				o.(*corev1alpha1.BackupSession).Spec.RetryLeft = 3
			},
			path: "spec", message: "spec is immutable",
		},
		"backupTimeout in words": {
			obj: unstructuredFrom(backupSession(), func(u map[string]any) {
				_ = unstructured.SetNestedField(u, "1 hour", "spec", "backupTimeout")
			}),
			path: "spec.backupTimeout", message: msgPattern,
		},
	})
}

func TestBackupVerificationSessionValidation(t *testing.T) {
	runInvalid(t, map[string]invalidCase{
		"snapshot changed": {
			obj: backupVerificationSession(),
			update: func(o client.Object) {
				o.(*corev1alpha1.BackupVerificationSession).Spec.Snapshot = "db-repo-nightly-1700003600"
			},
			path: "spec", message: "spec is immutable",
		},
		"no repository": {
			obj: backupVerificationSession(func(s *corev1alpha1.BackupVerificationSession) {
				s.Spec.Repository = ""
			}),
			path: "spec.repository", message: msgMinLength,
		},
	})
}

func TestRestoreSessionValidation(t *testing.T) {
	runInvalid(t, map[string]invalidCase{
		"latest without repository": {
			obj: restoreSession(func(r *corev1alpha1.RestoreSession) {
				r.Spec.DataSource.Repository = ""
			}),
			path: "spec.dataSource", message: "snapshot 'latest' needs repository",
		},
		"pitr without targetTime": {
			obj: restoreSession(func(r *corev1alpha1.RestoreSession) {
				r.Spec.DataSource.Snapshot = ""
				r.Spec.DataSource.PITR = &corev1alpha1.PITR{}
			}),
			path: "spec.dataSource", message: "pitr needs targetTime and repository",
		},
		"pitr without repository": {
			obj: restoreSession(func(r *corev1alpha1.RestoreSession) {
				r.Spec.DataSource.Snapshot = ""
				r.Spec.DataSource.Repository = ""
				r.Spec.DataSource.PITR = &corev1alpha1.PITR{TargetTime: &metav1.Time{Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}}
			}),
			path: "spec.dataSource", message: "pitr needs targetTime and repository",
		},
		"neither snapshot nor pitr": {
			obj: restoreSession(func(r *corev1alpha1.RestoreSession) {
				r.Spec.DataSource.Snapshot = ""
			}),
			path: "spec.dataSource", message: "snapshot is required unless pitr is set",
		},
		"restoreTimeout in words": {
			obj: unstructuredFrom(restoreSession(), func(u map[string]any) {
				_ = unstructured.SetNestedField(u, "ten minutes", "spec", "restoreTimeout")
			}),
			path: "spec.restoreTimeout", message: msgPattern,
		},
	})
}

func TestBackupBlueprintValidation(t *testing.T) {
	runInvalid(t, map[string]invalidCase{
		"required variable with a default": {
			obj: backupBlueprint(func(b *corev1alpha1.BackupBlueprint) {
				b.Spec.Variables = []corev1alpha1.BlueprintVariable{{Name: "schedule", Required: true, Default: ptr("@daily")}}
			}),
			path: "spec.variables[0]", message: "a required variable cannot have a default",
		},
		"variable name with a dash": {
			obj: backupBlueprint(func(b *corev1alpha1.BackupBlueprint) {
				b.Spec.Variables = []corev1alpha1.BlueprintVariable{{Name: "my-var"}}
			}),
			path: "spec.variables[0].name", message: msgPattern,
		},
		"variable name ending in an underscore": {
			obj: backupBlueprint(func(b *corev1alpha1.BackupBlueprint) {
				b.Spec.Variables = []corev1alpha1.BlueprintVariable{{Name: "my_"}}
			}),
			path: "spec.variables[0].name", message: msgPattern,
		},
		"unknown variable type": {
			obj: backupBlueprint(func(b *corev1alpha1.BackupBlueprint) {
				b.Spec.Variables = []corev1alpha1.BlueprintVariable{{Name: "ratio", Type: "float"}}
			}),
			path: "spec.variables[0].type", message: msgEnum,
		},
		"duplicate variable names": {
			obj: backupBlueprint(func(b *corev1alpha1.BackupBlueprint) {
				b.Spec.Variables = []corev1alpha1.BlueprintVariable{{Name: "schedule"}, {Name: "schedule"}}
			}),
			path: "spec.variables[1]", message: msgDuplicate,
		},
		"template without sessions": {
			obj: backupBlueprint(func(b *corev1alpha1.BackupBlueprint) {
				b.Spec.BackupConfigurationTemplate.Sessions = []corev1alpha1.Session{}
			}),
			path: "spec.backupConfigurationTemplate.sessions", message: msgMinItems,
		},
		"unknown template deletionPolicy": {
			obj: backupBlueprint(func(b *corev1alpha1.BackupBlueprint) {
				b.Spec.BackupConfigurationTemplate.DeletionPolicy = "Delete"
			}),
			path: "spec.backupConfigurationTemplate.deletionPolicy", message: msgEnum,
		},
	})
}

func TestBackupVerifierValidation(t *testing.T) {
	runInvalid(t, map[string]invalidCase{
		"Query without queries": {
			obj: backupVerifier(func(v *corev1alpha1.BackupVerifier) {
				v.Spec.Type = corev1alpha1.VerifyQuery
			}),
			path: "spec", message: "type Query needs queries",
		},
		"Script without script": {
			obj: backupVerifier(func(v *corev1alpha1.BackupVerifier) {
				v.Spec.Type = corev1alpha1.VerifyScript
			}),
			path: "spec", message: "type Script needs script",
		},
		"query with statement and table": {
			obj: backupVerifier(func(v *corev1alpha1.BackupVerifier) {
				v.Spec.Type = corev1alpha1.VerifyQuery
				v.Spec.Queries = []corev1alpha1.VerifierQuery{{Name: "users", Table: "users", Statement: "SELECT count(*) FROM users"}}
			}),
			path: "spec.queries[0]", message: "set exactly one of statement or table",
		},
		"query with neither statement nor table": {
			obj: backupVerifier(func(v *corev1alpha1.BackupVerifier) {
				v.Spec.Type = corev1alpha1.VerifyQuery
				v.Spec.Queries = []corev1alpha1.VerifierQuery{{Name: "users"}}
			}),
			path: "spec.queries[0]", message: "set exactly one of statement or table",
		},
		"queries and the KubeStash-style query": {
			obj: backupVerifier(func(v *corev1alpha1.BackupVerifier) {
				v.Spec.Type = corev1alpha1.VerifyQuery
				v.Spec.Queries = []corev1alpha1.VerifierQuery{{Name: "users", Table: "users"}}
				v.Spec.Query = raw(`{"postgres":{"database":"app"}}`)
			}),
			path: "spec", message: "set queries or the KubeStash-style query, not both",
		},
		"query name with a dash": {
			obj: backupVerifier(func(v *corev1alpha1.BackupVerifier) {
				v.Spec.Type = corev1alpha1.VerifyQuery
				v.Spec.Queries = []corev1alpha1.VerifierQuery{{Name: "user-count", Table: "users"}}
			}),
			path: "spec.queries[0].name", message: msgPattern,
		},
		"Query into a claim": {
			obj: backupVerifier(func(v *corev1alpha1.BackupVerifier) {
				v.Spec.Type = corev1alpha1.VerifyQuery
				v.Spec.Queries = []corev1alpha1.VerifierQuery{{Name: "users", Table: "users"}}
				v.Spec.RestoreOption = &corev1alpha1.RestoreOption{Target: &shared.TypedObjectReference{Kind: "PersistentVolumeClaim", Name: "scratch"}}
			}),
			path: "spec", message: "restoreOption.target must be an AppBinding",
		},
		"unknown type": {
			obj: backupVerifier(func(v *corev1alpha1.BackupVerifier) {
				v.Spec.Type = "Checksum"
			}),
			path: "spec.type", message: msgEnum,
		},
		"condition without expression": {
			obj: backupVerifier(func(v *corev1alpha1.BackupVerifier) {
				v.Spec.Conditions = []corev1alpha1.VerificationCondition{{Name: "restored"}}
			}),
			path: "spec.conditions[0].expression", message: msgMinLength,
		},
	})
}

func TestHookTemplateValidation(t *testing.T) {
	runInvalid(t, map[string]invalidCase{
		"Pod executor without pod": {
			obj: hookTemplate(func(h *corev1alpha1.HookTemplate) {
				h.Spec.Executor.Pod = nil
			}),
			path: "spec.executor", message: "pod.selector is required when type is Pod",
		},
		"Pod executor with an empty selector": {
			obj: hookTemplate(func(h *corev1alpha1.HookTemplate) {
				h.Spec.Executor.Pod.Selector = ""
			}),
			path: "spec.executor", message: "pod.selector is required when type is Pod",
		},
		"Pod executor with a set-based selector": {
			obj: hookTemplate(func(h *corev1alpha1.HookTemplate) {
				h.Spec.Executor.Pod.Selector = "app in (db)"
			}),
			path: "spec.executor.pod.selector", message: msgPattern,
		},
		"Function executor without function": {
			obj: hookTemplate(func(h *corev1alpha1.HookTemplate) {
				h.Spec.Executor = corev1alpha1.HookExecutor{Type: corev1alpha1.HookExecutorFunction}
			}),
			path: "spec.executor", message: "function is required when type is Function",
		},
		"action with two members": {
			obj: hookTemplate(func(h *corev1alpha1.HookTemplate) {
				h.Spec.Action.TCPSocket = &corev1.TCPSocketAction{Port: intstr.FromInt32(5432)}
			}),
			path: "spec.action", message: "set exactly one of exec, httpGet, httpPost, tcpSocket",
		},
		"empty action": {
			obj: hookTemplate(func(h *corev1alpha1.HookTemplate) {
				h.Spec.Action = &corev1alpha1.HookAction{}
			}),
			path: "spec.action", message: "set exactly one of exec, httpGet, httpPost, tcpSocket",
		},
		"Pod executor without action": {
			obj: hookTemplate(func(h *corev1alpha1.HookTemplate) {
				h.Spec.Action = nil
			}),
			path: "spec", message: "action is required unless the executor type is Function",
		},
		"unknown executor type": {
			obj: hookTemplate(func(h *corev1alpha1.HookTemplate) {
				h.Spec.Executor.Type = "Sidecar"
			}),
			path: "spec.executor.type", message: msgEnum,
		},
	})
}

func TestAddonValidation(t *testing.T) {
	runInvalid(t, map[string]invalidCase{
		"no spec": {
			obj: unstructuredFrom(addon(), func(u map[string]any) {
				delete(u, "spec")
			}),
			path: "spec", message: msgRequired,
		},
		"task without function": {
			obj: unstructuredFrom(addon(), func(u map[string]any) {
				_ = unstructured.SetNestedSlice(u, []any{map[string]any{"name": "logical-backup"}}, "spec", "backupTasks")
			}),
			path: "spec.backupTasks[0].function", message: msgRequired,
		},
		"task with an empty function": {
			obj: addon(func(a *addonsv1alpha1.Addon) {
				a.Spec.BackupTasks[0].Function = ""
			}),
			path: "spec.backupTasks[0].function", message: msgMinLength,
		},
		"duplicate task names": {
			obj: addon(func(a *addonsv1alpha1.Addon) {
				a.Spec.BackupTasks = append(a.Spec.BackupTasks, a.Spec.BackupTasks[0])
			}),
			path: "spec.backupTasks[1]", message: msgDuplicate,
		},
		"unknown executor": {
			obj: addon(func(a *addonsv1alpha1.Addon) {
				a.Spec.RestoreTasks = []addonsv1alpha1.Task{{Name: "restore", Function: "postgres-restore", Executor: "Cron"}}
			}),
			path: "spec.restoreTasks[0].executor", message: msgEnum,
		},
	})
}

func TestFunctionValidation(t *testing.T) {
	runInvalid(t, map[string]invalidCase{
		"no image": {
			obj: unstructuredFrom(function(), func(u map[string]any) {
				unstructured.RemoveNestedField(u, "spec", "image")
			}),
			path: "spec.image", message: msgRequired,
		},
		"empty image": {
			obj: function(func(f *addonsv1alpha1.Function) {
				f.Spec.Image = ""
			}),
			path: "spec.image", message: msgMinLength,
		},
		"no spec": {
			obj: unstructuredFrom(function(), func(u map[string]any) {
				delete(u, "spec")
			}),
			path: "spec", message: msgRequired,
		},
	})
}

func TestAppBindingValidation(t *testing.T) {
	appBinding := func(change func(*corev1alpha1.AppBinding)) *corev1alpha1.AppBinding {
		b := &corev1alpha1.AppBinding{ObjectMeta: meta("orders-db"), Spec: corev1alpha1.AppBindingSpec{Type: corev1alpha1.DatabasePostgreSQL,
			ClientConfig: corev1alpha1.ClientConfig{Service: &corev1alpha1.ServiceReference{Name: "orders-db"}}}}
		change(b)
		return b
	}
	runInvalid(t, map[string]invalidCase{
		"unknown type": {
			obj:  appBinding(func(b *corev1alpha1.AppBinding) { b.Spec.Type = "Oracle" }),
			path: "spec.type", message: msgEnum,
		},
		"service and host": {
			obj: appBinding(func(b *corev1alpha1.AppBinding) {
				b.Spec.ClientConfig.Host, b.Spec.ClientConfig.Port = "db.example.com", 5432
			}),
			path: "spec.clientConfig", message: "set exactly one of service and host",
		},
		"host without port": {
			obj: appBinding(func(b *corev1alpha1.AppBinding) {
				b.Spec.ClientConfig = corev1alpha1.ClientConfig{Host: "db.example.com"}
			}),
			path: "spec.clientConfig", message: "host needs port",
		},
		"service with the host's port": {
			obj:  appBinding(func(b *corev1alpha1.AppBinding) { b.Spec.ClientConfig.Port = 5432 }),
			path: "spec.clientConfig", message: "a Service's port is service.port",
		},
		"secret without a name": {
			obj:  appBinding(func(b *corev1alpha1.AppBinding) { b.Spec.Secret = &corev1.LocalObjectReference{} }),
			path: "spec", message: "secret.name is required",
		},
	})
}
