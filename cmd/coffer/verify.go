package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cofferhq/coffer/addons"
	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	"github.com/cofferhq/coffer/api/shared"
	"github.com/cofferhq/coffer/controllers/executor"
	"github.com/cofferhq/coffer/controllers/targets"
	"github.com/cofferhq/coffer/controllers/verification"
)

// verifyOptions are the flags of `coffer verify`.
type verifyOptions struct {
	kubeconfig   string
	namespace    string
	session      string
	queryTimeout time.Duration
}

func newVerifyCommand() *cobra.Command {
	o := &verifyOptions{}
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Run a verification session's queries or script against the restored data, and record what they returned",
		Long: `Run the queries (type Query) or the script (type Script) of the BackupVerifier of a
BackupVerificationSession, against the scratch target the session restored into, and record the
results in the session's status.observations. The controller then evaluates the verifier's
conditions over them. This is the program the verifier Job runs.

Queries run against the AppBinding the verifier's restoreOption.target names; each records its
row count, columns, first rows and first value, or its error. A script is run with the
verifier's args; it gets the restored database's address and credentials in COFFER_DB_HOST,
COFFER_DB_PORT, COFFER_DB_USERNAME, COFFER_DB_PASSWORD, COFFER_DB_DATABASE and COFFER_DB_TYPE when the target is
an AppBinding, and finds restored volumes under COFFER_RESTORED_PATH otherwise. Its exit code,
output (parsed as JSON when it is JSON) and error output are recorded.

A query or script that fails is recorded, not an error of this command: the conditions judge it.`,
		Example: `  coffer verify -n demo --session app-local-daily-1700000000`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.namespace == "" || o.session == "" {
				return errors.New("--namespace and --session are required")
			}
			ctx, stop := signalContext(cmd.Context())
			defer stop()
			cfg, err := restConfig(o.kubeconfig)
			if err != nil {
				return fmt.Errorf("kubeconfig: %w", err)
			}
			scheme, err := newScheme()
			if err != nil {
				return err
			}
			c, err := client.New(cfg, client.Options{Scheme: scheme})
			if err != nil {
				return err
			}
			return runVerify(ctx, c, o, cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file; in-cluster config or $KUBECONFIG when empty")
	f.StringVarP(&o.namespace, "namespace", "n", "", "namespace of the BackupVerificationSession")
	f.StringVar(&o.session, "session", "", "the BackupVerificationSession")
	f.DurationVar(&o.queryTimeout, "query-timeout", executor.VerifierQueryTimeout, "how long one query, or the script, may run")
	return cmd
}

// runVerify runs the session's queries or script and records them.
func runVerify(ctx context.Context, c client.Client, o *verifyOptions, stderr io.Writer) error {
	var bvs corev1alpha1.BackupVerificationSession
	if err := c.Get(ctx, client.ObjectKey{Namespace: o.namespace, Name: o.session}, &bvs); err != nil {
		return fmt.Errorf("reading BackupVerificationSession %s/%s: %w", o.namespace, o.session, err)
	}
	var bc corev1alpha1.BackupConfiguration
	if err := c.Get(ctx, client.ObjectKey{Namespace: bvs.Namespace, Name: bvs.Spec.Invoker.Name}, &bc); err != nil {
		return fmt.Errorf("reading BackupConfiguration %s/%s: %w", bvs.Namespace, bvs.Spec.Invoker.Name, err)
	}
	ri, err := verification.RepositoryOf(&bc, bvs.Spec.Session, bvs.Spec.Repository)
	if err != nil {
		return err
	}
	v, err := verification.VerifierOf(ctx, c, &bc, ri)
	if err != nil {
		return err
	}
	target := verification.TargetOf(v, bvs.Namespace)
	var observed map[string]any
	switch v.Spec.Type {
	case corev1alpha1.VerifyQuery:
		if target == nil || target.Kind != shared.KindAppBinding {
			return fmt.Errorf("BackupVerifier %s/%s: queries run against a database: spec.restoreOption.target must be an AppBinding", v.Namespace, v.Name)
		}
		db, err := openDatabase(ctx, c, target.Key)
		if err != nil {
			return err
		}
		queries := runQueries(ctx, db, v.Spec.Queries, o.queryTimeout)
		for _, q := range queries {
			if q.Error != "" {
				fmt.Fprintf(stderr, "coffer: query %s failed: %s\n", q.Name, q.Error)
			} else {
				fmt.Fprintf(stderr, "coffer: query %s returned %d row(s) in %s\n", q.Name, *q.RowCount, q.Duration.Duration)
			}
		}
		observed = map[string]any{"queries": queries}
	case corev1alpha1.VerifyScript:
		if v.Spec.Script == nil {
			return fmt.Errorf("BackupVerifier %s/%s: spec.script: Required value", v.Namespace, v.Name)
		}
		env := []string{"COFFER_RESTORED_PATH=" + targets.MountRoot}
		if target != nil && target.Kind == shared.KindAppBinding {
			if env, err = databaseEnv(ctx, c, target.Key); err != nil {
				return err
			}
		}
		script := runScript(ctx, v.Spec.Script, env, o.queryTimeout)
		fmt.Fprintf(stderr, "coffer: script %s exited with code %d in %s\n", v.Spec.Script.Location, script.ExitCode, script.Duration.Duration)
		observed = map[string]any{"script": script}
	default:
		return fmt.Errorf("BackupVerifier %s/%s is of type %s: only Query and Script verifiers run a verifier Job", v.Namespace, v.Name, v.Spec.Type)
	}
	pctx, cancel := finalContext(ctx)
	defer cancel()
	return patchStatus(pctx, c, &bvs, map[string]any{"observations": observed}, "status.observations", patchAttempts)
}

// runQueries runs each query against the restored database, one after another, and records
// each outcome; a failed query does not stop the others.
func runQueries(ctx context.Context, db addons.Database, queries []corev1alpha1.VerifierQuery, timeout time.Duration) []corev1alpha1.QueryObservation {
	out := make([]corev1alpha1.QueryObservation, 0, len(queries))
	for _, q := range queries[:min(len(queries), corev1alpha1.MaxObservedQueries)] {
		qctx, cancel := context.WithTimeout(ctx, timeout)
		start := time.Now()
		res, err := db.Query(qctx, addons.Query{Database: q.Database, Schema: q.Schema, Table: q.Table, Statement: q.Statement}, corev1alpha1.MaxObservedRows)
		cancel()
		obs := corev1alpha1.QueryObservation{Name: q.Name, Duration: &metav1.Duration{Duration: time.Since(start).Round(time.Millisecond)}}
		if err != nil {
			obs.Error = cut(err.Error(), corev1alpha1.MaxObservedErrorBytes)
		} else {
			observeResult(&obs, res)
		}
		out = append(out, obs)
	}
	return out
}

// Bounds of a query's observation beyond the API's row count: the columns the CRD allows, and
// each value, so that 20 rows of large text or bytea cannot push the session past etcd's limit.
const (
	maxObservedColumns = 64
	maxObservedCell    = 1024
)

// observeResult records a result: the rows as objects keyed by column, and the first value.
// Values that are numbers or booleans as text become JSON numbers and booleans, so conditions
// compare them as such (`queries.users.scalar >= 1000`).
func observeResult(obs *corev1alpha1.QueryObservation, res *addons.Result) {
	obs.RowCount = &res.Count
	obs.Columns = res.Columns[:min(len(res.Columns), maxObservedColumns)]
	rows := make([]map[string]any, 0, len(res.Rows))
	for _, r := range res.Rows[:min(len(res.Rows), corev1alpha1.MaxObservedRows)] {
		row := map[string]any{}
		for i, v := range r[:min(len(r), len(obs.Columns))] {
			row[obs.Columns[i]] = typedValue(cut(v, maxObservedCell))
		}
		rows = append(rows, row)
	}
	obs.Rows = rawJSON(rows)
	if len(res.Rows) > 0 && len(res.Rows[0]) > 0 {
		obs.Scalar = rawJSON(typedValue(cut(res.Rows[0][0], maxObservedCell)))
	}
}

// typedValue is a text value as JSON would have it: an integer, a float or a boolean when the
// text is exactly one, else the text (so "007" stays a string). Only the text is known, not the
// column's type: PostgreSQL's booleans are the strings "t" and "f", and NULL is "".
func typedValue(s string) any {
	if i, err := strconv.ParseInt(s, 10, 64); err == nil && strconv.FormatInt(i, 10) == s {
		return i
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && strings.ContainsAny(s, ".eE") && !strings.ContainsAny(s, "nN") {
		return f
	}
	if s == "true" || s == "false" {
		return s == "true"
	}
	return s
}

func rawJSON(v any) *runtime.RawExtension {
	data, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("marshaling %T: %v", v, err)) // maps of strings and numbers always marshal
	}
	return &runtime.RawExtension{Raw: data}
}

