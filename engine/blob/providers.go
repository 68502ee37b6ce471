package blob

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"cloud.google.com/go/storage"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/logging"
	"github.com/googleapis/gax-go/v2"
	gcblob "gocloud.dev/blob"
	"gocloud.dev/blob/azureblob"
	"gocloud.dev/blob/fileblob"
	"gocloud.dev/blob/gcsblob"
	"gocloud.dev/blob/s3blob"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	"google.golang.org/api/option"

	"github.com/cofferhq/coffer/engine"
)

// Retries are few and short: the files here are small, and a controller that sees an error
// reconciles again later. The SDKs' defaults (GCS: until the context ends) would hold a Check
// against a stopped server for tens of seconds.
const (
	maxAttempts = 3
	maxBackoff  = 2 * time.Second
)

// openLocal opens a directory. It creates the root directory when its parent exists, but never
// its parents: a missing parent usually means the volume is not mounted, and writing into the
// container's own file system instead would lose backups silently.
func openLocal(l *engine.LocalBackend) (*gcblob.Bucket, string, error) {
	dir := filepath.Clean(l.Path)
	if err := os.Mkdir(dir, 0o777); err != nil && !errors.Is(err, fs.ErrExist) {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, "", &classified{kind: ErrBucketNotFound, err: err}
		}
		return nil, "", classify(err, false)
	}
	b, err := fileblob.OpenBucket(dir, &fileblob.Options{
		// Temporary files next to their targets: os.TempDir is usually another file system, and
		// rename(2) across file systems fails.
		NoTempDir: true,
		// No .attrs sidecar files: restic repositories share this tree, so it holds only the
		// files written through this package.
		Metadata: fileblob.MetadataDontWrite,
	})
	if err != nil {
		return nil, "", classify(err, true)
	}
	return b, dir, nil
}

func openS3(ctx context.Context, s *engine.S3Backend, o options) (*gcblob.Bucket, error) {
	hc := o.httpClient
	if hc == nil {
		var err error
		if hc, err = newHTTPClient(s.CACert, s.InsecureTLS, s.MaxConnections); err != nil {
			return nil, fmt.Errorf("s3: %w", err)
		}
	}
	region := s.Region
	if region == "" {
		region = "us-east-1"
	}
	cfg := aws.Config{
		Region:     region,
		HTTPClient: hc,
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = maxAttempts
				o.MaxBackoff = maxBackoff
			})
		},
		// Libraries never print; the SDK would warn about skipped checksum validation.
		Logger: logging.Nop{},
		// Newer SDKs add CRC32 checksums (as trailers on streaming uploads) to every request;
		// several S3-compatible servers reject them. Send checksums only where the API
		// requires one, and do not insist on them in responses.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	}
	if s.AccessKeyID != "" {
		cfg.Credentials = credentials.NewStaticCredentialsProvider(s.AccessKeyID, s.SecretAccessKey, "")
	} else {
		// The default chain (environment, web identity such as IRSA, shared files, instance
		// metadata), and anonymous requests when it finds nothing, as restic does.
		def, err := awsconfig.LoadDefaultConfig(ctx,
			awsconfig.WithRegion(region), awsconfig.WithHTTPClient(hc), awsconfig.WithLogger(logging.Nop{}))
		if err != nil {
			return nil, fmt.Errorf("s3: loading the default AWS configuration: %w", err)
		}
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err = def.Credentials.Retrieve(rctx)
		cancel()
		if err != nil {
			cfg.Credentials = aws.AnonymousCredentials{}
		} else {
			cfg.Credentials = def.Credentials
		}
	}
	client := s3.NewFromConfig(cfg, func(opts *s3.Options) {
		// Path-style addressing (http://host/bucket/key): S3-compatible servers rarely have
		// wildcard DNS for virtual hosts, and AWS still serves it.
		opts.UsePathStyle = true
		opts.DisableLogOutputChecksumValidationSkipped = true
		if s.Endpoint != "" {
			u, _ := s.EndpointURL() // checked by Validate
			opts.BaseEndpoint = aws.String(u.String())
		}
		// Empty Endpoint: the SDK's regional AWS endpoint.
	})
	b, err := s3blob.OpenBucket(ctx, client, s.Bucket, &s3blob.Options{
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
	})
	if err != nil {
		return nil, fmt.Errorf("s3: %w", err)
	}
	return b, nil
}

func openGCS(ctx context.Context, g *engine.GCSBackend, o options) (*gcblob.Bucket, func() error, error) {
	base := o.httpClient
	if base == nil {
		var err error
		if base, err = newHTTPClient(nil, false, g.MaxConnections); err != nil {
			return nil, nil, fmt.Errorf("gcs: %w", err)
		}
	}
	var copts []option.ClientOption
	if g.EmulatorHost != "" {
		// fake-gcs-server and the like: plain HTTP, no authentication.
		copts = append(copts,
			option.WithoutAuthentication(),
			option.WithEndpoint("http://"+g.EmulatorHost+"/storage/v1/"),
			option.WithHTTPClient(base))
	} else {
		ts, err := gcsTokenSource(ctx, g)
		if err != nil {
			return nil, nil, fmt.Errorf("gcs: %w", err)
		}
		// One authenticating client over our transport, so that WithHTTPClient and
		// MaxConnections apply to GCS as they do to the others.
		hc := *base
		hc.Transport = &oauth2.Transport{Source: ts, Base: base.Transport}
		copts = append(copts, option.WithHTTPClient(&hc))
	}
	client, err := storage.NewClient(ctx, copts...)
	if err != nil {
		return nil, nil, fmt.Errorf("gcs: %w", err)
	}
	client.SetRetry(storage.WithMaxAttempts(maxAttempts),
		storage.WithBackoff(gax.Backoff{Initial: 200 * time.Millisecond, Max: maxBackoff, Multiplier: 2}))
	b, err := gcsblob.OpenBucket(ctx, nil, g.Bucket, &gcsblob.Options{Client: client})
	if err != nil {
		_ = client.Close()
		return nil, nil, fmt.Errorf("gcs: %w", err)
	}
	return b, client.Close, nil
}

