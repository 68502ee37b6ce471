package crds

import (
	"testing"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	storagev1alpha1 "github.com/cofferhq/coffer/api/storage/v1alpha1"
)

// TestOptionalFieldsMayBeOmitted: what the API marks optional may be left out, by a Go client
// (which omits only what has omitempty and is not a struct) as well as in YAML. Each case was a
// marker bug once: an optional struct value sent as {}, a field without omitempty sent as "", and
// CEL rules that read optional fields without has().
func TestOptionalFieldsMayBeOmitted(t *testing.T) {
	t.Run("typed Snapshot without appRef", func(t *testing.T) {
		s := snapshot(func(s *storagev1alpha1.Snapshot) { s.Spec.AppRef = nil })
		place(t, s, env.Namespace(t))
		create(t, s)
	})

	t.Run("typed BackupVerifier without type gets the default", func(t *testing.T) {
		v := backupVerifier(func(v *corev1alpha1.BackupVerifier) { v.Spec.Type = "" })
		place(t, v, env.Namespace(t))
		create(t, v)
		get(t, v)
		if v.Spec.Type != corev1alpha1.VerifyRestoreOnly {
			t.Errorf("spec.type = %q, want the default RestoreOnly", v.Spec.Type)
		}
	})

	t.Run("BackupBlueprint variable with a default that is not required", func(t *testing.T) {
		b := backupBlueprint(func(b *corev1alpha1.BackupBlueprint) {
			b.Spec.Variables = []corev1alpha1.BlueprintVariable{{Name: "schedule", Default: ptr("@daily")}}
		})
		place(t, b, env.Namespace(t))
		create(t, b)
	})

	t.Run("Repository path written the KubeStash way, with a leading slash", func(t *testing.T) {
		r := repository(func(r *storagev1alpha1.Repository) { r.Spec.Path = "/demo/db" })
		place(t, r, env.Namespace(t))
		create(t, r)
	})

	t.Run("HookTemplate pod selector written with spaces, as in KubeStash's docs", func(t *testing.T) {
		h := hookTemplate(func(h *corev1alpha1.HookTemplate) {
			h.Spec.Executor.Pod.Selector = "name=test-app, test=hook"
			h.Spec.Action.ContainerName = "mysql"
		})
		place(t, h, env.Namespace(t))
		create(t, h)
		get(t, h)
		if h.Spec.Action.ContainerName != "mysql" {
			t.Fatalf("action.containerName = %q", h.Spec.Action.ContainerName)
		}
	})

	// The backup controller sets session and backupSession, but a Snapshot re-created from the
	// backend's files, or written by hand, may have neither.
	snapshotWithoutSession := func(t *testing.T) *storagev1alpha1.Snapshot {
		s := snapshot(func(s *storagev1alpha1.Snapshot) {
			s.Spec.Session = ""
			s.Spec.BackupSession = ""
		})
		place(t, s, env.Namespace(t))
		create(t, s)
		return s
	}

	t.Run("Snapshot without session: metadata update", func(t *testing.T) {
		s := snapshotWithoutSession(t)
		s.SetFinalizers([]string{"coffer.dev/cleanup"})
		if err := env.Client.Update(t.Context(), s); err != nil {
			t.Fatalf("adding the cleanup finalizer: %v", err)
		}
	})

	t.Run("Snapshot without session: spec update", func(t *testing.T) {
		s := snapshotWithoutSession(t)
		s.Spec.Paused = true
		if err := env.Client.Update(t.Context(), s); err != nil {
			t.Fatalf("updating spec.paused: %v", err)
		}
		get(t, s)
		if !s.Spec.Paused {
			t.Error("spec.paused was not updated")
		}
	})

	t.Run("Snapshot without session: repository still immutable", func(t *testing.T) {
		s := snapshotWithoutSession(t)
		s.Spec.Repository = "other-repo"
		expectInvalid(t, env.Client.Update(t.Context(), s), "spec", "repository, session and backupSession are immutable")
	})

	t.Run("Snapshot: session may not be added later", func(t *testing.T) {
		s := snapshotWithoutSession(t)
		s.Spec.Session = "nightly"
		expectInvalid(t, env.Client.Update(t.Context(), s), "spec", "repository, session and backupSession are immutable")
	})
}
