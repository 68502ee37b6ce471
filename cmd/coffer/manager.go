package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/zapr"
	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/cofferhq/coffer/api"
	"github.com/cofferhq/coffer/blueprints"
	"github.com/cofferhq/coffer/controllers"
	"github.com/cofferhq/coffer/controllers/executor"
	"github.com/cofferhq/coffer/controllers/webhookcert"
	"github.com/cofferhq/coffer/webhooks"
)

// managerOptions are the flags of `coffer manager`.
type managerOptions struct {
	kubeconfig              string
	metricsAddr             string
	probeAddr               string
	leaderElect             bool
	leaderElectionNamespace string
	leaderElectionID        string
	logFormat               string
	logLevel                string
	gracefulShutdown        time.Duration
	// apiQPS and apiBurst bound the manager's requests to the API server (client-side limiter).
	apiQPS                 float32
	apiBurst               int
	executorImage          string
	executorServiceAccount string
	executorClusterRole    string
	webhook                webhookOptions
	// allowRepeatedControllerNames is set only by tests that start several managers in one
	// process; controller-runtime refuses a second controller of the same name otherwise.
	allowRepeatedControllerNames bool
}

// webhookOptions configure the admission webhooks and their serving certificate.
type webhookOptions struct {
	// port 0 serves no webhooks (a manager run outside the cluster for development).
	port    int
	certDir string
	// certs is "self" (the manager keeps CA and certificate in secret and injects the CA) or
	// "external" (cert-manager or an admin provides tls.crt/tls.key in certDir and the caBundle).
	certs      string
	namespace  string
	service    string
	secret     string
	validating string
	mutating   string
	extraHosts []string
	// checkEvery is how often the certificate is checked (webhookcert.DefaultInterval when 0).
	checkEvery time.Duration
}

func newManagerCommand() *cobra.Command {
	o := managerOptions{}
	cmd := &cobra.Command{
		Use:   "manager",
		Short: "Run the Coffer operator: controllers and admission webhooks",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(o.logFormat, o.logLevel)
			if err != nil {
				return err
			}
			ctrl.SetLogger(log)
			klog.SetLogger(log)
			cfg, err := restConfig(o.kubeconfig)
			if err != nil {
				return err
			}
			mgr, err := newManager(cfg, o)
			if err != nil {
				return err
			}
			return mgr.Start(ctrl.SetupSignalHandler())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file; in-cluster config or $KUBECONFIG when empty")
	f.StringVar(&o.metricsAddr, "metrics-bind-address", ":8080", "address of the Prometheus metrics endpoint; 0 disables it")
	f.StringVar(&o.probeAddr, "health-probe-bind-address", ":8081", "address of /healthz and /readyz")
	f.BoolVar(&o.leaderElect, "leader-elect", true, "elect a leader so only one replica reconciles")
	f.StringVar(&o.leaderElectionNamespace, "leader-election-namespace", "", "namespace of the leader-election Lease; the pod's namespace when empty")
	f.StringVar(&o.leaderElectionID, "leader-election-id", "coffer-manager.coffer.dev", "name of the leader-election Lease")
	f.StringVar(&o.logFormat, "log-format", "json", "log format: json or console")
	f.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	f.DurationVar(&o.gracefulShutdown, "graceful-shutdown-timeout", 30*time.Second, "how long running reconciles may take to finish on shutdown")
	f.StringVar(&o.executorImage, "executor-image", os.Getenv("COFFER_EXECUTOR_IMAGE"),
		"image of backup, restore and trigger Jobs ($COFFER_EXECUTOR_IMAGE); the manager's own image, read from its Pod ($POD_NAMESPACE/$POD_NAME), when empty")
	f.StringVar(&o.executorServiceAccount, "executor-service-account", "coffer-executor", "ServiceAccount the executor Jobs run as, created in each namespace that has backups")
	f.StringVar(&o.executorClusterRole, "executor-cluster-role", "coffer-executor-role", "ClusterRole bound to the executor ServiceAccount (config/rbac/executor_role.yaml)")
	f.Float32Var(&o.apiQPS, "kube-api-qps", 50, "requests per second to the API server")
	f.IntVar(&o.apiBurst, "kube-api-burst", 100, "request burst to the API server")
	w := &o.webhook
	f.IntVar(&w.port, "webhook-port", 9443, "port of the admission webhook server; 0 serves no webhooks")
	f.StringVar(&w.certDir, "webhook-cert-dir", "/var/run/coffer/webhook-certs", "directory of the webhook server's tls.crt and tls.key (reloaded when they change)")
	f.StringVar(&w.certs, "webhook-certs", "self", "self: the manager makes, rotates and injects the webhook certificate; external: cert-manager or an admin provides it")
	f.StringVar(&w.namespace, "webhook-namespace", os.Getenv("POD_NAMESPACE"), "namespace of the webhook Service and certificate Secret ($POD_NAMESPACE)")
	f.StringVar(&w.service, "webhook-service", "coffer-webhook-service", "Service the API server calls the webhooks through (names the certificate)")
	f.StringVar(&w.secret, "webhook-secret", "coffer-webhook-server-cert", "Secret holding the webhook CA and serving certificate (--webhook-certs=self)")
	f.StringVar(&w.validating, "validating-webhook-configuration", "coffer-validating-webhook-configuration", "ValidatingWebhookConfiguration whose caBundle the manager sets (--webhook-certs=self)")
	f.StringVar(&w.mutating, "mutating-webhook-configuration", "coffer-mutating-webhook-configuration", "MutatingWebhookConfiguration whose caBundle the manager sets (--webhook-certs=self)")
	f.StringSliceVar(&w.extraHosts, "webhook-cert-hosts", nil, "extra names or addresses for the serving certificate")
	f.DurationVar(&w.checkEvery, "webhook-cert-check-interval", webhookcert.DefaultInterval, "how often the certificate is checked and renewed when a third of its life is left")
	return cmd
}

// newLogger builds the zap-backed logr.Logger every component logs through.
func newLogger(format, level string) (logr.Logger, error) {
	var lvl zapcore.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return logr.Discard(), fmt.Errorf("--log-level: %w", err)
	}
	var cfg zap.Config
	switch format {
	case "json":
		cfg = zap.NewProductionConfig()
		cfg.EncoderConfig.TimeKey = "ts"
		cfg.EncoderConfig.EncodeTime = zapcore.RFC3339NanoTimeEncoder
	case "console":
		cfg = zap.NewDevelopmentConfig()
		cfg.EncoderConfig.EncodeLevel = zapcore.CapitalColorLevelEncoder
	default:
		return logr.Discard(), fmt.Errorf("--log-format: %q is neither json nor console", format)
	}
	cfg.Level = zap.NewAtomicLevelAt(lvl)
	cfg.Sampling = nil
	z, err := cfg.Build()
	if err != nil {
		return logr.Discard(), err
	}
	return zapr.NewLogger(z), nil
}

