package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	"github.com/cofferhq/coffer/api/shared"
	storagev1alpha1 "github.com/cofferhq/coffer/api/storage/v1alpha1"
	"github.com/cofferhq/coffer/controllers/webhookcert"
	"github.com/cofferhq/coffer/test/envtest"
)

// installWebhooks creates config/webhook's configurations as deployed, except that the API
// server calls 127.0.0.1:port (envtest has no Services) and no caBundle is set: the manager must
// inject it. It returns the validating and the mutating configuration's names.
func installWebhooks(t testing.TB, env *envtest.Env, port int) (validating, mutating string) {
	t.Helper()
	objs, err := envtest.LoadObjects(filepath.Join(env.RepoRoot, "config", "webhook"))
	if err != nil {
		t.Fatal(err)
	}
	url := func(cc *admissionregistrationv1.WebhookClientConfig) {
		cc.URL = ptr.To(fmt.Sprintf("https://127.0.0.1:%d%s", port, *cc.Service.Path))
		cc.Service = nil
	}
	for _, u := range objs {
		switch u.GetKind() {
		case "ValidatingWebhookConfiguration":
			var cfg admissionregistrationv1.ValidatingWebhookConfiguration
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &cfg); err != nil {
				t.Fatal(err)
			}
			cfg.Name, validating = "coffer-validating-webhook-configuration", "coffer-validating-webhook-configuration"
			for i := range cfg.Webhooks {
				url(&cfg.Webhooks[i].ClientConfig)
			}
			if err := env.Client.Create(context.Background(), &cfg); err != nil {
				t.Fatal(err)
			}
		case "MutatingWebhookConfiguration":
			var cfg admissionregistrationv1.MutatingWebhookConfiguration
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &cfg); err != nil {
				t.Fatal(err)
			}
			cfg.Name, mutating = "coffer-mutating-webhook-configuration", "coffer-mutating-webhook-configuration"
			for i := range cfg.Webhooks {
				url(&cfg.Webhooks[i].ClientConfig)
			}
			if err := env.Client.Create(context.Background(), &cfg); err != nil {
				t.Fatal(err)
			}
		}
	}
	if validating == "" || mutating == "" {
		t.Fatal("config/webhook lacks a validating or a mutating configuration")
	}
	return validating, mutating
}

// servedSerial is the serial number of the certificate the webhook server presents.
func servedSerial(port int) (string, error) {
	conn, err := tls.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		return "", err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.String(), nil
}

// startWebhookManager installs config/webhook and runs `coffer manager` with self-made
// certificates against it until the test ends; it returns the webhook port.
func startWebhookManager(t testing.TB, env *envtest.Env, ns string, checkEvery time.Duration) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	valName, mutName := installWebhooks(t, env, port)
	o := managerOptions{
		metricsAddr: "0", probeAddr: "0", gracefulShutdown: 5 * time.Second, allowRepeatedControllerNames: true,
		executorImage: "coffer.dev/coffer:test", executorServiceAccount: "coffer-executor", executorClusterRole: "coffer-executor-role",
		webhook: webhookOptions{port: port, certDir: t.TempDir(), certs: "self", namespace: ns, service: "coffer-webhook-service",
			secret: "coffer-webhook-server-cert", validating: valName, mutating: mutName, extraHosts: []string{"127.0.0.1"}, checkEvery: checkEvery},
	}
	mgr, err := newManager(env.Config, o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return port
}

