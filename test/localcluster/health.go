package localcluster

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// httpGet checks a plain-HTTP health endpoint on loopback.
func httpGet(ctx context.Context, url, want string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
		return fmt.Errorf("%s: %s: %s", url, resp.Status, body)
	}
	return nil
}

func etcdHealthy(ctx context.Context) error {
	return httpGet(ctx, "http://127.0.0.1:2379/health", `"health":"true"`)
}

// kubeProxyHealthy answers 200 once kube-proxy has synced its rules, so pods can reach the API
// server through 10.96.0.1 from then on.
func kubeProxyHealthy(ctx context.Context) error {
	return httpGet(ctx, "http://127.0.0.1:10256/healthz", "")
}
