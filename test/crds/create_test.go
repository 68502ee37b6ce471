package crds

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	addonsv1alpha1 "github.com/cofferhq/coffer/api/addons/v1alpha1"
	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	storagev1alpha1 "github.com/cofferhq/coffer/api/storage/v1alpha1"
)

// TestCreateMinimal creates the smallest valid object of every kind as a user would write it
// (YAML, so nothing is sent that the user did not write), reads it back with the typed client
// and checks what the schema defaults.
func TestCreateMinimal(t *testing.T) {
	cases := map[string]struct {
		manifest string
		into     client.Object
		check    func(t *testing.T, obj client.Object)
	}{
		"BackupStorage": {
			manifest: `
apiVersion: storage.coffer.dev/v1alpha1
kind: BackupStorage
metadata: {name: s3}
spec:
  storage:
    provider: s3
    s3: {endpoint: "http://127.0.0.1:9000", bucket: backups}
`,
			into: &storagev1alpha1.BackupStorage{},
			check: func(t *testing.T, obj client.Object) {
				s := obj.(*storagev1alpha1.BackupStorage)
				if s.Spec.Storage.S3 == nil || s.Spec.Storage.S3.Bucket != "backups" {
					t.Errorf("spec.storage.s3 = %+v", s.Spec.Storage.S3)
				}
				if s.Spec.DeletionPolicy != storagev1alpha1.BackupStorageDelete {
					t.Errorf("spec.deletionPolicy = %q, want Delete", s.Spec.DeletionPolicy)
				}
			},
		},
		"RetentionPolicy": {
			manifest: `
apiVersion: storage.coffer.dev/v1alpha1
kind: RetentionPolicy
metadata: {name: keep-5}
spec:
  successfulSnapshots: {last: 5}
`,
			into: &storagev1alpha1.RetentionPolicy{},
			check: func(t *testing.T, obj client.Object) {
				p := obj.(*storagev1alpha1.RetentionPolicy)
				if p.Spec.SuccessfulSnapshots == nil || p.Spec.SuccessfulSnapshots.Last == nil || *p.Spec.SuccessfulSnapshots.Last != 5 {
					t.Errorf("spec.successfulSnapshots = %+v", p.Spec.SuccessfulSnapshots)
				}
				if p.Spec.FailedSnapshots == nil || p.Spec.FailedSnapshots.Last == nil || *p.Spec.FailedSnapshots.Last != 1 {
					t.Errorf("spec.failedSnapshots = %+v, want last: 1", p.Spec.FailedSnapshots)
				}
			},
		},
		"Repository": {
			manifest: `
apiVersion: storage.coffer.dev/v1alpha1
kind: Repository
metadata: {name: db-repo}
spec:
  appRef: {apiGroup: apps, kind: StatefulSet, name: db}
  storageRef: {name: s3}
  path: demo/db
`,
			into: &storagev1alpha1.Repository{},
			check: func(t *testing.T, obj client.Object) {
				r := obj.(*storagev1alpha1.Repository)
				if r.Spec.Path != "demo/db" || r.Spec.AppRef.Kind != "StatefulSet" {
					t.Errorf("spec = %+v", r.Spec)
				}
				if r.Spec.DeletionPolicy != storagev1alpha1.DeletionPolicyDelete {
					t.Errorf("spec.deletionPolicy = %q, want Delete", r.Spec.DeletionPolicy)
				}
			},
		},
		"Snapshot": {
			manifest: `
apiVersion: storage.coffer.dev/v1alpha1
kind: Snapshot
metadata: {name: db-repo-nightly-1700000000}
spec:
  repository: db-repo
`,
			into: &storagev1alpha1.Snapshot{},
			check: func(t *testing.T, obj client.Object) {
				s := obj.(*storagev1alpha1.Snapshot)
				if s.Spec.Repository != "db-repo" {
					t.Errorf("spec.repository = %q", s.Spec.Repository)
				}
				if s.Spec.Version != "v1" {
					t.Errorf("spec.version = %q, want v1", s.Spec.Version)
				}
				if s.Spec.DeletionPolicy != storagev1alpha1.DeletionPolicyDelete {
					t.Errorf("spec.deletionPolicy = %q, want Delete", s.Spec.DeletionPolicy)
				}
			},
		},
		"BackupConfiguration": {
			manifest: `
apiVersion: core.coffer.dev/v1alpha1
kind: BackupConfiguration
metadata: {name: db}
spec:
  sessions:
  - name: nightly
    repositories: [{name: db-repo, directory: demo/db}]
`,
			into: &corev1alpha1.BackupConfiguration{},
			check: func(t *testing.T, obj client.Object) {
				c := obj.(*corev1alpha1.BackupConfiguration)
				if len(c.Spec.Sessions) != 1 || len(c.Spec.Sessions[0].Repositories) != 1 {
					t.Fatalf("spec.sessions = %+v", c.Spec.Sessions)
				}
				if got := c.Spec.Sessions[0].SessionHistoryLimit; got != 1 {
					t.Errorf("spec.sessions[0].sessionHistoryLimit = %d, want 1", got)
				}
				if got := c.Spec.Sessions[0].Repositories[0].DeletionPolicy; got != corev1alpha1.RepositoryDelete {
					t.Errorf("spec.sessions[0].repositories[0].deletionPolicy = %q, want Delete", got)
				}
			},
		},
		"BackupSession": {
			manifest: `
apiVersion: core.coffer.dev/v1alpha1
kind: BackupSession
metadata: {name: db-nightly-1700000000}
spec:
  invoker: {apiGroup: core.coffer.dev, kind: BackupConfiguration, name: db}
  session: nightly
`,
			into: &corev1alpha1.BackupSession{},
			check: func(t *testing.T, obj client.Object) {
				s := obj.(*corev1alpha1.BackupSession)
				if s.Spec.Invoker.Name != "db" || s.Spec.Session != "nightly" {
					t.Errorf("spec = %+v", s.Spec)
				}
			},
		},
		"RestoreSession": {
			manifest: `
apiVersion: core.coffer.dev/v1alpha1
kind: RestoreSession
metadata: {name: restore-db}
spec:
  dataSource: {repository: db-repo, snapshot: latest}
`,
			into: &corev1alpha1.RestoreSession{},
			check: func(t *testing.T, obj client.Object) {
				r := obj.(*corev1alpha1.RestoreSession)
				if r.Spec.DataSource.Snapshot != corev1alpha1.LatestSnapshot || r.Spec.DataSource.Repository != "db-repo" {
					t.Errorf("spec.dataSource = %+v", r.Spec.DataSource)
				}
			},
		},
		"BackupBlueprint": {
			manifest: `
apiVersion: core.coffer.dev/v1alpha1
kind: BackupBlueprint
metadata: {name: workloads}
spec:
  backupConfigurationTemplate:
    sessions:
    - name: nightly
      repositories: [{name: "{{ .Workload.name }}", directory: "{{ .Namespace }}/{{ .Workload.name }}"}]
  variables:
  - name: schedule
`,
			into: &corev1alpha1.BackupBlueprint{},
			check: func(t *testing.T, obj client.Object) {
				b := obj.(*corev1alpha1.BackupBlueprint)
				if len(b.Spec.Variables) != 1 || b.Spec.Variables[0].Type != corev1alpha1.VariableString {
					t.Errorf("spec.variables = %+v, want one of type string", b.Spec.Variables)
				}
				tmpl := b.Spec.BackupConfigurationTemplate
				if tmpl.DeletionPolicy != corev1alpha1.BlueprintRetain {
					t.Errorf("spec.backupConfigurationTemplate.deletionPolicy = %q, want Retain", tmpl.DeletionPolicy)
				}
				if len(tmpl.Sessions) != 1 || tmpl.Sessions[0].SessionHistoryLimit != 1 {
					t.Errorf("spec.backupConfigurationTemplate.sessions = %+v, want sessionHistoryLimit 1", tmpl.Sessions)
				}
			},
		},
		"BackupVerifier": {
			manifest: `
apiVersion: core.coffer.dev/v1alpha1
kind: BackupVerifier
metadata: {name: restore-only}
spec: {}
`,
			into: &corev1alpha1.BackupVerifier{},
			check: func(t *testing.T, obj client.Object) {
				v := obj.(*corev1alpha1.BackupVerifier)
				if v.Spec.Type != corev1alpha1.VerifyRestoreOnly {
					t.Errorf("spec.type = %q, want RestoreOnly", v.Spec.Type)
				}
				if v.Spec.SessionHistoryLimit != 1 {
					t.Errorf("spec.sessionHistoryLimit = %d, want 1", v.Spec.SessionHistoryLimit)
				}
			},
		},
		"BackupVerificationSession": {
			manifest: `
apiVersion: core.coffer.dev/v1alpha1
kind: BackupVerificationSession
metadata: {name: db-repo-nightly-1700000000}
spec:
  invoker: {apiGroup: core.coffer.dev, kind: BackupConfiguration, name: db}
  repository: db-repo
`,
			into: &corev1alpha1.BackupVerificationSession{},
			check: func(t *testing.T, obj client.Object) {
				s := obj.(*corev1alpha1.BackupVerificationSession)
				if s.Spec.Repository != "db-repo" || s.Spec.Invoker.Kind != "BackupConfiguration" {
					t.Errorf("spec = %+v", s.Spec)
				}
			},
		},
		"HookTemplate": {
			manifest: `
apiVersion: core.coffer.dev/v1alpha1
kind: HookTemplate
metadata: {name: flush}
spec:
  action:
    exec: {command: [sync]}
  executor:
    type: Pod
    pod: {selector: app=db}
`,
			into: &corev1alpha1.HookTemplate{},
			check: func(t *testing.T, obj client.Object) {
				h := obj.(*corev1alpha1.HookTemplate)
				if h.Spec.Action == nil || h.Spec.Action.Exec == nil || len(h.Spec.Action.Exec.Command) != 1 {
					t.Errorf("spec.action = %+v", h.Spec.Action)
				}
				if h.Spec.Executor.Pod == nil || h.Spec.Executor.Pod.Strategy != corev1alpha1.ExecuteOnOne {
					t.Errorf("spec.executor.pod = %+v, want strategy ExecuteOnOne", h.Spec.Executor.Pod)
				}
			},
		},
		"Addon": {
			manifest: `
apiVersion: addons.coffer.dev/v1alpha1
kind: Addon
metadata: {name: workload-addon}
spec:
  backupTasks: [{name: logical-backup, function: postgres-backup}]
`,
			into: &addonsv1alpha1.Addon{},
			check: func(t *testing.T, obj client.Object) {
				a := obj.(*addonsv1alpha1.Addon)
				if len(a.Spec.BackupTasks) != 1 || a.Spec.BackupTasks[0].Executor != addonsv1alpha1.ExecutorJob {
					t.Errorf("spec.backupTasks = %+v, want one with executor Job", a.Spec.BackupTasks)
				}
			},
		},
		"AppBinding": {
			manifest: `
apiVersion: core.coffer.dev/v1alpha1
kind: AppBinding
metadata: {name: orders-db}
spec:
  type: PostgreSQL
  clientConfig: {service: {name: orders-db}}
`,
			into: &corev1alpha1.AppBinding{},
			check: func(t *testing.T, obj client.Object) {
				b := obj.(*corev1alpha1.AppBinding)
				if b.Spec.Type != corev1alpha1.DatabasePostgreSQL || b.Spec.ClientConfig.Service == nil || b.Spec.ClientConfig.Service.Name != "orders-db" {
					t.Errorf("spec = %+v", b.Spec)
				}
			},
		},
		"Function": {
			manifest: `
apiVersion: addons.coffer.dev/v1alpha1
kind: Function
metadata: {name: postgres-backup}
spec:
  image: ghcr.io/cofferhq/coffer:latest
`,
			into: &addonsv1alpha1.Function{},
			check: func(t *testing.T, obj client.Object) {
				f := obj.(*addonsv1alpha1.Function)
				if f.Spec.Image != "ghcr.io/cofferhq/coffer:latest" {
					t.Errorf("spec.image = %q", f.Spec.Image)
				}
			},
		},
	}
	if len(cases) != len(wantCRDs) {
		t.Errorf("%d kinds covered, want all %d", len(cases), len(wantCRDs))
	}
	for kind, tc := range cases {
		t.Run(kind, func(t *testing.T) {
			u := &unstructured.Unstructured{}
			if err := yaml.Unmarshal([]byte(tc.manifest), &u.Object); err != nil {
				t.Fatal(err)
			}
			if u.GetKind() != kind {
				t.Fatalf("manifest is a %s", u.GetKind())
			}
			place(t, u, env.Namespace(t))
			create(t, u)
			tc.into.SetNamespace(u.GetNamespace())
			tc.into.SetName(u.GetName())
			get(t, tc.into)
			if tc.into.GetUID() != u.GetUID() || tc.into.GetGeneration() != 1 {
				t.Errorf("read back uid %s generation %d; created uid %s", tc.into.GetUID(), tc.into.GetGeneration(), u.GetUID())
			}
			tc.check(t, tc.into)
		})
	}
}

// TestCreateTyped creates every kind with the typed client from the builders the other tests
// use, so they start from objects the API server accepts.
func TestCreateTyped(t *testing.T) {
	objs := []client.Object{
		backupStorage(), retentionPolicy(), repository(), snapshot(),
		backupConfiguration(), backupSession(), restoreSession(), backupBlueprint(),
		backupVerifier(), backupVerificationSession(), hookTemplate(), addon(), function(),
	}
	ns := env.Namespace(t)
	for _, obj := range objs {
		place(t, obj, ns)
		create(t, obj)
	}
}
