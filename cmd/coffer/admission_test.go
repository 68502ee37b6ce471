package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	"github.com/cofferhq/coffer/api/shared"
	storagev1alpha1 "github.com/cofferhq/coffer/api/storage/v1alpha1"
	"github.com/cofferhq/coffer/test/envtest"
)

// admission writes manifests through the real API server and the manager's webhooks.
type admission struct {
	t        *testing.T
	c        client.Client
	warnings *warningsOf
	// replace turns placeholders (NS, OTHER, DIR) into this test's values.
	replace *strings.Replacer
}

func (a *admission) object(manifest string) *unstructured.Unstructured {
	a.t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(a.replace.Replace(manifest)), &u.Object); err != nil {
		a.t.Fatalf("manifest: %v\n%s", err, manifest)
	}
	return u
}

// create writes the manifest and returns the API server's answer.
func (a *admission) create(manifest string) (*unstructured.Unstructured, error) {
	u := a.object(manifest)
	a.warnings.got = nil
	return u, a.c.Create(context.Background(), u)
}

// admitted writes the manifest and fails the test when it is refused.
func (a *admission) admitted(manifest string) *unstructured.Unstructured {
	a.t.Helper()
	u, err := a.create(manifest)
	if err != nil {
		a.t.Fatalf("%s %s was refused: %v", u.GetKind(), u.GetName(), err)
	}
	return u
}

// refused checks that err is a 422 from the named webhook that says every one of want.
func refused(t *testing.T, what string, err error, webhook string, want ...string) {
	t.Helper()
	if !apierrors.IsInvalid(err) {
		t.Errorf("%s: got %v, want Invalid from %s", what, err, webhook)
		return
	}
	for _, w := range append([]string{fmt.Sprintf("admission webhook %q denied", webhook)}, want...) {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%s: the refusal does not say %q:\n%v", what, w, err)
		}
	}
}

