package hooks

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	"github.com/cofferhq/coffer/api/shared"
)

// DefaultTimeout bounds a hook that sets no timeout.
const DefaultTimeout = 30 * time.Second

// maxOutput is how much of a hook's output is kept for its error message.
const maxOutput = 512

// Runner runs hooks.
type Runner struct {
	Client client.Client
	// Config reaches the API server for pods/exec.
	Config *rest.Config
	// HTTP makes httpGet/httpPost calls; http.DefaultClient when nil.
	HTTP *http.Client
}

// RunAll runs hooks in order and stops at the first failure. It returns each hook's outcome
// and, on failure, a message naming the hook and saying why.
func (r *Runner) RunAll(ctx context.Context, namespace string, target shared.TypedObjectReference, hooks []corev1alpha1.HookInfo) ([]corev1alpha1.HookExecutionStatus, string) {
	out := make([]corev1alpha1.HookExecutionStatus, 0, len(hooks))
	for _, h := range hooks {
		err := r.runWithRetry(ctx, namespace, target, h)
		if err != nil {
			out = append(out, corev1alpha1.HookExecutionStatus{Name: h.Name, Phase: corev1alpha1.HookFailed})
			return out, fmt.Sprintf("hook %s failed: %v", h.Name, err)
		}
		out = append(out, corev1alpha1.HookExecutionStatus{Name: h.Name, Phase: corev1alpha1.HookSucceeded})
	}
	return out, ""
}

func (r *Runner) runWithRetry(ctx context.Context, namespace string, target shared.TypedObjectReference, h corev1alpha1.HookInfo) error {
	var tmpl corev1alpha1.HookTemplate
	ns := h.HookTemplate.Namespace
	if ns == "" {
		ns = namespace
	}
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: h.HookTemplate.Name}, &tmpl); err != nil {
		return fmt.Errorf("HookTemplate %s/%s: %w", ns, h.HookTemplate.Name, err)
	}
	if tmpl.Spec.Action == nil {
		return fmt.Errorf("HookTemplate %s/%s has no spec.action", ns, tmpl.Name)
	}
	timeout := DefaultTimeout
	if h.Timeout != nil && h.Timeout.Duration > 0 {
		timeout = h.Timeout.Duration
	}
	var err error
	for attempt := 0; attempt <= int(h.MaxRetry); attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(attempt) * time.Second):
			}
		}
		actx, cancel := context.WithTimeout(ctx, timeout)
		err = r.run(actx, namespace, target, &tmpl, h)
		cancel()
		if err == nil {
			return nil
		}
	}
	return err
}

func (r *Runner) run(ctx context.Context, namespace string, target shared.TypedObjectReference, tmpl *corev1alpha1.HookTemplate, h corev1alpha1.HookInfo) error {
	act := tmpl.Spec.Action
	switch tmpl.Spec.Executor.Type {
	case corev1alpha1.HookExecutorPod:
		pods, err := r.pods(ctx, namespace, tmpl)
		if err != nil {
			return err
		}
		for _, p := range pods {
			if err := r.inPod(ctx, &p, act, h.Variables); err != nil {
				return fmt.Errorf("pod %s: %w", p.Name, err)
			}
		}
		return nil
	case corev1alpha1.HookExecutorOperator:
		if act.Exec != nil {
			return fmt.Errorf("an exec action needs executor type Pod: the operator runs no commands of a hook")
		}
		return r.http(ctx, "", act)
	default:
		return fmt.Errorf("executor type %q is not supported yet (use Pod or Operator)", tmpl.Spec.Executor.Type)
	}
}

// pods are the running pods the hook acts on, by the executor's selector and strategy.
func (r *Runner) pods(ctx context.Context, namespace string, tmpl *corev1alpha1.HookTemplate) ([]corev1.Pod, error) {
	spec := tmpl.Spec.Executor.Pod
	if spec == nil || spec.Selector == "" {
		return nil, fmt.Errorf("HookTemplate %s: spec.executor.pod.selector is required for executor type Pod", tmpl.Name)
	}
	sel, err := labels.Parse(spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("HookTemplate %s: spec.executor.pod.selector: %w", tmpl.Name, err)
	}
	var list corev1.PodList
	if err := r.Client.List(ctx, &list, client.InNamespace(namespace), client.MatchingLabelsSelector{Selector: sel}); err != nil {
		return nil, err
	}
	var running []corev1.Pod
	for _, p := range list.Items {
		if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp.IsZero() {
			running = append(running, p)
		}
	}
	if len(running) == 0 {
		return nil, fmt.Errorf("no running pod in namespace %s matches %q", namespace, spec.Selector)
	}
	if spec.Strategy != corev1alpha1.ExecuteOnAll {
		running = running[:1]
	}
	return running, nil
}