// databaseEnv is the restored database's connection, for a script.
func databaseEnv(ctx context.Context, c client.Reader, key client.ObjectKey) ([]string, error) {
	b, conn, err := resolveAppBinding(ctx, c, key)
	if err != nil {
		return nil, err
	}
	return []string{"COFFER_DB_TYPE=" + string(b.Spec.Type), "COFFER_DB_HOST=" + conn.Host, "COFFER_DB_PORT=" + strconv.Itoa(conn.Port),
		"COFFER_DB_USERNAME=" + conn.Username, "COFFER_DB_PASSWORD=" + conn.Password, "COFFER_DB_DATABASE=" + conn.Database}, nil
}

// runScript runs the verifier's script and records its exit code and output, cut to the
// observation's bounds. A script that cannot be started exits 127, as a shell reports it.
func runScript(ctx context.Context, spec *corev1alpha1.ScriptVerifierSpec, env []string, timeout time.Duration) *corev1alpha1.ScriptObservation {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, spec.Location, spec.Args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = 5 * time.Second
	stdout := &boundedBuffer{limit: corev1alpha1.MaxObservedOutputBytes}
	stderr := &boundedBuffer{limit: corev1alpha1.MaxObservedStderrBytes}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	start := time.Now()
	err := cmd.Run()
	obs := &corev1alpha1.ScriptObservation{Duration: &metav1.Duration{Duration: time.Since(start).Round(time.Millisecond)}}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		obs.ExitCode = int32(exit.ExitCode())
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			fmt.Fprintf(stderr, "\ncoffer: the script ran longer than %s and was stopped", timeout)
		}
	case errors.Is(err, exec.ErrWaitDelay):
		// The script ended; a child it left behind kept its output open.
		obs.ExitCode = int32(cmd.ProcessState.ExitCode())
	default:
		obs.ExitCode = 127
		fmt.Fprintf(stderr, "coffer: starting the script: %v", err)
	}
	obs.Stdout, obs.Stderr = stdout.String(), stderr.String()
	obs.Truncated = stdout.cut || stderr.cut
	if out := bytes.TrimSpace(stdout.b.Bytes()); !stdout.cut && len(out) > 0 && json.Valid(out) {
		obs.Output = &runtime.RawExtension{Raw: out}
	}
	return obs
}

// boundedBuffer keeps the first limit bytes written to it and notes that more came.
type boundedBuffer struct {
	b     bytes.Buffer
	limit int
	cut   bool
}

func (w *boundedBuffer) Write(p []byte) (int, error) {
	if room := w.limit - w.b.Len(); room < len(p) {
		w.cut = true
		w.b.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return w.b.Write(p)
}

func (w *boundedBuffer) String() string { return strings.ToValidUTF8(w.b.String(), "") }

// cut shortens s to at most n bytes, dropping a character cut in half so the status stays
// valid UTF-8.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
