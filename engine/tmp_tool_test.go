package engine_test

import (
	"os/exec"
	"strings"
	"testing"
)

func resticTool(t *testing.T) string {
	out, err := exec.Command("../hack/tools.sh", "restic").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}
