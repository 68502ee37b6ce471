package envtest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/cofferhq/coffer/api"
)

// ModulePath is the module whose go.mod marks the repository root.
const ModulePath = "github.com/cofferhq/coffer"

// Env is a running control plane with Coffer's CRDs installed.
//
// The API server holds a create of a custom resource for 2 s when the kind's CRD was established
// less than 2 s before (customresource_handler.go, for HA API servers), so the first create of
// a package's tests usually takes about 2 s; later ones take milliseconds.
type Env struct {
	// Config connects as a cluster admin.
	Config *rest.Config
	// Client is a controller-runtime client over Scheme; it reads straight from the API server.
	Client client.Client
	// Scheme has client-go's kinds and Coffer's.
	Scheme *runtime.Scheme
	// Environment is the underlying controller-runtime environment, for what this package does
	// not wrap (the webhook server's host, port and certificates, extra users).
	Environment *envtest.Environment
	// RepoRoot is the directory holding Coffer's go.mod.
	RepoRoot string
}

// Option changes how Start and StartMain start the control plane.
type Option func(*options)

type options struct {
	webhooks envtest.WebhookInstallOptions
	logger   *logr.Logger
}

// WithWebhookInstallOptions installs webhook configurations (and prepares serving certificates)
// once the CRDs are in, as envtest.Environment.WebhookInstallOptions does.
func WithWebhookInstallOptions(w envtest.WebhookInstallOptions) Option {
	return func(o *options) { o.webhooks = w }
}

// WithLogger sets controller-runtime's global logger. Without it the global logger is set to
// discard, so controller-runtime does not complain that it was never set.
func WithLogger(l logr.Logger) Option {
	return func(o *options) { o.logger = &l }
}

// StartMain starts a control plane for a whole test package; call it from TestMain. The returned
// function stops the control plane and reports a failure to stop on stderr:
//
//	func TestMain(m *testing.M) {
//		env, stop, err := envtest.StartMain()
//		if err != nil {
//			fmt.Fprintln(os.Stderr, err)
//			os.Exit(1)
//		}
//		testEnv = env
//		code := m.Run()
//		stop()
//		os.Exit(code)
//	}
func StartMain(opts ...Option) (*Env, func(), error) {
	e, err := start(opts)
	if err != nil {
		return nil, nil, err
	}
	stop := func() {
		if err := e.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "envtest: stopping the control plane: %v\n", err)
		}
	}
	return e, stop, nil
}

// Start starts a control plane for one test and stops it when the test ends.
func Start(tb testing.TB, opts ...Option) *Env {
	tb.Helper()
	e, err := start(opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := e.Stop(); err != nil {
			tb.Errorf("envtest: stopping the control plane: %v", err)
		}
	})
	return e
}

// Stop stops the API server and etcd and removes their data.
func (e *Env) Stop() error {
	return e.Environment.Stop()
}

func start(opts []Option) (*Env, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger != nil {
		logf.SetLogger(*o.logger)
	} else {
		logf.SetLogger(logr.Discard())
	}

	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	assets, err := AssetsDir(root)
	if err != nil {
		return nil, err
	}
	scheme, err := NewScheme()
	if err != nil {
		return nil, err
	}

	te := &envtest.Environment{
		Scheme:                scheme,
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: assets,
		WebhookInstallOptions: o.webhooks,
		// An upper bound for a loaded machine; the control plane is usually up in a few seconds.
		ControlPlaneStartTimeout: time.Minute,
	}
	// envtest looks at KUBEBUILDER_ASSETS before BinaryAssetsDirectory; point both at the same
	// binaries so what was checked is what runs.
	te.ControlPlane.GetAPIServer().Path = filepath.Join(assets, "kube-apiserver")
	te.ControlPlane.Etcd = &envtest.Etcd{Path: filepath.Join(assets, "etcd")}

	cfg, err := te.Start()
	if err != nil {
		// Start may fail after the processes are up (installing CRDs, webhooks).
		_ = te.Stop()
		return nil, fmt.Errorf("envtest: starting kube-apiserver and etcd from %s: %w", assets, err)
	}
	if len(te.CRDs) == 0 {
		_ = te.Stop()
		return nil, fmt.Errorf("envtest: no CRDs found in %s", te.CRDDirectoryPaths[0])
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		_ = te.Stop()
		return nil, fmt.Errorf("envtest: building a client: %w", err)
	}
	return &Env{Config: cfg, Client: c, Scheme: scheme, Environment: te, RepoRoot: root}, nil
}

