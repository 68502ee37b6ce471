package crds

import (
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	storagev1alpha1 "github.com/cofferhq/coffer/api/storage/v1alpha1"
)

// statusKind adapts one kind with a status subresource to the checks in TestStatusSubresource.
type statusKind struct {
	new func() client.Object
	// setStatus writes a recognisable value into the status; status reads it back.
	setStatus func(client.Object, string)
	status    func(client.Object) string
	// changeSpec makes a valid spec change; nil when the spec is immutable.
	changeSpec func(client.Object)
	// scribbleSpec changes the spec in a way a status write must not carry.
	scribbleSpec func(client.Object)
	// spec returns a deep copy of the spec.
	spec func(client.Object) any
}

var statusKinds = map[string]statusKind{
	"BackupStorage": {
		new: func() client.Object { return backupStorage() },
		setStatus: func(o client.Object, v string) {
			o.(*storagev1alpha1.BackupStorage).Status.TotalSize = v
		},
		status:     func(o client.Object) string { return o.(*storagev1alpha1.BackupStorage).Status.TotalSize },
		changeSpec: func(o client.Object) { o.(*storagev1alpha1.BackupStorage).Spec.Default = true },
		scribbleSpec: func(o client.Object) {
			o.(*storagev1alpha1.BackupStorage).Spec.Storage.S3.Bucket = "scribbled"
		},
		spec: func(o client.Object) any { return o.(*storagev1alpha1.BackupStorage).Spec.DeepCopy() },
	},
	"Snapshot": {
		new: func() client.Object { return snapshot() },
		setStatus: func(o client.Object, v string) {
			o.(*storagev1alpha1.Snapshot).Status.Size = v
		},
		status:     func(o client.Object) string { return o.(*storagev1alpha1.Snapshot).Status.Size },
		changeSpec: func(o client.Object) { o.(*storagev1alpha1.Snapshot).Spec.Paused = true },
		scribbleSpec: func(o client.Object) {
			o.(*storagev1alpha1.Snapshot).Spec.Repository = "scribbled"
		},
		spec: func(o client.Object) any { return o.(*storagev1alpha1.Snapshot).Spec.DeepCopy() },
	},
	"BackupSession": {
		new: func() client.Object { return backupSession() },
		setStatus: func(o client.Object, v string) {
			o.(*corev1alpha1.BackupSession).Status.Duration = v
		},
		status: func(o client.Object) string { return o.(*corev1alpha1.BackupSession).Status.Duration },
		scribbleSpec: func(o client.Object) {
			o.(*corev1alpha1.BackupSession).Spec.Session = "scribbled"
		},
		spec: func(o client.Object) any { return o.(*corev1alpha1.BackupSession).Spec.DeepCopy() },
	},
}

