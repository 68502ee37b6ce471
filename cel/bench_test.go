package cel

import (
	"context"
	"fmt"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

const benchSelector = `object.metadata.labels.app == 'postgres' && namespaceObject.metadata.labels.env == 'prod' && object.spec.template.spec.containers.exists(c, c.image.startsWith('postgres:'))`

// BenchmarkCompileSelector compares a cached compile (what admission pays after the first time)
// with a cold one (a new expression): the ratio is what the program cache saves.
func BenchmarkCompileSelector(b *testing.B) {
	path := field.NewPath("spec", "selector")
	b.Run("cached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, errs := CompileSelector(benchSelector, path); len(errs) > 0 {
				b.Fatal(errs)
			}
		}
	})
	b.Run("uncached", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			if _, errs := CompileSelector(fmt.Sprintf("%s && object.metadata.name != 'n%d'", benchSelector, i), path); len(errs) > 0 {
				b.Fatal(errs)
			}
		}
	})
}

// BenchmarkMatches measures one selector evaluation against a workload.
func BenchmarkMatches(b *testing.B) {
	path := field.NewPath("spec", "selector")
	prog, errs := CompileSelector(benchSelector, path)
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	w, ns := workload(), namespace()
	b.ReportAllocs()
	for b.Loop() {
		if ok, ferr := prog.Matches(context.Background(), w, ns, NewBudget(RuntimeCostBudget), path); ferr != nil || !ok {
			b.Fatal(ferr)
		}
	}
}