// gcsTokenSource: a static token, a service account key, or the ambient credentials, looked up
// on first use so that Open does not fail where they are missing (Check reports it instead).
func gcsTokenSource(ctx context.Context, g *engine.GCSBackend) (oauth2.TokenSource, error) {
	// Token sources outlive Open's context.
	ctx = context.WithoutCancel(ctx)
	switch {
	case g.AccessToken != "":
		return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: g.AccessToken, TokenType: "Bearer"}), nil
	case len(g.ServiceAccountJSON) > 0:
		creds, err := google.CredentialsFromJSONWithType(ctx, g.ServiceAccountJSON, google.ServiceAccount, storage.ScopeFullControl)
		if err != nil {
			return nil, &classified{kind: ErrAccessDenied, err: fmt.Errorf("service account key: %w", err)}
		}
		return creds.TokenSource, nil
	}
	return &defaultTokenSource{ctx: ctx}, nil
}

type defaultTokenSource struct {
	ctx  context.Context
	once sync.Once
	ts   oauth2.TokenSource
	err  error
}

func (d *defaultTokenSource) Token() (*oauth2.Token, error) {
	d.once.Do(func() {
		var creds *google.Credentials
		creds, d.err = google.FindDefaultCredentials(d.ctx, storage.ScopeFullControl)
		if d.err != nil {
			d.err = &classified{kind: ErrAccessDenied, err: d.err}
			return
		}
		d.ts = creds.TokenSource
	})
	if d.err != nil {
		return nil, d.err
	}
	return d.ts.Token()
}

func openAzure(ctx context.Context, a *engine.AzureBackend, o options) (*gcblob.Bucket, error) {
	hc := o.httpClient
	if hc == nil {
		var err error
		if hc, err = newHTTPClient(a.CACert, false, a.MaxConnections); err != nil {
			return nil, fmt.Errorf("azure: %w", err)
		}
	}
	suffix := a.EndpointSuffix
	if suffix == "" {
		suffix = engine.DefaultAzureEndpointSuffix
	}
	serviceURL := "https://" + a.Account + ".blob." + suffix + "/"
	containerURL := serviceURL + url.PathEscape(a.Container)
	copts := azcore.ClientOptions{
		Transport: hc,
		Retry: policy.RetryOptions{
			MaxRetries:    maxAttempts - 1,
			RetryDelay:    200 * time.Millisecond,
			MaxRetryDelay: maxBackoff,
		},
	}
	var client *container.Client
	if a.AccountKey != "" {
		cred, err := container.NewSharedKeyCredential(a.Account, a.AccountKey)
		if err != nil {
			return nil, &classified{kind: ErrAccessDenied, err: fmt.Errorf("azure: account key: %w", err)}
		}
		if client, err = container.NewClientWithSharedKeyCredential(containerURL, cred,
			&container.ClientOptions{ClientOptions: copts}); err != nil {
			return nil, fmt.Errorf("azure: %w", err)
		}
	} else {
		// Workload identity, managed identity, environment: what restic uses without a key.
		cred, err := azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{ClientOptions: copts})
		if err != nil {
			return nil, &classified{kind: ErrAccessDenied, err: fmt.Errorf("azure: %w", err)}
		}
		if client, err = container.NewClient(containerURL, cred, &container.ClientOptions{ClientOptions: copts}); err != nil {
			return nil, fmt.Errorf("azure: %w", err)
		}
	}
	b, err := azureblob.OpenBucket(ctx, client, nil)
	if err != nil {
		return nil, fmt.Errorf("azure: %w", err)
	}
	return b, nil
}

// newHTTPClient is a copy of the default transport with the CA bundle added to the system roots,
// optionally no verification, and a bound on connections per host.
func newHTTPClient(caPEM []byte, insecure bool, maxConns int) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if len(caPEM) > 0 || insecure {
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if len(caPEM) > 0 && !pool.AppendCertsFromPEM(caPEM) {
			return nil, errors.New("the CA bundle holds no PEM certificate")
		}
		tr.TLSClientConfig = &tls.Config{
			RootCAs:            pool,
			InsecureSkipVerify: insecure, //nolint:gosec // the user asked for it (insecureTLS)
			MinVersion:         tls.VersionTLS12,
		}
	}
	if maxConns > 0 {
		tr.MaxConnsPerHost = maxConns
		tr.MaxIdleConnsPerHost = maxConns
	}
	return &http.Client{Transport: tr}, nil
}
