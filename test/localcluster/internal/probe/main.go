// Command probe is the local cluster test's in-cluster client: with plain in-cluster config
// (the service-account token and KUBERNETES_SERVICE_HOST/PORT the kubelet sets) it lists the
// ConfigMaps of its own namespace and prints where it connected and what it found, so the test
// proves the path pod → kubernetes Service (10.96.0.1) → kube-proxy → API server.
package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

const namespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "probe:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg, err := rest.InClusterConfig()
	if err != nil {
		return err
	}
	cfg.Timeout = 10 * time.Second
	ns, err := os.ReadFile(namespaceFile)
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	list, err := cs.CoreV1().ConfigMaps(string(ns)).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("listing ConfigMaps through %s: %w", cfg.Host, err)
	}
	names := make([]string, 0, len(list.Items))
	for _, cm := range list.Items {
		names = append(names, cm.Name)
	}
	fmt.Printf("host=%s configmaps=%s\n", cfg.Host, strings.Join(names, ","))
	return nil
}
