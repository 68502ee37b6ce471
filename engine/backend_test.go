package engine_test

import (
	"strings"
	"testing"

	"github.com/cofferhq/coffer/engine"
)

func TestBackendValidateAndName(t *testing.T) {
	tests := map[string]struct {
		b        engine.Backend
		wantErr  string
		wantName string
	}{
		"s3 with scheme-less endpoint": {b: engine.Backend{S3: &engine.S3Backend{Endpoint: "minio:9000", Bucket: "b", Prefix: "/p/"}},
			wantName: "s3 https://minio:9000/b/p"},
		"s3 with a malformed endpoint names it": {b: engine.Backend{S3: &engine.S3Backend{Endpoint: "ftp://x", Bucket: "b"}},
			wantErr: `s3.endpoint "ftp://x"`, wantName: "s3 ftp://x/b"},
		"s3 half a key pair":                {b: engine.Backend{S3: &engine.S3Backend{Bucket: "b", AccessKeyID: "k"}}, wantErr: "go together"},
		"local must be absolute":            {b: engine.Backend{Local: &engine.LocalBackend{Path: "rel"}}, wantErr: "must be absolute"},
		"two backends":                      {b: engine.Backend{Local: &engine.LocalBackend{Path: "/x"}, GCS: &engine.GCSBackend{Bucket: "b"}}, wantErr: "exactly one"},
		"azure needs account and container": {b: engine.Backend{Azure: &engine.AzureBackend{}}, wantErr: "azure.storageAccount"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := tc.b.Validate()
			if (err != nil) != (tc.wantErr != "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("Validate() = %v, want %q", err, tc.wantErr)
			}
			if tc.wantName != "" && tc.b.Name() != tc.wantName {
				t.Errorf("Name() = %q, want %q", tc.b.Name(), tc.wantName)
			}
		})
	}
}
