package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	"github.com/cofferhq/coffer/blueprints"
)

func newBlueprintCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "blueprint", Short: "Work with BackupBlueprints offline"}
	var files []string
	render := &cobra.Command{
		Use:   "render -f blueprint.yaml -f workload.yaml",
		Short: "Print the BackupConfiguration each workload would get, or every problem, exactly as admission resolves it",
		Long: `Reads BackupBlueprints, workloads (Deployment, StatefulSet, DaemonSet, PersistentVolumeClaim) and,
optionally, their Namespaces from the files, and resolves each workload the way Coffer's webhook
and auto-backup controller do. Blueprints' selectors may match workloads of any namespace here.
Exits non-zero when a workload cannot be resolved.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return renderBlueprints(cmd.OutOrStdout(), files)
		},
	}
	render.Flags().StringArrayVarP(&files, "filename", "f", nil, "a YAML file of blueprints, workloads and namespaces (repeatable; - for stdin)")
	_ = render.MarkFlagRequired("filename")
	cmd.AddCommand(render)
	return cmd
}

func renderBlueprints(out io.Writer, files []string) error {
	var (
		bps        []corev1alpha1.BackupBlueprint
		workloads  []*unstructured.Unstructured
		namespaces = map[string]*corev1.Namespace{}
	)
	for _, f := range files {
		objs, err := readObjects(f)
		if err != nil {
			return err
		}
		for _, u := range objs {
			switch u.GetKind() {
			case blueprints.BlueprintKind:
				var bp corev1alpha1.BackupBlueprint
				if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &bp); err != nil {
					return fmt.Errorf("%s: BackupBlueprint %s: %w", f, u.GetName(), err)
				}
				if bp.Namespace == "" {
					bp.Namespace = "default"
				}
				bps = append(bps, bp)
			case "Namespace":
				var ns corev1.Namespace
				if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &ns); err != nil {
					return fmt.Errorf("%s: Namespace %s: %w", f, u.GetName(), err)
				}
				namespaces[ns.Name] = &ns
			case "Deployment", "StatefulSet", "DaemonSet", "PersistentVolumeClaim":
				if u.GetNamespace() == "" {
					u.SetNamespace("default")
				}
				workloads = append(workloads, u)
			default:
				return fmt.Errorf("%s: %s %s is neither a BackupBlueprint, a workload nor a Namespace", f, u.GetKind(), u.GetName())
			}
		}
	}
	if len(workloads) == 0 {
		return errors.New("no workload (Deployment, StatefulSet, DaemonSet or PersistentVolumeClaim) in the files")
	}
	policy := blueprints.SelectionPolicy{}
	for _, bp := range bps {
		policy.TrustedNamespaces = append(policy.TrustedNamespaces, bp.Namespace)
	}
	failed := 0
	for i, w := range workloads {
		ns := namespaces[w.GetNamespace()]
		if ns == nil {
			ns = &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: w.GetNamespace()}}
		}
		if i > 0 {
			fmt.Fprintln(out, "---")
		}
		bc, sel, errs := blueprints.ResolveWorkload(context.Background(), w, ns, bps, policy)
		for _, s := range sel.Skipped {
			fmt.Fprintf(out, "# warning: %s\n", s)
		}
		switch {
		case len(errs) > 0:
			failed++
			fmt.Fprintf(out, "# %s %s/%s cannot be resolved:\n", w.GetKind(), w.GetNamespace(), w.GetName())
			for _, e := range errs {
				fmt.Fprintf(out, "#   %s\n", e.Error())
			}
		case bc == nil:
			fmt.Fprintf(out, "# %s %s/%s: no BackupBlueprint applies\n", w.GetKind(), w.GetNamespace(), w.GetName())
		default:
			data, err := yaml.Marshal(bc)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "# %s %s/%s, from BackupBlueprint %s\n", w.GetKind(), w.GetNamespace(), w.GetName(), blueprints.ResolvedAnnotation(sel.Blueprint))
			out.Write(bytes.ReplaceAll(data, []byte("  creationTimestamp: null\n"), nil))
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d workloads cannot be resolved", failed, len(workloads))
	}
	return nil
}

func readObjects(file string) ([]*unstructured.Unstructured, error) {
	var r io.Reader = os.Stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(r, 4096)
	var objs []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return objs, nil
			}
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if len(u.Object) > 0 {
			objs = append(objs, u)
		}
	}
}
