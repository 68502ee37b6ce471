package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// `coffer blueprint render` resolves the sample blueprint for each workload as admission does:
// the selected one gets its configuration, the one with a mistyped variable every problem.
func TestBlueprintRender(t *testing.T) {
	var out bytes.Buffer
	cmd := newBlueprintCommand()
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs([]string{"render", "-f", filepath.Join("..", "..", "config", "samples", "20-blueprint.yaml"), "-f", filepath.Join("testdata", "workloads.yaml")})
	err := cmd.Execute()
	if err == nil || !strings.Contains(err.Error(), "1 of 2 workloads cannot be resolved") {
		t.Fatalf("error %v, want one workload reported unresolvable", err)
	}
	for _, want := range []string{
		"# Deployment demo/web, from BackupBlueprint demo/daily@0",
		"kind: BackupConfiguration",
		"name: deployment-web",
		"directory: demo/deployment/web",
		"# Deployment demo/typo cannot be resolved:",
		"metadata.annotations[variables.coffer.dev/keep]",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
