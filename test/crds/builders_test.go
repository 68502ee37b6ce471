package crds

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	addonsv1alpha1 "github.com/cofferhq/coffer/api/addons/v1alpha1"
	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	"github.com/cofferhq/coffer/api/shared"
	storagev1alpha1 "github.com/cofferhq/coffer/api/storage/v1alpha1"
)

// Builders of small valid objects. Each takes changes that turn it into the case under test;
// the namespace (or, for cluster-scoped kinds, a unique name) is filled in by the test runner.

func apply[T any](obj T, changes []func(T)) T {
	for _, c := range changes {
		c(obj)
	}
	return obj
}

func meta(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: name} }

func backupStorage(changes ...func(*storagev1alpha1.BackupStorage)) *storagev1alpha1.BackupStorage {
	return apply(&storagev1alpha1.BackupStorage{
		ObjectMeta: meta("storage"),
		Spec: storagev1alpha1.BackupStorageSpec{
			Storage: storagev1alpha1.Backend{
				Provider: storagev1alpha1.ProviderS3,
				S3:       &storagev1alpha1.S3Spec{Endpoint: "http://127.0.0.1:9000", Bucket: "backups"},
			},
		},
	}, changes)
}

func retentionPolicy(changes ...func(*storagev1alpha1.RetentionPolicy)) *storagev1alpha1.RetentionPolicy {
	return apply(&storagev1alpha1.RetentionPolicy{
		ObjectMeta: meta("keep-30d"),
		Spec:       storagev1alpha1.RetentionPolicySpec{MaxRetentionPeriod: "30d"},
	}, changes)
}

func repository(changes ...func(*storagev1alpha1.Repository)) *storagev1alpha1.Repository {
	return apply(&storagev1alpha1.Repository{
		ObjectMeta: meta("db-repo"),
		Spec: storagev1alpha1.RepositorySpec{
			AppRef:     shared.TypedObjectReference{APIGroup: "apps", Kind: "StatefulSet", Name: "db"},
			StorageRef: shared.ObjectReference{Name: "storage"},
			Path:       "demo/db",
		},
	}, changes)
}

// snapshot sets appRef, session and backupSession, as the backup controller does.
func snapshot(changes ...func(*storagev1alpha1.Snapshot)) *storagev1alpha1.Snapshot {
	return apply(&storagev1alpha1.Snapshot{
		ObjectMeta: meta("db-repo-nightly-1700000000"),
		Spec: storagev1alpha1.SnapshotSpec{
			Repository:    "db-repo",
			Session:       "nightly",
			BackupSession: "db-nightly-1700000000",
			AppRef:        &shared.TypedObjectReference{APIGroup: "apps", Kind: "StatefulSet", Name: "db"},
		},
	}, changes)
}

func session(name string) corev1alpha1.Session {
	return corev1alpha1.Session{
		SessionConfig: corev1alpha1.SessionConfig{Name: name},
		Repositories:  []corev1alpha1.RepositoryInfo{{Name: "db-repo", Directory: "demo/db"}},
	}
}

func backupConfiguration(changes ...func(*corev1alpha1.BackupConfiguration)) *corev1alpha1.BackupConfiguration {
	return apply(&corev1alpha1.BackupConfiguration{
		ObjectMeta: meta("db"),
		Spec:       corev1alpha1.BackupConfigurationSpec{Sessions: []corev1alpha1.Session{session("nightly")}},
	}, changes)
}

func backupSession(changes ...func(*corev1alpha1.BackupSession)) *corev1alpha1.BackupSession {
	return apply(&corev1alpha1.BackupSession{
		ObjectMeta: meta("db-nightly-1700000000"),
		Spec: corev1alpha1.BackupSessionSpec{
			Invoker: shared.TypedLocalObjectReference{APIGroup: "core.coffer.dev", Kind: "BackupConfiguration", Name: "db"},
			Session: "nightly",
		},
	}, changes)
}

