package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	"github.com/cofferhq/coffer/api/shared"
	"github.com/cofferhq/coffer/controllers/webhookcert"
	"github.com/cofferhq/coffer/test/envtest"
)

// installWebhooks creates config/webhook's ValidatingWebhookConfiguration as deployed, except
// that the API server calls 127.0.0.1:port (envtest has no Services) and no caBundle is set:
// the manager must inject it.
func installWebhooks(t *testing.T, env *envtest.Env, port int) string {
	t.Helper()
	objs, err := envtest.LoadObjects(filepath.Join(env.RepoRoot, "config", "webhook"))
	if err != nil {
		t.Fatal(err)
	}
	const name = "coffer-validating-webhook-configuration"
	for _, u := range objs {
		if u.GetKind() != "ValidatingWebhookConfiguration" {
			continue
		}
		var cfg admissionregistrationv1.ValidatingWebhookConfiguration
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &cfg); err != nil {
			t.Fatal(err)
		}
		cfg.Name = name
		for i := range cfg.Webhooks {
			cc := &cfg.Webhooks[i].ClientConfig
			cc.URL = ptr.To(fmt.Sprintf("https://127.0.0.1:%d%s", port, *cc.Service.Path))
			cc.Service = nil
		}
		if err := env.Client.Create(context.Background(), &cfg); err != nil {
			t.Fatal(err)
		}
		return name
	}
	t.Fatal("config/webhook has no ValidatingWebhookConfiguration")
	return ""
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

// TestWebhooks runs `coffer manager` with its webhooks against a real API server: the manager
// makes its certificate and injects the CA, the API server then rejects a bad BackupBlueprint and
// a bad BackupVerifier naming every problem, admits good ones, and keeps working when the
// certificate is rotated.
func TestWebhooks(t *testing.T) {
	env := envtest.Start(t)
	ns := env.Namespace(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cfgName := installWebhooks(t, env, port)

	o := managerOptions{
		metricsAddr: "0", probeAddr: "0", gracefulShutdown: 5 * time.Second, allowRepeatedControllerNames: true,
		executorImage: "coffer.dev/coffer:test", executorServiceAccount: "coffer-executor", executorClusterRole: "coffer-executor-role",
		webhook: webhookOptions{port: port, certDir: t.TempDir(), certs: "self", namespace: ns, service: "coffer-webhook-service",
			secret: "coffer-webhook-server-cert", validating: cfgName, extraHosts: []string{"127.0.0.1"}, checkEvery: 200 * time.Millisecond},
	}
	mgr, err := newManager(env.Config, o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	defer func() {
		cancel()
		<-done
	}()

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
	err = env.Client.Create(ctx, badVerifier)
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.conditions[1].expression") || !strings.Contains(err.Error(), "spec.conditions[2].expression") ||
		strings.Contains(err.Error(), "spec.conditions[0]") {
		t.Errorf("bad verifier: %v; want conditions 1 and 2 named, and only them", err)
	}

	good := &corev1alpha1.BackupVerifier{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "good"},
		Spec: corev1alpha1.BackupVerifierSpec{Conditions: []corev1alpha1.VerificationCondition{{Name: "restored", Expression: "restore.phase == 'Succeeded'"}}}}
	if err := env.Client.Create(ctx, good); err != nil {
		t.Fatalf("a good verifier was refused: %v", err)
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
