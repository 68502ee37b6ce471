package crds

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	"github.com/cofferhq/coffer/api/shared"
)

// TestTaskParamsRoundTrip: params are free-form; nothing of them may be pruned.
func TestTaskParamsRoundTrip(t *testing.T) {
	const params = `{"args":"--clean","dump":{"tables":["users","orders"],"options":{"compress":9,"parallel":true,"exclude":null}},"ratio":0.5}`
	bc := backupConfiguration(func(c *corev1alpha1.BackupConfiguration) {
		c.Spec.Sessions[0].Addon = &corev1alpha1.AddonInfo{
			Name:  "postgres-addon",
			Tasks: []corev1alpha1.TaskReference{{Name: "logical-backup", Params: raw(params)}},
		}
	})
	place(t, bc, env.Namespace(t))
	create(t, bc)

	got := &corev1alpha1.BackupConfiguration{}
	got.SetNamespace(bc.Namespace)
	got.SetName(bc.Name)
	get(t, got)
	p := got.Spec.Sessions[0].Addon.Tasks[0].Params
	if p == nil {
		t.Fatal("params were dropped")
	}
	sameJSON(t, "spec.sessions[0].addon.tasks[0].params", p.Raw, params)
}

// TestVerificationObservationsRoundTrip: rows, scalar and output hold whatever JSON the
// verifier recorded: arrays of objects, scalars, arrays.
func TestVerificationObservationsRoundTrip(t *testing.T) {
	cases := map[string]struct {
		rows, scalar, output string
	}{
		"rows of objects and a number": {
			rows:   `[{"id":1,"name":"ada","tags":["x"]},{"id":2,"name":null,"meta":{"deep":{"er":true}}}]`,
			scalar: `1000`,
			output: `"all good"`,
		},
		"empty rows and a string": {
			rows:   `[]`,
			scalar: `"2026-01-02"`,
			output: `[1,"two",{"three":3},[4]]`,
		},
		"object output and a boolean": {
			rows:   `[{"count":42}]`,
			scalar: `true`,
			output: `{"checked":["users","orders"],"ok":true,"ratio":0.25}`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s := backupVerificationSession()
			place(t, s, env.Namespace(t))
			create(t, s)

			s.Status.Phase = corev1alpha1.VerificationSucceeded
			s.Status.Observations = &corev1alpha1.VerificationObservations{
				Queries: []corev1alpha1.QueryObservation{{
					Name:     "users",
					RowCount: ptr(int64(2)),
					Columns:  []string{"id", "name"},
					Rows:     raw(tc.rows),
					Scalar:   raw(tc.scalar),
				}},
				Script: &corev1alpha1.ScriptObservation{ExitCode: 0, Stdout: tc.output, Output: raw(tc.output)},
			}
			if err := env.Client.Status().Update(t.Context(), s); err != nil {
				t.Fatalf("status update: %v", err)
			}

			got := &corev1alpha1.BackupVerificationSession{}
			got.SetNamespace(s.Namespace)
			got.SetName(s.Name)
			get(t, got)
			obs := got.Status.Observations
			if obs == nil || len(obs.Queries) != 1 || obs.Script == nil {
				t.Fatalf("status.observations = %+v", obs)
			}
			sameJSON(t, "queries[0].rows", rawOf(t, obs.Queries[0].Rows), tc.rows)
			sameJSON(t, "queries[0].scalar", rawOf(t, obs.Queries[0].Scalar), tc.scalar)
			sameJSON(t, "script.output", rawOf(t, obs.Script.Output), tc.output)
		})
	}
}

func rawOf(t *testing.T, r *runtime.RawExtension) []byte {
	t.Helper()
	if r == nil {
		t.Fatal("field was dropped")
	}
	return r.Raw
}

// TestMalformedEmbeddedValuesDoNotBreakLists: the API server accepts any JSON in the preserved
// core/v1 fields (volumes, PVC templates, security contexts). One object with a malformed value
// must still list and decode, so the controllers keep working for every other object, and the
// strict decode names the problem.
func TestMalformedEmbeddedValuesDoNotBreakLists(t *testing.T) {
	ns := env.Namespace(t)
	good := backupVerifier()
	place(t, good, ns)
	create(t, good)

	bad := backupVerifier(func(v *corev1alpha1.BackupVerifier) {
		v.Name = "malformed"
		v.Spec.Volumes = []shared.Volume{{RawExtension: *raw(`{"name":"script","configMap":"not-an-object"}`)}}
		v.Spec.RestoreOption = &corev1alpha1.RestoreOption{AddonInfo: &corev1alpha1.AddonInfo{
			Name: "pvc-addon",
			Tasks: []corev1alpha1.TaskReference{{Name: "restore", TargetVolumes: &corev1alpha1.TargetVolumeInfo{
				VolumeClaimTemplates: []corev1alpha1.PersistentVolumeClaimTemplate{{
					Metadata: corev1alpha1.PVCTemplateMetadata{Name: "data"},
					Spec:     *raw(`{"accessModes":"ReadWriteOnce","resources":{"requests":{"storage":"{{ .Variables.size }}"}}}`),
				}},
			}}},
		}}
	})
	place(t, bad, ns)
	create(t, bad)

	list := &corev1alpha1.BackupVerifierList{}
	if err := env.Client.List(t.Context(), list, client.InNamespace(ns)); err != nil {
		t.Fatalf("one malformed object broke the list: %v", err)
	}
	if len(list.Items) != 2 {
		t.Fatalf("listed %d verifiers, want 2", len(list.Items))
	}
	got := &corev1alpha1.BackupVerifier{}
	got.SetNamespace(ns)
	got.SetName("malformed")
	get(t, got)
	if _, err := got.Spec.Volumes[0].Decode(); err == nil || !strings.Contains(err.Error(), "configMap") {
		t.Fatalf("decoding the malformed volume: want an error naming configMap, got %v", err)
	}
	pvc := got.Spec.RestoreOption.AddonInfo.Tasks[0].TargetVolumes.VolumeClaimTemplates[0].Spec
	if _, err := shared.Embedded[corev1.PersistentVolumeClaimSpec](&pvc); err == nil {
		t.Fatal("a PVC spec with a string for accessModes decoded")
	}
}

// TestVolumesTakeTheInlineForm: volumes are written as in a Pod spec (KubeStash's form) and
// decode to core/v1 volumes.
func TestVolumesTakeTheInlineForm(t *testing.T) {
	v := backupVerifier(func(v *corev1alpha1.BackupVerifier) {
		v.Spec.Volumes = []shared.Volume{{RawExtension: *raw(`{"name":"script","configMap":{"name":"verify-script","defaultMode":493}}`)}}
	})
	place(t, v, env.Namespace(t))
	create(t, v)
	get(t, v)
	vol, err := v.Spec.Volumes[0].Decode()
	if err != nil {
		t.Fatal(err)
	}
	if vol.Name != "script" || vol.ConfigMap == nil || vol.ConfigMap.Name != "verify-script" || *vol.ConfigMap.DefaultMode != 493 {
		t.Fatalf("decoded %+v", vol)
	}

	nameless := shared.Volume{RawExtension: *raw(`{"configMap":{"name":"x"}}`)}
	if _, err := nameless.Decode(); err == nil || !strings.Contains(err.Error(), "needs a name") {
		t.Fatalf("a volume without a name decoded: %v", err)
	}
}
