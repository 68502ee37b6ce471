package crds

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/util/yaml"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	"github.com/cofferhq/coffer/blueprints"
)

// TestSamples: every object in config/samples (what `make run` applies) is accepted by the API
// server, and every sample blueprint passes the blueprint validation admission will run.
func TestSamples(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(env.RepoRoot, "config", "samples", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples: %v", err)
	}
	for _, f := range files {
		data, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		defer data.Close()
		dec := yaml.NewYAMLOrJSONDecoder(data, 4096)
		for {
			obj := &unstructured.Unstructured{}
			if err := dec.Decode(&obj.Object); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if len(obj.Object) == 0 {
				continue
			}
			if err := env.Client.Create(t.Context(), obj); err != nil {
				t.Errorf("%s: %s %s: %v", filepath.Base(f), obj.GetKind(), obj.GetName(), err)
				continue
			}
			if obj.GetKind() == "BackupBlueprint" {
				var bp corev1alpha1.BackupBlueprint
				if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &bp); err != nil {
					t.Fatal(err)
				}
				if errs := blueprints.ValidateBlueprint(&bp, field.NewPath("spec")); len(errs) > 0 {
					t.Errorf("%s: BackupBlueprint %s: %v", filepath.Base(f), bp.Name, errs.ToAggregate())
				}
			}
		}
	}
}
