package envtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storagev1alpha1 "github.com/cofferhq/coffer/api/storage/v1alpha1"
)

func TestStart(t *testing.T) {
	e := Start(t)

	var storages storagev1alpha1.BackupStorageList
	if err := e.Client.List(t.Context(), &storages); err != nil {
		t.Fatalf("listing a Coffer kind: %v", err)
	}
	if len(e.Environment.CRDs) != 14 {
		t.Errorf("installed %d CRDs, want 14", len(e.Environment.CRDs))
	}

	var names []string
	for _, name := range []string{"a", "b"} {
		t.Run(name+"/Odd_Name!", func(t *testing.T) {
			ns := e.Namespace(t)
			names = append(names, ns)
			if !strings.HasPrefix(ns, "teststart-"+name+"-odd-name-") {
				t.Errorf("namespace %q is not named after the test", ns)
			}
			if err := e.Client.Get(t.Context(), client.ObjectKey{Name: ns}, &corev1.Namespace{}); err != nil {
				t.Errorf("namespace %s: %v", ns, err)
			}
		})
	}
	if len(names) == 2 && names[0] == names[1] {
		t.Errorf("two tests got the same namespace %s", names[0])
	}
}

func TestRepoRoot(t *testing.T) {
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "config", "crd", "bases")); err != nil {
		t.Errorf("root %s has no config/crd/bases: %v", root, err)
	}
}

func TestAssetsDir(t *testing.T) {
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}

	t.Run("KUBEBUILDER_ASSETS unset runs hack/controlplane.sh", func(t *testing.T) {
		t.Setenv("KUBEBUILDER_ASSETS", "")
		dir, err := AssetsDir(root)
		if err != nil {
			t.Fatal(err)
		}
		if err := checkBinaries(dir); err != nil {
			t.Error(err)
		}
	})

	t.Run("a failing hack/controlplane.sh says how to build them", func(t *testing.T) {
		t.Setenv("KUBEBUILDER_ASSETS", "")
		fake := t.TempDir()
		if err := os.MkdirAll(filepath.Join(fake, "hack"), 0o755); err != nil {
			t.Fatal(err)
		}
		script := "#!/bin/sh\necho 'fake controlplane.sh from TestAssetsDir: go: no network' >&2\nexit 1\n"
		if err := os.WriteFile(filepath.Join(fake, "hack", "controlplane.sh"), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		_, err := AssetsDir(fake)
		if err == nil {
			t.Fatal("no error from a failing script")
		}
		for _, want := range []string{"KUBEBUILDER_ASSETS is not set", "go: no network", "cd " + fake + " && hack/controlplane.sh", "make controlplane"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
	})

	t.Run("KUBEBUILDER_ASSETS without binaries says how to build them", func(t *testing.T) {
		t.Setenv("KUBEBUILDER_ASSETS", t.TempDir())
		_, err := AssetsDir(root)
		if err == nil {
			t.Fatal("no error for an empty KUBEBUILDER_ASSETS directory")
		}
		for _, want := range []string{"no kube-apiserver there", "no etcd there", "hack/controlplane.sh", "KUBEBUILDER_ASSETS="} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
	})
}

func TestModulePath(t *testing.T) {
	for name, tc := range map[string]struct{ gomod, want string }{
		"plain":   {"module github.com/cofferhq/coffer\n\ngo 1.26.0\n", ModulePath},
		"quoted":  {"// c\nmodule \"github.com/cofferhq/coffer\"\n", ModulePath},
		"tools":   {"module github.com/cofferhq/coffer/hack/tools/kube\n", "github.com/cofferhq/coffer/hack/tools/kube"},
		"missing": {"go 1.26.0\n", ""},
	} {
		t.Run(name, func(t *testing.T) {
			if got := modulePath([]byte(tc.gomod)); got != tc.want {
				t.Errorf("modulePath = %q, want %q", got, tc.want)
			}
		})
	}
}
