package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	"github.com/cofferhq/coffer/api/shared"
	"github.com/cofferhq/coffer/controllers/verification"
)

// testScriptVerification runs `coffer verify` for Script verifiers: the script's exit code,
// its output parsed as JSON, its error output, and the restored data's path in its environment.
func testScriptVerification(t *testing.T, h *harness) {
	ctx := testContext(t)
	f := localFixture(t, h)
	dir := t.TempDir()
	script := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := script("count.sh", `echo "{\"files\": 3, \"path\": \"$COFFER_RESTORED_PATH\", \"arg\": \"$1\"}"`)
	bad := script("fail.sh", `echo "checksum mismatch in users.db" >&2; exit 3`)

	if err := h.env.Client.Create(ctx, &corev1alpha1.BackupConfiguration{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "app"},
		Spec: corev1alpha1.BackupConfigurationSpec{
			Target:   &shared.TypedObjectReference{Kind: shared.KindPersistentVolumeClaim, Name: "data"},
			Backends: []corev1alpha1.BackendReference{{Name: "local", StorageRef: &shared.ObjectReference{Name: "storage"}}},
			Sessions: []corev1alpha1.Session{
				{SessionConfig: corev1alpha1.SessionConfig{Name: "good", Scheduler: &shared.SchedulerSpec{Schedule: "0 1 * * *"}},
					Repositories: []corev1alpha1.RepositoryInfo{{Name: f.repo, Backend: "local", Directory: repoPath, BackupVerifier: &shared.ObjectReference{Name: "good"}}}},
				{SessionConfig: corev1alpha1.SessionConfig{Name: "bad", Scheduler: &shared.SchedulerSpec{Schedule: "0 1 * * *"}},
					Repositories: []corev1alpha1.RepositoryInfo{{Name: f.repo, Backend: "local", Directory: repoPath, BackupVerifier: &shared.ObjectReference{Name: "bad"}}}},
			},
		}}); err != nil {
		t.Fatal(err)
	}
	run := func(session, location string) *corev1alpha1.ScriptObservation {
		t.Helper()
		v := &corev1alpha1.BackupVerifier{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: session},
			Spec: corev1alpha1.BackupVerifierSpec{Type: corev1alpha1.VerifyScript,
				RestoreOption: &corev1alpha1.RestoreOption{Target: &shared.TypedObjectReference{Kind: shared.KindPersistentVolumeClaim, Name: "scratch"}},
				Script:        &corev1alpha1.ScriptVerifierSpec{Location: location, Args: []string{"--strict"}}}}
		bvs := verification.NewSession(f.ns, "app", session, f.repo, 0, time.Now())
		for _, obj := range []client.Object{v, bvs} {
			if err := h.env.Client.Create(ctx, obj); err != nil {
				t.Fatal(err)
			}
		}
		mustSucceed(t, "coffer verify", h.command(ctx, "verify", "-n", f.ns, "--session", bvs.Name))
		if err := h.env.Client.Get(ctx, client.ObjectKeyFromObject(bvs), bvs); err != nil {
			t.Fatal(err)
		}
		if bvs.Status.Observations == nil || bvs.Status.Observations.Script == nil {
			t.Fatalf("observations %+v", bvs.Status.Observations)
		}
		return bvs.Status.Observations.Script
	}

	s := run("good", good)
	var output map[string]any
	if s.Output != nil {
		_ = json.Unmarshal(s.Output.Raw, &output)
	}
	if s.ExitCode != 0 || output["files"] != 3.0 || output["path"] != "/coffer/volumes" || output["arg"] != "--strict" || s.Duration == nil {
		t.Errorf("script observation %+v output %v", s, output)
	}
	// A failing script is recorded, not a failure of the command: the conditions judge it.
	s = run("bad", bad)
	if s.ExitCode != 3 || !strings.Contains(s.Stderr, "checksum mismatch in users.db") || s.Output != nil {
		t.Errorf("failing script observation %+v", s)
	}
}