// TestWebhooks runs `coffer manager` with its webhooks against a real API server: the manager
// makes its certificate and injects the CA, the API server then rejects a bad BackupBlueprint and
// a bad BackupVerifier naming every problem, admits good ones, and keeps working when the
// certificate is rotated.
func TestWebhooks(t *testing.T) {
	env := envtest.Start(t)
	ns := env.Namespace(t)
	port := startWebhookManager(t, env, ns, 200*time.Millisecond)
	ctx := context.Background()
	cfgName := "coffer-validating-webhook-configuration"

	// newManager made the certificate before the server started and injected its CA.
	var secret corev1.Secret
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "coffer-webhook-server-cert"}, &secret); err != nil {
		t.Fatal(err)
	}
	var cfg admissionregistrationv1.ValidatingWebhookConfiguration
	if err := env.Client.Get(ctx, client.ObjectKey{Name: cfgName}, &cfg); err != nil {
		t.Fatal(err)
	}
	for _, w := range cfg.Webhooks {
		if string(w.ClientConfig.CABundle) != string(secret.Data[webhookcert.KeyCACert]) {
			t.Fatalf("webhook %s caBundle is not the Secret's CA", w.Name)
		}
	}

	badBlueprint := &corev1alpha1.BackupBlueprint{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "bad"},
		Spec: corev1alpha1.BackupBlueprintSpec{
			Selector:  "object.metadata.name +",
			Variables: []corev1alpha1.BlueprintVariable{{Name: "keep", Type: corev1alpha1.VariableInt, Default: ptr.To("seven")}},
			BackupConfigurationTemplate: corev1alpha1.BackupConfigurationTemplate{Sessions: []corev1alpha1.Session{{
				SessionConfig: corev1alpha1.SessionConfig{Name: "daily", Scheduler: &shared.SchedulerSpec{Schedule: "{{ .Variables.schedule }}"}},
				Repositories:  []corev1alpha1.RepositoryInfo{{Name: "{{ .Workload.Name }}", Backend: "local", Directory: "x"}},
			}}},
		}}
	var rejected error
	eventually(t, "the webhook answers", func() error {
		rejected = env.Client.Create(ctx, badBlueprint.DeepCopy())
		if !apierrors.IsInvalid(rejected) {
			return fmt.Errorf("create of a bad blueprint: %v", rejected)
		}
		return nil
	})
	for _, want := range []string{`admission webhook "vbackupblueprint.coffer.dev" denied`, "spec.selector", `spec.variables[0].default: Invalid value: "seven"`,
		"spec.backupConfigurationTemplate.sessions[0].scheduler.schedule"} {
		if !strings.Contains(rejected.Error(), want) {
			t.Errorf("rejection %q does not say %q", rejected, want)
		}
	}

	badVerifier := &corev1alpha1.BackupVerifier{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "bad"},
		Spec: corev1alpha1.BackupVerifierSpec{Conditions: []corev1alpha1.VerificationCondition{
			{Name: "restored", Expression: "restore.phase == 'Succeeded'"},
			{Name: "typo", Expression: "restore.phase == "},
			{Name: "notbool", Expression: "'yes'"},
		}}}
	err := env.Client.Create(ctx, badVerifier)
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.conditions[1].expression") || !strings.Contains(err.Error(), "spec.conditions[2].expression") ||
		strings.Contains(err.Error(), "spec.conditions[0]") {
		t.Errorf("bad verifier: %v; want conditions 1 and 2 named, and only them", err)
	}

	good := &corev1alpha1.BackupVerifier{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "good"},
		Spec: corev1alpha1.BackupVerifierSpec{Conditions: []corev1alpha1.VerificationCondition{{Name: "restored", Expression: "restore.phase == 'Succeeded'"}}}}
	if err := env.Client.Create(ctx, good); err != nil {
		t.Fatalf("a good verifier was refused: %v", err)
	}

	// At most one default BackupStorage and RetentionPolicy per namespace.
	dir := t.TempDir()
	storage := func(name string) *storagev1alpha1.BackupStorage {
		return &storagev1alpha1.BackupStorage{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: storagev1alpha1.BackupStorageSpec{Default: true, Storage: storagev1alpha1.Backend{Provider: storagev1alpha1.ProviderLocal,
				Local: &storagev1alpha1.LocalSpec{MountPath: dir, SubPath: name, VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: dir}}}}}}
	}
	policy := func(name string) *storagev1alpha1.RetentionPolicy {
		return &storagev1alpha1.RetentionPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: storagev1alpha1.RetentionPolicySpec{Default: true, MaxRetentionPeriod: "30d"}}
	}
	for _, pair := range [][2]client.Object{{storage("first"), storage("second")}, {policy("first"), policy("second")}} {
		if err := env.Client.Create(ctx, pair[0]); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the first default in the cache", func() error {
			err := env.Client.Create(ctx, pair[1], client.DryRunAll)
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.default: Forbidden") || !strings.Contains(err.Error(), "first is already the default") {
				return fmt.Errorf("a second default %T: %v", pair[1], err)
			}
			return nil
		})
	}

	// Rotation: a serving certificate two thirds through its life is renewed under the same CA;
	// the server picks the new one up and the API server keeps trusting it.
	before, err := servedSerial(port)
	if err != nil {
		t.Fatal(err)
	}
	old, err := webhookcert.Renew(webhookcert.Bundle{CACert: secret.Data[webhookcert.KeyCACert], CAKey: secret.Data[webhookcert.KeyCAKey]},
		webhookcert.Hosts("coffer-webhook-service", ns, "127.0.0.1"), time.Now().Add(-webhookcert.ServeLifetime*3/4))
	if err != nil {
		t.Fatal(err)
	}
	secret.Data[webhookcert.KeyTLSCert], secret.Data[webhookcert.KeyTLSKey] = old.Cert, old.Key
	if err := env.Client.Update(ctx, &secret); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the certificate rotated and served", func() error {
		now, err := servedSerial(port)
		if err != nil {
			return err
		}
		if now == before {
			return fmt.Errorf("still serving serial %s", now)
		}
		var s corev1.Secret
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(&secret), &s); err != nil {
			return err
		}
		if string(s.Data[webhookcert.KeyTLSCert]) == string(old.Cert) {
			return fmt.Errorf("the Secret still holds the old certificate")
		}
		return nil
	})
	if err := env.Client.Create(ctx, badBlueprint.DeepCopy()); !apierrors.IsInvalid(err) {
		t.Fatalf("after rotation a bad blueprint gives %v, want Invalid from the webhook", err)
	}
}