// NewScheme returns a scheme with client-go's kinds and every Coffer kind.
func NewScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, fmt.Errorf("envtest: adding client-go kinds to the scheme: %w", err)
	}
	if err := api.AddToScheme(s); err != nil {
		return nil, fmt.Errorf("envtest: adding Coffer kinds to the scheme: %w", err)
	}
	return s, nil
}

// RepoRoot walks up from the working directory to the go.mod of ModulePath.
func RepoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("envtest: finding the repository root: %w", err)
	}
	for dir := wd; ; {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && modulePath(data) == ModulePath {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("envtest: no go.mod of module %s in %s or any parent directory", ModulePath, wd)
		}
		dir = parent
	}
}

func modulePath(gomod []byte) string {
	s := bufio.NewScanner(bytes.NewReader(gomod))
	for s.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(s.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}

var controlPlaneBinaries = []string{"kube-apiserver", "etcd"}

// AssetsDir returns the directory holding kube-apiserver and etcd: KUBEBUILDER_ASSETS when set,
// otherwise the directory printed by hack/controlplane.sh, which builds the binaries on first
// use (about 10 minutes on 2 cores) and is instant afterwards.
func AssetsDir(root string) (string, error) {
	howTo := fmt.Sprintf("build them once with `cd %s && hack/controlplane.sh` (or `make controlplane`; "+
		"it builds kube-apiserver and etcd from the Go module proxy into a per-user cache, about 10 minutes "+
		"the first time) and run the tests with KUBEBUILDER_ASSETS=\"$(hack/controlplane.sh)\" go test ./...", root)

	if dir, ok := os.LookupEnv("KUBEBUILDER_ASSETS"); ok && dir != "" {
		if err := checkBinaries(dir); err != nil {
			return "", fmt.Errorf("envtest: KUBEBUILDER_ASSETS=%s: %w; unset it to let the tests build them, or %s", dir, err, howTo)
		}
		return dir, nil
	}

	script := filepath.Join(root, "hack", "controlplane.sh")
	cmd := exec.Command(script)
	cmd.Dir = root
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	// The script says on stderr when it starts a long build; show that as it happens.
	cmd.Stderr = &teeWriter{buf: &stderr, w: os.Stderr}
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("envtest: KUBEBUILDER_ASSETS is not set and %s failed: %w\n%s\nTo fix it, %s",
			script, err, strings.TrimSpace(stderr.String()), howTo)
	}
	dir := lastLine(stdout.String())
	if dir == "" {
		return "", fmt.Errorf("envtest: %s printed no directory; %s", script, howTo)
	}
	if err := checkBinaries(dir); err != nil {
		return "", fmt.Errorf("envtest: %s printed %s but %w; %s", script, dir, err, howTo)
	}
	return dir, nil
}

func checkBinaries(dir string) error {
	var problems []string
	for _, bin := range controlPlaneBinaries {
		fi, err := os.Stat(filepath.Join(dir, bin))
		switch {
		case err != nil:
			problems = append(problems, "no "+bin+" there")
		case fi.IsDir() || fi.Mode().Perm()&0o111 == 0:
			problems = append(problems, bin+" there is not an executable file")
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, ", "))
	}
	return nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

type teeWriter struct {
	buf *bytes.Buffer
	w   *os.File
}

func (t *teeWriter) Write(p []byte) (int, error) {
	t.buf.Write(p)
	return t.w.Write(p)
}

var notDNSLabel = regexp.MustCompile(`[^a-z0-9]+`)

// Namespace creates a namespace named after the test with a random suffix and deletes it when
// the test ends. (Without a namespace controller a deleted namespace stays Terminating with its
// objects; the name is unique, so that does not matter.)
func (e *Env) Namespace(tb testing.TB) string {
	tb.Helper()
	prefix := strings.Trim(notDNSLabel.ReplaceAllString(strings.ToLower(tb.Name()), "-"), "-")
	if len(prefix) > 40 {
		prefix = strings.TrimRight(prefix[:40], "-")
	}
	if prefix == "" {
		prefix = "test"
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"}}
	if err := e.Client.Create(context.Background(), ns); err != nil {
		tb.Fatalf("envtest: creating a namespace for %s: %v", tb.Name(), err)
	}
	tb.Cleanup(func() {
		if err := e.Client.Delete(context.Background(), ns); client.IgnoreNotFound(err) != nil {
			tb.Errorf("envtest: deleting namespace %s: %v", ns.Name, err)
		}
	})
	return ns.Name
}