func TestStatusSubresource(t *testing.T) {
	for kind, k := range statusKinds {
		t.Run(kind, func(t *testing.T) {
			ns := env.Namespace(t)
			ctx := t.Context()

			obj := k.new()
			place(t, obj, ns)
			k.setStatus(obj, "set-on-create")
			create(t, obj)
			get(t, obj)
			if got := k.status(obj); got != "" {
				t.Errorf("create kept status %q; the status subresource must drop it", got)
			}
			if obj.GetGeneration() != 1 {
				t.Fatalf("generation after create = %d, want 1", obj.GetGeneration())
			}

			// An update of the main resource ignores status. A label change is not a spec change.
			k.setStatus(obj, "set-by-update")
			obj.SetLabels(map[string]string{"touched": "yes"})
			if err := env.Client.Update(ctx, obj); err != nil {
				t.Fatalf("update: %v", err)
			}
			get(t, obj)
			if got := k.status(obj); got != "" {
				t.Errorf("update of the main resource wrote status %q", got)
			}
			if obj.GetLabels()["touched"] != "yes" {
				t.Errorf("update of the main resource lost the label change")
			}
			if obj.GetGeneration() != 1 {
				t.Errorf("generation after a metadata-only update = %d, want 1", obj.GetGeneration())
			}

			// A spec change through the main resource bumps the generation.
			wantGeneration := int64(1)
			if k.changeSpec != nil {
				k.changeSpec(obj)
				k.setStatus(obj, "set-with-spec")
				if err := env.Client.Update(ctx, obj); err != nil {
					t.Fatalf("spec update: %v", err)
				}
				get(t, obj)
				wantGeneration = 2
				if obj.GetGeneration() != wantGeneration {
					t.Errorf("generation after a spec change = %d, want 2", obj.GetGeneration())
				}
				if got := k.status(obj); got != "" {
					t.Errorf("spec update wrote status %q", got)
				}
			}

			// Status().Update persists status, ignores spec, keeps the generation.
			specBefore := k.spec(obj)
			k.setStatus(obj, "12.222 MiB")
			k.scribbleSpec(obj)
			if err := env.Client.Status().Update(ctx, obj); err != nil {
				t.Fatalf("status update: %v", err)
			}
			get(t, obj)
			if got := k.status(obj); got != "12.222 MiB" {
				t.Errorf("status after Status().Update = %q, want 12.222 MiB", got)
			}
			if obj.GetGeneration() != wantGeneration {
				t.Errorf("generation after a status update = %d, want %d", obj.GetGeneration(), wantGeneration)
			}
			if !equality.Semantic.DeepEqual(k.spec(obj), specBefore) {
				t.Errorf("status update changed spec:\n got %s\nwant %s", asJSON(k.spec(obj)), asJSON(specBefore))
			}

			// Status().Patch likewise.
			base := obj.DeepCopyObject().(client.Object)
			k.setStatus(obj, "13 MiB")
			k.scribbleSpec(obj)
			if err := env.Client.Status().Patch(ctx, obj, client.MergeFrom(base)); err != nil {
				t.Fatalf("status patch: %v", err)
			}
			get(t, obj)
			if got := k.status(obj); got != "13 MiB" {
				t.Errorf("status after Status().Patch = %q, want 13 MiB", got)
			}
			if obj.GetGeneration() != wantGeneration {
				t.Errorf("generation after a status patch = %d, want %d", obj.GetGeneration(), wantGeneration)
			}
			if !equality.Semantic.DeepEqual(k.spec(obj), specBefore) {
				t.Errorf("status patch changed spec:\n got %s\nwant %s", asJSON(k.spec(obj)), asJSON(specBefore))
			}
		})
	}
}

// TestStatusEntriesWithoutReferences: controllers report backends and retention for which no
// object was found or named, so the references in those status entries are optional.
func TestStatusEntriesWithoutReferences(t *testing.T) {
	ns := env.Namespace(t)

	bs := backupSession()
	place(t, bs, ns)
	create(t, bs)
	bs.Status.RetentionPolicy = []corev1alpha1.RetentionPolicyApplyStatus{{
		Repository: "db-repo", Phase: corev1alpha1.RetentionPolicyFailedToApply, Error: "no retention policy resolved",
	}}
	if err := env.Client.Status().Update(t.Context(), bs); err != nil {
		t.Fatalf("a retention entry without ref: %v", err)
	}

	bc := backupConfiguration()
	place(t, bc, ns)
	create(t, bc)
	bc.Status.Backends = []corev1alpha1.BackendStatus{{
		Name:            "main",
		Storage:         &corev1alpha1.StorageStatus{Reason: "no default BackupStorage in the namespace"},
		RetentionPolicy: &corev1alpha1.RetentionPolicyStatus{Reason: "no default RetentionPolicy in the namespace"},
	}}
	if err := env.Client.Status().Update(t.Context(), bc); err != nil {
		t.Fatalf("backend entries without refs: %v", err)
	}
	get(t, bc)
	if got := bc.Status.Backends[0].Storage.Reason; got != "no default BackupStorage in the namespace" {
		t.Fatalf("status.backends[0].storage.reason = %q", got)
	}
}
