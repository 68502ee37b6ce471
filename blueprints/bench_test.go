package blueprints

import (
	"context"
	"fmt"
	"os"
	"testing"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
)

// BenchmarkResolve measures one admission-time resolution of an annotated Deployment (the
// deployment-explicit fixture: three variables, templated backends, params and repository).
func BenchmarkResolve(b *testing.B) {
	data, err := os.ReadFile("testdata/deployment-explicit/input.yaml")
	if err != nil {
		b.Fatal(err)
	}
	f := loadFixture(b, data)
	b.ReportAllocs()
	for b.Loop() {
		if _, errs := Resolve(&f.blueprints[0], f.workload, f.namespace); len(errs) > 0 {
			b.Fatal(errs)
		}
	}
}

// BenchmarkSelect measures choosing among N selector blueprints for an unannotated workload:
// the cost the workload webhook pays on every write that no annotation short-cuts.
func BenchmarkSelect(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("blueprints=%d", n), func(b *testing.B) {
			var bps []corev1alpha1.BackupBlueprint
			for i := range n {
				bps = append(bps, blueprint("shop", fmt.Sprintf("bp-%03d", i), withPriority(int32(i%7)),
					withSelector(fmt.Sprintf(`object.metadata.labels.app == 'web' && namespaceObject.metadata.labels.env == 'prod' && object.metadata.name != 'x%d'`, i))))
			}
			w := deployment(nil)
			b.ReportAllocs()
			for b.Loop() {
				sel, errs := Select(context.Background(), w, shop, bps, trusted)
				if len(errs) > 0 || sel.Blueprint == nil {
					b.Fatal(errs)
				}
			}
		})
	}
}