func restoreSession(changes ...func(*corev1alpha1.RestoreSession)) *corev1alpha1.RestoreSession {
	return apply(&corev1alpha1.RestoreSession{
		ObjectMeta: meta("restore-db"),
		Spec: corev1alpha1.RestoreSessionSpec{
			DataSource: corev1alpha1.RestoreDataSource{Repository: "db-repo", Snapshot: corev1alpha1.LatestSnapshot},
		},
	}, changes)
}

func backupBlueprint(changes ...func(*corev1alpha1.BackupBlueprint)) *corev1alpha1.BackupBlueprint {
	return apply(&corev1alpha1.BackupBlueprint{
		ObjectMeta: meta("workloads"),
		Spec: corev1alpha1.BackupBlueprintSpec{
			BackupConfigurationTemplate: corev1alpha1.BackupConfigurationTemplate{
				Sessions: []corev1alpha1.Session{session("nightly")},
			},
		},
	}, changes)
}

func backupVerifier(changes ...func(*corev1alpha1.BackupVerifier)) *corev1alpha1.BackupVerifier {
	return apply(&corev1alpha1.BackupVerifier{
		ObjectMeta: meta("restore-only"),
		// A typed client must set type: see TestTypedClientCanOmitOptionalFields.
		Spec: corev1alpha1.BackupVerifierSpec{Type: corev1alpha1.VerifyRestoreOnly},
	}, changes)
}

func backupVerificationSession(changes ...func(*corev1alpha1.BackupVerificationSession)) *corev1alpha1.BackupVerificationSession {
	return apply(&corev1alpha1.BackupVerificationSession{
		ObjectMeta: meta("db-repo-nightly-1700000000"),
		Spec: corev1alpha1.BackupVerificationSessionSpec{
			Invoker:    shared.TypedLocalObjectReference{APIGroup: "core.coffer.dev", Kind: "BackupConfiguration", Name: "db"},
			Session:    "nightly",
			Repository: "db-repo",
		},
	}, changes)
}

func hookTemplate(changes ...func(*corev1alpha1.HookTemplate)) *corev1alpha1.HookTemplate {
	return apply(&corev1alpha1.HookTemplate{
		ObjectMeta: meta("flush"),
		Spec: corev1alpha1.HookTemplateSpec{
			Action: &corev1alpha1.HookAction{Exec: &corev1.ExecAction{Command: []string{"sync"}}},
			Executor: corev1alpha1.HookExecutor{
				Type: corev1alpha1.HookExecutorPod,
				Pod:  &corev1alpha1.PodHookExecutorSpec{Selector: "app=db"},
			},
		},
	}, changes)
}

func addon(changes ...func(*addonsv1alpha1.Addon)) *addonsv1alpha1.Addon {
	return apply(&addonsv1alpha1.Addon{
		ObjectMeta: meta("workload-addon"),
		Spec: addonsv1alpha1.AddonSpec{
			BackupTasks: []addonsv1alpha1.Task{{Name: "logical-backup", Function: "postgres-backup"}},
		},
	}, changes)
}

func function(changes ...func(*addonsv1alpha1.Function)) *addonsv1alpha1.Function {
	return apply(&addonsv1alpha1.Function{
		ObjectMeta: meta("postgres-backup"),
		Spec:       addonsv1alpha1.FunctionSpec{Image: "ghcr.io/cofferhq/coffer:latest"},
	}, changes)
}

func ptr[T any](v T) *T { return &v }

func raw(json string) *runtime.RawExtension { return &runtime.RawExtension{Raw: []byte(json)} }

// unstructuredFrom converts a typed object so a case can set what the Go types cannot express
// (a malformed duration) or leave out what they always send.
func unstructuredFrom(obj client.Object, edit func(u map[string]any)) *unstructured.Unstructured {
	gvk, err := apiutil.GVKForObject(obj, env.Scheme)
	if err != nil {
		panic(err)
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		panic(err)
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetGroupVersionKind(gvk)
	edit(u.Object)
	return u
}
