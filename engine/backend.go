package engine

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"
)

// Backend says where repositories live. Exactly one member is set.
type Backend struct {
	Local *LocalBackend
	S3    *S3Backend
	GCS   *GCSBackend
	Azure *AzureBackend
}

// LocalBackend is a directory on a mounted volume (a PVC, hostPath, NFS, ...).
type LocalBackend struct {
	// Path is the absolute directory that is the backend's root.
	Path string
}

// S3Backend is a bucket on an S3-compatible server.
type S3Backend struct {
	// Endpoint is a URL such as https://s3.amazonaws.com or http://127.0.0.1:9000; a bare host
	// means https.
	Endpoint        string
	Bucket          string
	Prefix          string
	Region          string
	AccessKeyID     string
	SecretAccessKey string
	// CACert is a PEM bundle that signs the endpoint's certificate.
	CACert      []byte
	InsecureTLS bool
	// MaxConnections bounds parallel requests; 0 keeps restic's default.
	MaxConnections int
}

// GCSBackend is a Google Cloud Storage bucket.
type GCSBackend struct {
	Bucket    string
	Prefix    string
	ProjectID string
	// ServiceAccountJSON is a service account key; empty means the ambient credentials.
	ServiceAccountJSON []byte
	// AccessToken is an OAuth2 token used instead of a key (short-lived tokens, emulators).
	AccessToken string
	// EmulatorHost (host:port) sends every request to a GCS emulator over plain HTTP.
	EmulatorHost   string
	MaxConnections int
}

// AzureBackend is an Azure Blob Storage container.
type AzureBackend struct {
	Account    string
	Container  string
	Prefix     string
	AccountKey string
	// EndpointSuffix is the host suffix after "<account>.blob.", core.windows.net when empty
	// (other clouds, or host:port of an emulator).
	EndpointSuffix string
	// CACert is a PEM bundle that signs the endpoint's certificate.
	CACert []byte
	// AccessTier for new blobs (Hot, Cool, Cold); empty leaves the account's default.
	AccessTier     string
	MaxConnections int
}

// DefaultAzureEndpointSuffix is public Azure's blob endpoint suffix.
const DefaultAzureEndpointSuffix = "core.windows.net"

// Validate reports what is missing, naming the field.
func (b Backend) Validate() error {
	set := 0
	var errs []error
	if b.Local != nil {
		set++
		if !path.IsAbs(b.Local.Path) {
			errs = append(errs, fmt.Errorf("local.path %q must be absolute", b.Local.Path))
		}
	}
	if b.S3 != nil {
		set++
		if b.S3.Bucket == "" {
			errs = append(errs, errors.New("s3.bucket is required"))
		}
		if _, err := b.S3.endpointURL(); err != nil {
			errs = append(errs, err)
		}
		if (b.S3.AccessKeyID == "") != (b.S3.SecretAccessKey == "") {
			errs = append(errs, errors.New("s3: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY go together"))
		}
	}
	if b.GCS != nil {
		set++
		if b.GCS.Bucket == "" {
			errs = append(errs, errors.New("gcs.bucket is required"))
		}
	}
	if b.Azure != nil {
		set++
		if b.Azure.Account == "" {
			errs = append(errs, errors.New("azure.storageAccount is required"))
		}
		if b.Azure.Container == "" {
			errs = append(errs, errors.New("azure.container is required"))
		}
	}
	if set != 1 {
		errs = append(errs, fmt.Errorf("exactly one backend must be set, found %d", set))
	}
	return errors.Join(errs...)
}

// Name is a short description for messages: "s3 http://host/bucket/prefix" and the like.
func (b Backend) Name() string {
	switch {
	case b.Local != nil:
		return "local " + b.Local.Path
	case b.S3 != nil:
		endpoint := b.S3.Endpoint
		if u, err := b.S3.endpointURL(); err == nil {
			endpoint = strings.TrimSuffix(u.String(), "/")
		}
		return "s3 " + endpoint + "/" + joinKey(b.S3.Bucket, b.S3.Prefix)
	case b.GCS != nil:
		return "gcs gs://" + joinKey(b.GCS.Bucket, b.GCS.Prefix)
	case b.Azure != nil:
		return "azure " + b.Azure.Account + "/" + joinKey(b.Azure.Container, b.Azure.Prefix)
	}
	return "no backend"
}

// Prefix is the key prefix of the backend root inside its bucket or container ("" for local).
func (b Backend) Prefix() string {
	switch {
	case b.S3 != nil:
		return CleanKey(b.S3.Prefix)
	case b.GCS != nil:
		return CleanKey(b.GCS.Prefix)
	case b.Azure != nil:
		return CleanKey(b.Azure.Prefix)
	}
	return ""
}

func (s *S3Backend) endpointURL() (*url.URL, error) {
	e := s.Endpoint
	if e == "" {
		e = "https://s3.amazonaws.com"
	}
	if !strings.Contains(e, "://") {
		e = "https://" + e
	}
	u, err := url.Parse(e)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("s3.endpoint %q is not an http(s) URL", s.Endpoint)
	}
	return u, nil
}

// EndpointURL is the S3 endpoint with its scheme made explicit.
func (s *S3Backend) EndpointURL() (*url.URL, error) { return s.endpointURL() }

// CleanKey turns a user-written path ("/a//b/") into an object key prefix ("a/b").
func CleanKey(p string) string {
	p = path.Clean("/" + p)
	return strings.TrimPrefix(p, "/")
}

func joinKey(parts ...string) string {
	var kept []string
	for _, p := range parts {
		if p = CleanKey(p); p != "" {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, "/")
}
