package crds

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
)

type crdWant struct {
	group, kind, plural string
	namespaced          bool
	shortNames          []string
	status              bool // has the status subresource
}

// wantCRDs is every kind Coffer serves. backupverifier and backupverificationsession are
// singular on purpose: KubeStash spells them that way and its manifests must port unchanged.
var wantCRDs = []crdWant{
	{group: "storage.coffer.dev", kind: "BackupStorage", plural: "backupstorages", namespaced: true, status: true},
	{group: "storage.coffer.dev", kind: "Repository", plural: "repositories", namespaced: true, shortNames: []string{"repo"}, status: true},
	{group: "storage.coffer.dev", kind: "RetentionPolicy", plural: "retentionpolicies", namespaced: true},
	{group: "storage.coffer.dev", kind: "Snapshot", plural: "snapshots", namespaced: true, status: true},
	{group: "core.coffer.dev", kind: "BackupConfiguration", plural: "backupconfigurations", namespaced: true, shortNames: []string{"bc"}, status: true},
	{group: "core.coffer.dev", kind: "BackupSession", plural: "backupsessions", namespaced: true, status: true},
	{group: "core.coffer.dev", kind: "RestoreSession", plural: "restoresessions", namespaced: true, shortNames: []string{"restore"}, status: true},
	{group: "core.coffer.dev", kind: "BackupBlueprint", plural: "backupblueprints", namespaced: true},
	{group: "core.coffer.dev", kind: "BackupVerifier", plural: "backupverifier", namespaced: true},
	{group: "core.coffer.dev", kind: "BackupVerificationSession", plural: "backupverificationsession", namespaced: true, status: true},
	{group: "core.coffer.dev", kind: "HookTemplate", plural: "hooktemplates", namespaced: true},
	{group: "core.coffer.dev", kind: "AppBinding", plural: "appbindings", namespaced: true},
	{group: "addons.coffer.dev", kind: "Addon", plural: "addons", namespaced: false},
	{group: "addons.coffer.dev", kind: "Function", plural: "functions", namespaced: false, shortNames: []string{"fn"}},
}

// TestCRDFilesAreTheExpectedKinds keeps wantCRDs and config/crd/bases in step, so a new CRD
// cannot escape the checks below.
func TestCRDFilesAreTheExpectedKinds(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(env.RepoRoot, "config", "crd", "bases", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no CRD files in config/crd/bases: %v", err)
	}
	var got []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var crd struct {
			Metadata struct{ Name string }
		}
		if err := yaml.Unmarshal(data, &crd); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		got = append(got, crd.Metadata.Name)
	}
	var want []string
	for _, w := range wantCRDs {
		want = append(want, w.plural+"."+w.group)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("CRD files define %v, want %v", got, want)
	}
}

func TestCRDsAreEstablished(t *testing.T) {
	for _, w := range wantCRDs {
		t.Run(w.kind, func(t *testing.T) {
			crd := &unstructured.Unstructured{}
			crd.SetGroupVersionKind(schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"})
			crd.SetName(w.plural + "." + w.group)
			get(t, crd)
			conditions, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
			for _, c := range conditions {
				c, _ := c.(map[string]any)
				if c["type"] == "Established" {
					if c["status"] != "True" {
						t.Errorf("%s: Established is %v: %v", crd.GetName(), c["status"], c["message"])
					}
					return
				}
			}
			t.Errorf("%s has no Established condition: %v", crd.GetName(), conditions)
		})
	}
}

// TestServedResources checks names, scope and short names as clients discover them.
func TestServedResources(t *testing.T) {
	dc, err := discovery.NewDiscoveryClientForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range wantCRDs {
		t.Run(w.kind, func(t *testing.T) {
			list, err := dc.ServerResourcesForGroupVersion(w.group + "/v1alpha1")
			if err != nil {
				t.Fatalf("discovering %s/v1alpha1: %v", w.group, err)
			}
			var found, status bool
			for _, r := range list.APIResources {
				switch r.Name {
				case w.plural:
					found = true
					if r.Kind != w.kind {
						t.Errorf("resource %s serves kind %s, want %s", r.Name, r.Kind, w.kind)
					}
					if r.Namespaced != w.namespaced {
						t.Errorf("%s namespaced = %v, want %v", w.kind, r.Namespaced, w.namespaced)
					}
					if !slices.Equal(r.ShortNames, w.shortNames) {
						t.Errorf("%s short names = %v, want %v", w.kind, r.ShortNames, w.shortNames)
					}
					if r.SingularName != strings.ToLower(w.kind) {
						t.Errorf("%s singular name = %q, want %q", w.kind, r.SingularName, strings.ToLower(w.kind))
					}
					if !slices.Contains(r.Categories, "coffer") {
						t.Errorf("%s categories = %v, want coffer among them", w.kind, r.Categories)
					}
				case w.plural + "/status":
					status = true
				}
			}
			if !found {
				t.Fatalf("%s/v1alpha1 does not serve %s", w.group, w.plural)
			}
			if status != w.status {
				t.Errorf("%s status subresource = %v, want %v", w.kind, status, w.status)
			}
		})
	}
}
