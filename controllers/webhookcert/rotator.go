package webhookcert

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/go-logr/logr"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cofferhq/coffer/api/shared"
)

// ErrConfigurationMissing: a webhook configuration to inject into does not exist (yet). The
// certificate files are written all the same; Start retries the injection a minute later.
var ErrConfigurationMissing = errors.New("webhook configuration not found")

// DefaultInterval is how often a replica checks the certificate: rotation happens a third of a
// lifetime early, so an hour is far more often than needed and cheap.
const DefaultInterval = time.Hour

// +kubebuilder:rbac:groups="",namespace=system,resources=secrets,verbs=get;create;update
// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=validatingwebhookconfigurations;mutatingwebhookconfigurations,verbs=get;list;watch;update

// Rotator keeps the webhook certificate. Every replica runs one: each serves webhooks from its
// own certificate directory, and they agree through the Secret.
type Rotator struct {
	// Client reads and writes directly (Ensure runs before the manager's caches start).
	Client client.Client
	// Secret holds the bundle.
	Secret client.ObjectKey
	// Hosts are the names the serving certificate must carry (Hosts builds them).
	Hosts []string
	// CertDir is the webhook server's certificate directory (tls.crt, tls.key).
	CertDir string
	// ValidatingWebhooks and MutatingWebhooks name the configurations whose caBundle is set.
	ValidatingWebhooks, MutatingWebhooks []string
	Interval                             time.Duration
	Log                                  logr.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

func (r *Rotator) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Ensure makes the Secret hold a fresh bundle, renewing it when needed, writes the serving pair
// into CertDir and injects the CA into the webhook configurations. Replicas may run it at once:
// the Secret is written with optimistic concurrency, and the loser uses the winner's bundle.
func (r *Rotator) Ensure(ctx context.Context) error {
	var b Bundle
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var err error
		b, err = r.ensureSecret(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("webhook certificate Secret %s: %w", r.Secret, err)
	}
	if err := writeFileAtomic(filepath.Join(r.CertDir, KeyTLSCert), b.Cert); err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(r.CertDir, KeyTLSKey), b.Key); err != nil {
		return err
	}
	return r.inject(ctx, b.CACert)
}

func (r *Rotator) ensureSecret(ctx context.Context) (Bundle, error) {
	var sec corev1.Secret
	err := r.Client.Get(ctx, r.Secret, &sec)
	if err != nil && !apierrors.IsNotFound(err) {
		return Bundle{}, err
	}
	found := err == nil
	current := bundleOf(sec.Data)
	fresh, why := current.Fresh(r.Hosts, r.now())
	if fresh {
		return current, nil
	}
	next, err := Renew(current, r.Hosts, r.now())
	if err != nil {
		return Bundle{}, err
	}
	if !found {
		sec = corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: r.Secret.Namespace, Name: r.Secret.Name,
			Labels: map[string]string{shared.LabelManagedBy: shared.ManagedByCoffer}}, Type: corev1.SecretTypeOpaque}
		sec.Data = next.data()
		if err := r.Client.Create(ctx, &sec); err != nil {
			if apierrors.IsAlreadyExists(err) {
				// Another replica created it first: use that one.
				return Bundle{}, apierrors.NewConflict(corev1.Resource("secrets"), r.Secret.Name, err)
			}
			return Bundle{}, err
		}
		r.Log.Info("created the webhook certificate", "secret", r.Secret.String())
		return next, nil
	}
	sec.Data = next.data()
	if err := r.Client.Update(ctx, &sec); err != nil {
		return Bundle{}, err
	}
	r.Log.Info("rotated the webhook certificate", "secret", r.Secret.String(), "reason", why)
	return next, nil
}

func (r *Rotator) inject(ctx context.Context, ca []byte) error {
	for _, name := range r.ValidatingWebhooks {
		cfg := &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: name}}
		err := r.injectInto(ctx, cfg, ca, func() (out []*admissionregistrationv1.WebhookClientConfig) {
			for i := range cfg.Webhooks {
				out = append(out, &cfg.Webhooks[i].ClientConfig)
			}
			return out
		})
		if err != nil {
			return fmt.Errorf("injecting the CA into ValidatingWebhookConfiguration %s: %w", name, err)
		}
	}
	for _, name := range r.MutatingWebhooks {
		cfg := &admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: name}}
		err := r.injectInto(ctx, cfg, ca, func() (out []*admissionregistrationv1.WebhookClientConfig) {
			for i := range cfg.Webhooks {
				out = append(out, &cfg.Webhooks[i].ClientConfig)
			}
			return out
		})
		if err != nil {
			return fmt.Errorf("injecting the CA into MutatingWebhookConfiguration %s: %w", name, err)
		}
	}
	return nil
}

// injectInto sets ca as the caBundle of every webhook of cfg (re-read on each try), writing
// only when one differs.
func (r *Rotator) injectInto(ctx context.Context, cfg client.Object, ca []byte, clientConfigs func() []*admissionregistrationv1.WebhookClientConfig) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := r.Client.Get(ctx, client.ObjectKeyFromObject(cfg), cfg); err != nil {
			if apierrors.IsNotFound(err) {
				return ErrConfigurationMissing
			}
			return err
		}
		changed := false
		for _, c := range clientConfigs() {
			if !sameCA(c.CABundle, ca) {
				c.CABundle, changed = ca, true
			}
		}
		if !changed {
			return nil
		}
		return r.Client.Update(ctx, cfg)
	})
}

// Start checks the certificate every Interval until ctx ends; a failed check is logged and
// retried a minute later.
func (r *Rotator) Start(ctx context.Context) error {
	interval := r.Interval
	if interval <= 0 {
		interval = DefaultInterval
	}
	for {
		wait := interval
		if err := r.Ensure(ctx); err != nil {
			r.Log.Error(err, "keeping the webhook certificate")
			wait = min(interval, time.Minute)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// NeedLeaderElection is false: every replica serves webhooks, so every replica keeps its files.
func (r *Rotator) NeedLeaderElection() bool { return false }

func writeFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	if old, err := os.ReadFile(path); err == nil && string(old) == string(data) {
		return nil
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