func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig != "" {
		return clientcmd.BuildConfigFromFlags("", kubeconfig)
	}
	return ctrl.GetConfig()
}

// newScheme knows the built-in kinds and every Coffer kind.
func newScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, err
	}
	if err := api.AddToScheme(s); err != nil {
		return nil, err
	}
	return s, nil
}

// newManager builds the manager with probes, metrics and leader election, and registers every
// controller and webhook explicitly.
func newManager(cfg *rest.Config, o managerOptions) (manager.Manager, error) {
	// client-go's default of 5 requests/s (20 with ctrl.GetConfig) makes a thousand workloads'
	// configurations, repositories, CronJobs and sessions take many minutes to create.
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = 50, 100
	if o.apiQPS > 0 {
		cfg.QPS = o.apiQPS
	}
	if o.apiBurst > 0 {
		cfg.Burst = o.apiBurst
	}
	scheme, err := newScheme()
	if err != nil {
		return nil, err
	}
	var webhookServer webhook.Server
	if o.webhook.port != 0 {
		webhookServer = webhook.NewServer(webhook.Options{Port: o.webhook.port, CertDir: o.webhook.certDir})
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        scheme,
		WebhookServer:                 webhookServer,
		Controller:                    config.Controller{SkipNameValidation: ptr.To(o.allowRepeatedControllerNames)},
		Metrics:                       metricsserver.Options{BindAddress: o.metricsAddr},
		HealthProbeBindAddress:        o.probeAddr,
		LeaderElection:                o.leaderElect,
		LeaderElectionID:              o.leaderElectionID,
		LeaderElectionNamespace:       o.leaderElectionNamespace,
		LeaderElectionReleaseOnCancel: true,
		GracefulShutdownTimeout:       &o.gracefulShutdown,
	})
	if err != nil {
		return nil, fmt.Errorf("creating manager: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return nil, err
	}
	if err := mgr.AddReadyzCheck("readyz", readyWhenCacheSynced(mgr)); err != nil {
		return nil, err
	}
	image, err := executorImage(cfg, scheme, o.executorImage)
	if err != nil {
		return nil, err
	}
	if err := setupControllers(mgr, controllers.Options{
		OperatorVersion: version,
		RESTConfig:      cfg,
		Executor:        executor.Config{Image: image, ServiceAccount: o.executorServiceAccount},
		Identity:        executor.Identity{ServiceAccount: o.executorServiceAccount, ClusterRole: o.executorClusterRole},
		Selection:       selectionPolicy(o.webhook.namespace),
	}); err != nil {
		return nil, err
	}
	if o.webhook.port != 0 {
		if err := setupWebhooks(mgr, cfg, scheme, o.webhook); err != nil {
			return nil, err
		}
	}
	return mgr, nil
}