// warningsOf collects the warnings the API server returns.
type warningsOf struct{ got []string }

func (w *warningsOf) HandleWarningHeaderWithContext(_ context.Context, _ int, _ string, text string) {
	w.got = append(w.got, text)
}

// TestWorkloadMutator: through a real API server, a Deployment that names a blueprint wrongly or
// sets a variable of the wrong type is rejected naming the annotation; one matched by a
// blueprint's selector is stamped with the blueprint and its generation; a server-side dry run
// previews the BackupConfiguration; a Deployment no blueprint applies to is left alone.
func TestWorkloadMutator(t *testing.T) {
	env := envtest.Start(t)
	ns := env.Namespace(t)
	startWebhookManager(t, env, ns, 0)
	ctx := context.Background()

	bp := &corev1alpha1.BackupBlueprint{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "daily"},
		Spec: corev1alpha1.BackupBlueprintSpec{
			Subjects:  []corev1alpha1.Subject{{APIVersion: "apps/v1", Kind: "Deployment"}},
			Selector:  "object.metadata.?labels.?backup.orValue('') == 'daily'",
			Variables: []corev1alpha1.BlueprintVariable{{Name: "keep", Type: corev1alpha1.VariableInt, Default: ptr.To("7")}},
			BackupConfigurationTemplate: corev1alpha1.BackupConfigurationTemplate{
				Backends: []corev1alpha1.BackendReference{{Name: "local", StorageRef: &shared.ObjectReference{Name: "local"}}},
				Sessions: []corev1alpha1.Session{{
					SessionConfig: corev1alpha1.SessionConfig{Name: "daily", Scheduler: &shared.SchedulerSpec{Schedule: "0 2 * * *"}},
					Addon:         &corev1alpha1.AddonInfo{Name: "workload-addon", Tasks: []corev1alpha1.TaskReference{{Name: "logical-backup"}}},
					Repositories:  []corev1alpha1.RepositoryInfo{{Name: "{{ .Workload.Name }}", Backend: "local", Directory: "{{ .Namespace.Name }}/{{ .Workload.Name }}"}},
				}}},
		}}
	eventually(t, "the blueprint admitted", func() error { return env.Client.Create(ctx, bp) })

	deployment := func(name string, labels, annotations map[string]string) *appsv1.Deployment {
		return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels, Annotations: annotations},
			Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app"}}}}}}
	}

	// Selected by the blueprint's selector, no annotation needed.
	var selected *appsv1.Deployment
	eventually(t, "the selected Deployment stamped", func() error {
		selected = deployment("selected", map[string]string{"backup": "daily"}, nil)
		_ = env.Client.Delete(ctx, selected)
		if err := env.Client.Create(ctx, selected); err != nil {
			return err
		}
		if got, want := selected.Annotations[shared.AnnotationBlueprintResolved], ns+"/daily@1"; got != want {
			return fmt.Errorf("blueprint-resolved %q, want %q", got, want)
		}
		return nil
	})

	// Named wrongly, and a variable of the wrong type: every problem, with its annotation.
	err := env.Client.Create(ctx, deployment("named", nil, map[string]string{shared.AnnotationBlueprintName: "nope"}))
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "metadata.annotations[blueprint.coffer.dev/name]") || !strings.Contains(err.Error(), ns+"/nope") {
		t.Errorf("a Deployment naming a missing blueprint: %v", err)
	}
	err = env.Client.Create(ctx, deployment("typed", nil, map[string]string{shared.AnnotationBlueprintName: "daily", shared.VariableAnnotationPrefix + "keep": "many"}))
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "metadata.annotations[variables.coffer.dev/keep]") {
		t.Errorf("a Deployment with a mistyped variable: %v", err)
	}

	// Nothing applies: no annotation, no change.
	plain := deployment("plain", nil, nil)
	if err := env.Client.Create(ctx, plain); err != nil {
		t.Fatal(err)
	}
	if _, ok := plain.Annotations[shared.AnnotationBlueprintResolved]; ok {
		t.Errorf("a Deployment no blueprint applies to was stamped: %v", plain.Annotations)
	}

	// A server-side dry run previews the configuration and creates nothing.
	w := &warningsOf{}
	cfg := rest.CopyConfig(env.Config)
	cfg.WarningHandlerWithContext = w
	dry, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	if err := dry.Create(ctx, deployment("preview", map[string]string{"backup": "daily"}, nil), client.DryRunAll); err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(w.got, func(s string) bool {
		return strings.Contains(s, "would create BackupConfiguration") && strings.Contains(s, "preview on local at "+ns+"/preview")
	}) {
		t.Errorf("dry-run warnings %q, want a preview of the BackupConfiguration", w.got)
	}
}
