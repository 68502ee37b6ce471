package crds

import (
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	"github.com/cofferhq/coffer/blueprints"
	"github.com/cofferhq/coffer/test/envtest"
)

// TestSamples: every object in config/samples (what `make run` applies) is accepted by the API
// server, and every sample blueprint passes the blueprint validation admission will run.
func TestSamples(t *testing.T) {
	objs, err := envtest.LoadObjects(filepath.Join(env.RepoRoot, "config", "samples"))
	if err != nil {
		t.Fatal(err)
	}
	blueprintsSeen := 0
	for _, obj := range objs {
		if err := env.Client.Create(t.Context(), obj); err != nil {
			t.Errorf("%s %s: %v", obj.GetKind(), obj.GetName(), err)
			continue
		}
		if obj.GetKind() != "BackupBlueprint" {
			continue
		}
		blueprintsSeen++
		var bp corev1alpha1.BackupBlueprint
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &bp); err != nil {
			t.Fatal(err)
		}
		if errs := blueprints.ValidateBlueprint(&bp, field.NewPath("spec")); len(errs) > 0 {
			t.Errorf("BackupBlueprint %s: %v", bp.Name, errs.ToAggregate())
		}
	}
	if blueprintsSeen == 0 {
		t.Error("the samples hold no BackupBlueprint to validate")
	}
}