// selectionPolicy: blueprints in the manager's own namespace may select workloads in every
// namespace their usage policy admits; anywhere else only in their own namespace. The webhook
// and the auto-backup controller get the same policy, so they resolve alike.
func selectionPolicy(managerNamespace string) blueprints.SelectionPolicy {
	if managerNamespace == "" {
		return blueprints.SelectionPolicy{}
	}
	return blueprints.SelectionPolicy{TrustedNamespaces: []string{managerNamespace}}
}

// setupWebhooks registers the webhooks and, with --webhook-certs=self, makes sure the serving
// certificate exists before the server starts, then keeps it fresh.
func setupWebhooks(mgr manager.Manager, cfg *rest.Config, scheme *runtime.Scheme, o webhookOptions) error {
	switch o.certs {
	case "external":
	case "self":
		if o.namespace == "" {
			return fmt.Errorf("--webhook-namespace is required with --webhook-certs=self outside a Pod (or set POD_NAMESPACE)")
		}
		c, err := client.New(cfg, client.Options{Scheme: scheme})
		if err != nil {
			return err
		}
		rot := &webhookcert.Rotator{
			Client:             c,
			Secret:             client.ObjectKey{Namespace: o.namespace, Name: o.secret},
			Hosts:              webhookcert.Hosts(o.service, o.namespace, o.extraHosts...),
			CertDir:            o.certDir,
			ValidatingWebhooks: []string{o.validating},
			MutatingWebhooks:   []string{o.mutating},
			Interval:           o.checkEvery,
			Log:                mgr.GetLogger().WithName("webhook-certificate"),
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := rot.Ensure(ctx); err != nil && !errors.Is(err, webhookcert.ErrConfigurationMissing) {
			return err
		}
		if err := mgr.Add(rot); err != nil {
			return err
		}
	default:
		return fmt.Errorf("--webhook-certs: %q is neither self nor external", o.certs)
	}
	return webhooks.Setup(mgr, webhooks.Options{Selection: selectionPolicy(o.namespace)})
}

// readyWhenCacheSynced reports ready once the informer caches have synced, so a rolling update
// does not route webhook traffic to a replica that cannot yet read objects.
func readyWhenCacheSynced(mgr manager.Manager) healthz.Checker {
	return func(req *http.Request) error {
		ctx, cancel := context.WithTimeout(req.Context(), time.Second)
		defer cancel()
		if !mgr.GetCache().WaitForCacheSync(ctx) {
			return fmt.Errorf("informer caches not synced")
		}
		return nil
	}
}

// setupControllers registers each reconciler and webhook with the manager.
func setupControllers(mgr manager.Manager, o controllers.Options) error {
	return controllers.Setup(context.Background(), mgr, o)
}

// executorImage is the flag's value, else the image of the manager's own container: the same
// binary runs the executor, so Jobs always match the operator that created them.
func executorImage(cfg *rest.Config, scheme *runtime.Scheme, flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	ns, name := os.Getenv("POD_NAMESPACE"), os.Getenv("POD_NAME")
	if ns == "" || name == "" {
		return "", fmt.Errorf("--executor-image is required outside a Pod (or set POD_NAMESPACE and POD_NAME)")
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return "", err
	}
	var pod corev1.Pod
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &pod); err != nil {
		return "", fmt.Errorf("reading the manager's own Pod for its image (or pass --executor-image): %w", err)
	}
	for _, ct := range pod.Spec.Containers {
		if ct.Name == "manager" {
			return ct.Image, nil
		}
	}
	return pod.Spec.Containers[0].Image, nil
}