// TestAdmissionRules sends bad objects of every kind with a rule that needs another object, or
// that the schema cannot express, through a real API server and the manager's webhooks, and
// checks each refusal names the field and says why; and checks the defaults are filled in.
func TestAdmissionRules(t *testing.T) {
	env := envtest.Start(t)
	ns := env.Namespace(t)
	other := env.Namespace(t)
	startWebhookManager(t, env, ns, 0)
	ctx := context.Background()
	w := &warningsOf{}
	cfg := rest.CopyConfig(env.Config)
	cfg.WarningHandlerWithContext = w
	c, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	a := &admission{t: t, c: c, warnings: w, replace: strings.NewReplacer("OTHER", other, "NS", ns, "DIR", t.TempDir())}

	// The namespace's default storage and retention policy; a storage, a policy and a hook
	// template in another namespace that keep to it (usagePolicy Same, the default).
	eventually(t, "the webhooks answer", func() error {
		_, err := a.create(`
apiVersion: storage.coffer.dev/v1alpha1
kind: BackupStorage
metadata: {name: local, namespace: NS}
spec:
  default: true
  storage: {provider: local, local: {mountPath: DIR, subPath: NS, hostPath: {path: DIR}}}`)
		return err
	})
	a.admitted(`
apiVersion: storage.coffer.dev/v1alpha1
kind: RetentionPolicy
metadata: {name: keep, namespace: NS}
spec: {default: true, maxRetentionPeriod: 30d}`)
	a.admitted(`
apiVersion: storage.coffer.dev/v1alpha1
kind: BackupStorage
metadata: {name: private, namespace: OTHER}
spec:
  storage: {provider: s3, s3: {endpoint: "http://127.0.0.1:1/", bucket: "backups/", prefix: "team-b/"}}`)
	a.admitted(`
apiVersion: storage.coffer.dev/v1alpha1
kind: RetentionPolicy
metadata: {name: private, namespace: OTHER}
spec: {maxRetentionPeriod: 30d}`)
	a.admitted(`
apiVersion: core.coffer.dev/v1alpha1
kind: HookTemplate
metadata: {name: private, namespace: OTHER}
spec:
  action: {exec: {command: [sync]}}
  executor: {type: Pod, pod: {selector: app=db}}`)

	t.Run("BackupStorage", func(t *testing.T) {
		var private storagev1alpha1.BackupStorage
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: other, Name: "private"}, &private); err != nil {
			t.Fatal(err)
		}
		if s3 := private.Spec.Storage.S3; s3.Bucket != "backups" || s3.Prefix != "team-b" || s3.Endpoint != "http://127.0.0.1:1" {
			t.Errorf("trailing slashes kept: %+v", s3)
		}
		_, err := a.create(`
apiVersion: storage.coffer.dev/v1alpha1
kind: BackupStorage
metadata: {name: same-place, namespace: NS}
spec:
  storage: {provider: s3, s3: {endpoint: "http://127.0.0.1:1", bucket: backups, prefix: /team-b}}`)
		refused(t, "a second storage on one location", err, "vbackupstorage.coffer.dev",
			"spec.storage: Forbidden: s3 127.0.0.1:1 bucket backups", `prefix "team-b" is already the location of BackupStorage `+other+"/private")

		// Once a repository lives on a storage, the storage may not move.
		a.admitted(`
apiVersion: storage.coffer.dev/v1alpha1
kind: Repository
metadata: {name: held, namespace: NS}
spec:
  appRef: {kind: PersistentVolumeClaim, name: data}
  storageRef: {name: local}
  path: held`)
		eventually(t, "the storage lists its repository", func() error {
			var bs storagev1alpha1.BackupStorage
			if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "local"}, &bs); err != nil {
				return err
			}
			if len(bs.Status.Repositories) == 0 {
				return fmt.Errorf("status.repositories is empty")
			}
			bs.Spec.Storage.Local.SubPath = "elsewhere"
			err := env.Client.Update(ctx, &bs, client.DryRunAll)
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.storage: Forbidden: may not change while 1 repositories are stored here") {
				return fmt.Errorf("moving a storage that holds a repository: %v", err)
			}
			return nil
		})
	})

	t.Run("Repository", func(t *testing.T) {
		_, err := a.create(`
apiVersion: storage.coffer.dev/v1alpha1
kind: Repository
metadata: {name: sneaky, namespace: NS}
spec:
  appRef: {kind: PersistentVolumeClaim, name: data}
  storageRef: {name: private, namespace: OTHER}
  path: sneaky`)
		refused(t, "a repository on another namespace's storage", err, "vrepository.coffer.dev",
			"spec.storageRef: Forbidden: BackupStorage "+other+`/private does not allow use from namespace "`+ns+`"`)
	})

	t.Run("RetentionPolicy", func(t *testing.T) {
		_, err := a.create(`
apiVersion: storage.coffer.dev/v1alpha1
kind: RetentionPolicy
metadata: {name: forever, namespace: NS}
spec: {maxRetentionPeriod: 99999999999y}`)
		refused(t, "a period that overflows", err, "vretentionpolicy.coffer.dev", "spec.maxRetentionPeriod: Invalid value", "too long")
	})

	t.Run("HookTemplate", func(t *testing.T) {
		_, err := a.create(`
apiVersion: core.coffer.dev/v1alpha1
kind: HookTemplate
metadata: {name: bad-selector, namespace: NS}
spec:
  action: {exec: {command: [sync]}}
  executor: {type: Pod, pod: {selector: "a/b/c=db"}}`)
		refused(t, "a pod selector that does not parse", err, "vhooktemplate.coffer.dev", "spec.executor.pod.selector: Invalid value")
	})

	t.Run("BackupVerifier", func(t *testing.T) {
		_, err := a.create(`
apiVersion: core.coffer.dev/v1alpha1
kind: BackupVerifier
metadata: {name: nightly, namespace: NS}
spec:
  scheduler: {schedule: "0 2 * *", timeZone: Atlantis/Poseidonis}`)
		refused(t, "a verifier schedule that does not parse", err, "vbackupverifier.coffer.dev",
			`spec.scheduler.schedule: Invalid value: "0 2 * *"`, `spec.scheduler.timeZone: Invalid value: "Atlantis/Poseidonis"`)
	})

	t.Run("BackupConfiguration", func(t *testing.T) {
		// No backend: the namespace's default storage and policy are filled in.
		a.admitted(`
apiVersion: core.coffer.dev/v1alpha1
kind: BackupConfiguration
metadata: {name: defaulted, namespace: NS}
spec:
  target: {kind: PersistentVolumeClaim, name: data}
  sessions:
  - name: daily
    scheduler: {schedule: "0 2 * * *"}
    repositories: [{name: defaulted, directory: defaulted}]`)
		var bc corev1alpha1.BackupConfiguration
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "defaulted"}, &bc); err != nil {
			t.Fatal(err)
		}
		if b := bc.Spec.Backends; len(b) != 1 || b[0].Name != "" || b[0].StorageRef == nil || *b[0].StorageRef != (shared.ObjectReference{Name: "local", Namespace: ns}) ||
			b[0].RetentionPolicy == nil || *b[0].RetentionPolicy != (shared.ObjectReference{Name: "keep", Namespace: ns}) {
			t.Errorf("backends %+v, want one unnamed backend on %s/local kept by %s/keep", b, ns, ns)
		}

		// In a namespace with no default storage, there is nothing to fill in.
		_, err := a.create(`
apiVersion: core.coffer.dev/v1alpha1
kind: BackupConfiguration
metadata: {name: nowhere, namespace: OTHER}
spec:
  target: {kind: PersistentVolumeClaim, name: data}
  sessions:
  - name: daily
    scheduler: {schedule: "0 2 * * *"}
    repositories: [{name: nowhere, directory: nowhere}]`)
		refused(t, "no backend and no default storage", err, "mbackupconfiguration.coffer.dev",
			"spec.backends[0].storageRef: Required value: name a BackupStorage: none is the default", `namespace "`+other+`"`)

		// Every problem at once: another namespace's storage, policy and hook template, a
		// target kind Coffer cannot back up, a schedule that does not parse.
		_, err = a.create(`
apiVersion: core.coffer.dev/v1alpha1
kind: BackupConfiguration
metadata: {name: trespass, namespace: NS}
spec:
  target: {kind: CronJob, name: data}
  backends:
  - name: theirs
    storageRef: {name: private, namespace: OTHER}
    retentionPolicy: {name: private, namespace: OTHER}
  sessions:
  - name: daily
    scheduler: {schedule: "0 25 * * *"}
    hooks:
      preBackup: [{name: flush, hookTemplate: {name: private, namespace: OTHER}}]
    repositories: [{name: trespass, backend: theirs, directory: trespass}]`)
		refused(t, "another namespace's objects", err, "vbackupconfiguration.coffer.dev",
			`spec.target.kind: Unsupported value: "CronJob"`,
			`spec.sessions[0].scheduler.schedule: Invalid value: "0 25 * * *"`,
			"spec.backends[0].storageRef: Forbidden: BackupStorage "+other+"/private does not allow use from namespace",
			"spec.backends[0].retentionPolicy: Forbidden: RetentionPolicy "+other+"/private",
			"spec.sessions[0].hooks.preBackup[0].hookTemplate: Forbidden: HookTemplate "+other+"/private")

		// A storage that does not exist yet is admitted, with a warning.
		a.admitted(`
apiVersion: core.coffer.dev/v1alpha1
kind: BackupConfiguration
metadata: {name: early, namespace: NS}
spec:
  target: {kind: PersistentVolumeClaim, name: data}
  backends: [{name: later, storageRef: {name: later}}]
  sessions:
  - name: daily
    scheduler: {schedule: "0 2 * * *"}
    repositories: [{name: early, backend: later, directory: early}]`)
		if !strings.Contains(strings.Join(w.got, "\n"), "spec.backends[0].storageRef: BackupStorage "+ns+"/later does not exist yet") {
			t.Errorf("warnings %q, want one about the missing storage", w.got)
		}

		// Repositories: a name already taken for another target, and a directory already used
		// on the same storage (by the Repository the first configuration's controller made).
		eventually(t, "the defaulted configuration's Repository", func() error {
			return env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "defaulted"}, &storagev1alpha1.Repository{})
		})
		_, err = a.create(`
apiVersion: core.coffer.dev/v1alpha1
kind: BackupConfiguration
metadata: {name: taken, namespace: NS}
spec:
  target: {kind: PersistentVolumeClaim, name: other-data}
  sessions:
  - name: daily
    scheduler: {schedule: "0 2 * * *"}
    repositories:
    - {name: held, directory: mine}
    - {name: mine, directory: defaulted}`)
		refused(t, "repositories that are another's", err, "vbackupconfiguration.coffer.dev",
			"spec.sessions[0].repositories[0].name: Forbidden: held is taken: Repository "+ns+"/held already exists for PersistentVolumeClaim "+ns+"/data",
			"spec.sessions[0].repositories[1].directory: Forbidden: defaulted is the directory of Repository "+ns+"/defaulted")
	})

	t.Run("BackupSession", func(t *testing.T) {
		_, err := a.create(`
apiVersion: core.coffer.dev/v1alpha1
kind: BackupSession
metadata: {name: orphan, namespace: NS}
spec: {invoker: {apiGroup: core.coffer.dev, kind: BackupConfiguration, name: missing}, session: daily}`)
		refused(t, "a session of a missing configuration", err, "vbackupsession.coffer.dev", `spec.invoker.name: Not found: "missing"`)
		_, err = a.create(`
apiVersion: core.coffer.dev/v1alpha1
kind: BackupSession
metadata: {name: unknown, namespace: NS}
spec: {invoker: {apiGroup: core.coffer.dev, kind: BackupConfiguration, name: defaulted}, session: hourly}`)
		refused(t, "a session the configuration does not have", err, "vbackupsession.coffer.dev",
			`spec.session: Unsupported value: "hourly": supported values: "daily"`)
	})

	t.Run("RestoreSession", func(t *testing.T) {
		a.admitted(`
apiVersion: storage.coffer.dev/v1alpha1
kind: Repository
metadata: {name: theirs, namespace: OTHER}
spec:
  appRef: {kind: PersistentVolumeClaim, name: data}
  storageRef: {name: private}
  path: theirs`)
		_, err := a.create(`
apiVersion: core.coffer.dev/v1alpha1
kind: RestoreSession
metadata: {name: steal, namespace: NS}
spec:
  target: {kind: Job, name: data}
  dataSource: {namespace: OTHER, repository: theirs, snapshot: latest}
  hooks:
    postRestore: [{name: flush, hookTemplate: {name: private, namespace: OTHER}}]`)
		refused(t, "a restore from another namespace's backups", err, "vrestoresession.coffer.dev",
			`spec.target.kind: Unsupported value: "Job"`,
			"spec.hooks.postRestore[0].hookTemplate: Forbidden",
			"spec.dataSource.namespace: Forbidden: BackupStorage "+other+`/private does not allow use from namespace "`+ns+`"`)

		rs := a.admitted(`
apiVersion: core.coffer.dev/v1alpha1
kind: RestoreSession
metadata: {name: mine, namespace: NS}
spec:
  target: {kind: PersistentVolumeClaim, name: data}
  dataSource: {repository: held, snapshot: latest}`)
		eventually(t, "a restore's data source stays", func() error {
			var got corev1alpha1.RestoreSession
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(rs), &got); err != nil {
				return err
			}
			got.Spec.DataSource.Repository = "defaulted"
			err := env.Client.Update(ctx, &got)
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.dataSource: Forbidden: is immutable") {
				return fmt.Errorf("changing a restore's data source: %v", err)
			}
			return nil
		})
	})

	t.Run("workload whose blueprint names a storage it may not use", func(t *testing.T) {
		a.admitted(`
apiVersion: core.coffer.dev/v1alpha1
kind: BackupBlueprint
metadata: {name: theirs, namespace: NS}
spec:
  subjects: [{apiVersion: v1, kind: PersistentVolumeClaim}]
  backupConfigurationTemplate:
    backends: [{name: theirs, storageRef: {name: private, namespace: OTHER}}]
    sessions:
    - name: daily
      scheduler: {schedule: "0 2 * * *"}
      repositories: [{name: "{{ .Workload.Name }}", backend: theirs, directory: "{{ .Workload.Name }}"}]`)
		pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "annotated",
			Annotations: map[string]string{"blueprint.coffer.dev/name": "theirs"}},
			Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}
		eventually(t, "the blueprint in the cache", func() error {
			err := c.Create(ctx, pvc.DeepCopy(), client.DryRunAll)
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(),
				"BackupBlueprint["+ns+"/theirs].spec.backupConfigurationTemplate.backends[0].storageRef: Forbidden: BackupStorage "+other+"/private does not allow use from namespace") {
				return fmt.Errorf("a claim whose blueprint uses another namespace's storage: %v", err)
			}
			return nil
		})
	})
}
