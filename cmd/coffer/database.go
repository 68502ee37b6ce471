package main

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cofferhq/coffer/addons"
	"github.com/cofferhq/coffer/addons/databases"
	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
)

// parseAppBinding splits --app-binding's namespace/name; a bare name is in namespace.
func parseAppBinding(ref, namespace string) client.ObjectKey {
	if ns, name, ok := strings.Cut(ref, "/"); ok {
		return client.ObjectKey{Namespace: ns, Name: name}
	}
	return client.ObjectKey{Namespace: namespace, Name: ref}
}

// openDatabase reads an AppBinding and what it refers to, and returns the addon library
// connected to its server.
func openDatabase(ctx context.Context, c client.Reader, key client.ObjectKey) (addons.Database, error) {
	b, conn, err := resolveAppBinding(ctx, c, key)
	if err != nil {
		return nil, err
	}
	db, err := databases.Open(string(b.Spec.Type), conn)
	if err != nil {
		return nil, fmt.Errorf("AppBinding %s: spec.type: %w", key, err)
	}
	return db, nil
}

// resolveAppBinding reads an AppBinding and resolves its address and credentials.
func resolveAppBinding(ctx context.Context, c client.Reader, key client.ObjectKey) (*corev1alpha1.AppBinding, addons.Connection, error) {
	var b corev1alpha1.AppBinding
	if err := c.Get(ctx, key, &b); err != nil {
		return nil, addons.Connection{}, fmt.Errorf("reading AppBinding %s: %w", key, err)
	}
	conn, err := connectionOf(ctx, c, &b)
	if err != nil {
		return nil, conn, fmt.Errorf("AppBinding %s: %w", key, err)
	}
	return &b, conn, nil
}

// connectionOf resolves an AppBinding's address and credentials. A Service is reached through
// its cluster IP rather than its DNS name, so clusters without cluster DNS work too.
func connectionOf(ctx context.Context, c client.Reader, b *corev1alpha1.AppBinding) (addons.Connection, error) {
	conn := addons.Connection{Database: b.Spec.Database, Params: b.Spec.Parameters}
	cc := b.Spec.ClientConfig
	switch {
	case cc.Service != nil:
		var svc corev1.Service
		if err := c.Get(ctx, client.ObjectKey{Namespace: b.Namespace, Name: cc.Service.Name}, &svc); err != nil {
			return conn, fmt.Errorf("spec.clientConfig.service: reading Service %s/%s: %w", b.Namespace, cc.Service.Name, err)
		}
		host, port, err := serviceAddress(&svc, cc.Service.Port)
		if err != nil {
			return conn, fmt.Errorf("spec.clientConfig.service: %w", err)
		}
		conn.Host, conn.Port = host, port
	case cc.Host != "":
		if cc.Port == 0 {
			return conn, fmt.Errorf("spec.clientConfig.port: Required value: the port of host %s", cc.Host)
		}
		conn.Host, conn.Port = cc.Host, int(cc.Port)
	default:
		return conn, fmt.Errorf("spec.clientConfig: Required value: a service or a host")
	}
	if b.Spec.Secret != nil {
		var sec corev1.Secret
		if err := c.Get(ctx, client.ObjectKey{Namespace: b.Namespace, Name: b.Spec.Secret.Name}, &sec); err != nil {
			return conn, fmt.Errorf("spec.secret: reading Secret %s/%s: %w", b.Namespace, b.Spec.Secret.Name, err)
		}
		conn.Username, conn.Password = string(sec.Data["username"]), string(sec.Data["password"])
		if conn.Username == "" && conn.Password == "" {
			// Connecting without credentials would fail later as an authentication error
			// that does not say the Secret is the problem.
			return conn, fmt.Errorf("spec.secret: Secret %s/%s has neither a username nor a password key", b.Namespace, b.Spec.Secret.Name)
		}
	}
	return conn, nil
}

// serviceAddress is the cluster IP of svc and the port asked for (its only port when 0).
func serviceAddress(svc *corev1.Service, port int32) (string, int, error) {
	if svc.Spec.ClusterIP == "" || svc.Spec.ClusterIP == corev1.ClusterIPNone {
		return "", 0, fmt.Errorf("Service %s/%s has no cluster IP (a headless Service: name a host instead)", svc.Namespace, svc.Name)
	}
	if port == 0 {
		if len(svc.Spec.Ports) != 1 {
			return "", 0, fmt.Errorf("Service %s/%s has %d ports: say which with port", svc.Namespace, svc.Name, len(svc.Spec.Ports))
		}
		port = svc.Spec.Ports[0].Port
	}
	for _, p := range svc.Spec.Ports {
		if p.Port == port {
			return svc.Spec.ClusterIP, int(port), nil
		}
	}
	return "", 0, fmt.Errorf("Service %s/%s has no port %d", svc.Namespace, svc.Name, port)
}
