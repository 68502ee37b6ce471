package blueprints

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
)

var update = flag.Bool("update", false, "rewrite testdata/*/want.golden from the current output")

// fixture is one testdata directory: a namespace, blueprints and one workload.
type fixture struct {
	namespace  *corev1.Namespace
	blueprints []corev1alpha1.BackupBlueprint
	workload   *unstructured.Unstructured
}

func loadFixture(t testing.TB, data []byte) fixture {
	t.Helper()
	var f fixture
	for _, doc := range strings.Split(string(data), "\n---\n") {
		var meta struct{ Kind string }
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatalf("decoding a document: %v", err)
		}
		switch meta.Kind {
		case "Namespace":
			f.namespace = &corev1.Namespace{}
			mustUnmarshal(t, doc, f.namespace)
		case "BackupBlueprint":
			var bp corev1alpha1.BackupBlueprint
			mustUnmarshal(t, doc, &bp)
			f.blueprints = append(f.blueprints, bp)
		case "":
		default:
			f.workload = &unstructured.Unstructured{}
			mustUnmarshal(t, doc, &f.workload.Object)
		}
	}
	if f.workload == nil {
		t.Fatal("the fixture has no workload")
	}
	return f
}

func mustUnmarshal(t testing.TB, doc string, into any) {
	t.Helper()
	if err := yaml.UnmarshalStrict([]byte(doc), into); err != nil {
		t.Fatalf("decoding %T: %v", into, err)
	}
}

// TestGolden resolves every testdata fixture and compares the configuration, or the list of
// problems, with want.golden. Run with -update to rewrite the golden files after a deliberate
// change, and read the diff.
func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/*/input.yaml")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, input := range dirs {
		dir := filepath.Dir(input)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			data, err := os.ReadFile(input)
			if err != nil {
				t.Fatal(err)
			}
			f := loadFixture(t, data)
			bc, sel, errs := ResolveWorkload(context.Background(), f.workload, f.namespace, f.blueprints,
				SelectionPolicy{TrustedNamespaces: []string{"coffer-system"}})
			var got strings.Builder
			if sel.Blueprint != nil {
				got.WriteString("# blueprint: " + sel.Blueprint.Namespace + "/" + sel.Blueprint.Name)
				if sel.Explicit {
					got.WriteString(" (named by the workload)")
				}
				got.WriteString("\n")
			}
			for _, s := range sel.Skipped {
				got.WriteString("# skipped: " + s + "\n")
			}
			if len(errs) > 0 {
				got.WriteString("# errors:\n")
				for _, e := range errs {
					got.WriteString("- " + strings.ReplaceAll(e.Error(), "\n", "\n  ") + "\n")
				}
			}
			if bc != nil {
				out, err := yaml.Marshal(bc)
				if err != nil {
					t.Fatal(err)
				}
				got.Write(out)
			}
			golden := filepath.Join(dir, "want.golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got.String()), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./blueprints -run TestGolden -update to create it)", err)
			}
			if got.String() != string(want) {
				t.Errorf("resolution of %s differs from %s:\n--- got ---\n%s\n--- want ---\n%s", input, golden, got.String(), want)
			}
		})
	}
}