func (r *Runner) inPod(ctx context.Context, pod *corev1.Pod, act *corev1alpha1.HookAction, vars []corev1.EnvVar) error {
	if act.Exec == nil {
		return r.http(ctx, pod.Status.PodIP, act)
	}
	container := act.ContainerName
	if container == "" {
		container = pod.Spec.Containers[0].Name
	}
	command := act.Exec.Command
	if len(vars) > 0 {
		// Variables reach the command as environment, as in a container's env.
		env := []string{"env"}
		for _, v := range vars {
			env = append(env, v.Name+"="+v.Value)
		}
		command = append(env, command...)
	}
	cs, err := kubernetes.NewForConfig(r.Config)
	if err != nil {
		return err
	}
	req := cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(pod.Namespace).Name(pod.Name).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: container, Command: command, Stdout: true, Stderr: true}, scheme.ParameterCodec)
	ws, err := remotecommand.NewWebSocketExecutor(r.Config, "GET", req.URL().String())
	if err != nil {
		return err
	}
	spdy, err := remotecommand.NewSPDYExecutor(r.Config, "POST", req.URL())
	if err != nil {
		return err
	}
	exec, err := remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
	if err != nil {
		return err
	}
	var out limitedBuffer
	if err := exec.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &out, Stderr: &out}); err != nil {
		if s := strings.TrimSpace(out.String()); s != "" {
			return fmt.Errorf("%v: %s", err, s)
		}
		return err
	}
	return nil
}

func (r *Runner) http(ctx context.Context, podIP string, act *corev1alpha1.HookAction) error {
	var (
		method, host, path string
		scheme             corev1.URIScheme
		port               intstr.IntOrString
		headers            []corev1.HTTPHeader
		body               io.Reader
		contentType        string
	)
	switch {
	case act.HTTPGet != nil:
		g := act.HTTPGet
		method, host, path, scheme, port, headers = http.MethodGet, g.Host, g.Path, g.Scheme, g.Port, g.HTTPHeaders
	case act.HTTPPost != nil:
		p := act.HTTPPost
		method, host, path, scheme, port, headers = http.MethodPost, p.Host, p.Path, p.Scheme, p.Port, p.HTTPHeaders
		switch {
		case len(p.Form) > 0:
			form := url.Values{}
			for _, e := range p.Form {
				form[e.Key] = e.Values
			}
			body, contentType = strings.NewReader(form.Encode()), "application/x-www-form-urlencoded"
		case p.Body != "":
			body = strings.NewReader(p.Body)
		}
	default:
		return fmt.Errorf("the action has neither exec, httpGet nor httpPost")
	}
	if host == "" {
		host = podIP
	}
	if host == "" {
		return fmt.Errorf("an HTTP hook run by the operator needs a host")
	}
	if port.Type == intstr.String {
		return fmt.Errorf("a named port (%q) needs executor type Pod and is not supported yet; use a number", port.StrVal)
	}
	if scheme == "" {
		scheme = corev1.URISchemeHTTP
	}
	u := url.URL{Scheme: strings.ToLower(string(scheme)), Host: net.JoinHostPort(host, strconv.Itoa(port.IntValue())), Path: path}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for _, h := range headers {
		req.Header.Add(h.Name, h.Value)
	}
	hc := r.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, maxOutput))
		return fmt.Errorf("%s %s returned %s: %s", method, u.String(), resp.Status, strings.TrimSpace(string(msg)))
	}
	return nil
}

// limitedBuffer keeps the first maxOutput bytes of a hook's output.
type limitedBuffer struct{ bytes.Buffer }

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := maxOutput - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// Recorded is the outcome of hooks that an earlier reconcile ran and wrote into status: their
// statuses and the failure message kept in the condition of type t ("" when every hook
// succeeded). ran is false while nothing is recorded, so the hooks are still to run. Hooks run
// once per session: a later reconcile must carry their outcome, failure included, forward.
func Recorded(statuses []corev1alpha1.HookExecutionStatus, conditions []metav1.Condition, t shared.ConditionType) (_ []corev1alpha1.HookExecutionStatus, failure string, ran bool) {
	if len(statuses) == 0 {
		return nil, "", false
	}
	if c := shared.FindCondition(conditions, t); c != nil && c.Status == metav1.ConditionFalse {
		return statuses, c.Message, true
	}
	for _, s := range statuses {
		if s.Phase == corev1alpha1.HookFailed {
			return statuses, fmt.Sprintf("hook %s failed", s.Name), true
		}
	}
	return statuses, "", true
}
