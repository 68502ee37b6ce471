package blob

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"strings"

	"cloud.google.com/go/storage"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	"gocloud.dev/gcerrors"
	"google.golang.org/api/googleapi"
)

// The classes of failure a caller acts on. Errors returned by this package wrap one of them
// (test with errors.Is) together with the provider's own error, whose words stay in the message
// and which errors.As still finds (smithy.APIError, *azcore.ResponseError, *googleapi.Error,
// *fs.PathError, ...). An error that fits none of them is returned wrapped but unclassified.
var (
	// ErrNotFound: the object does not exist.
	ErrNotFound = errors.New("object not found")
	// ErrBucketNotFound: the bucket, container or local root directory does not exist.
	ErrBucketNotFound = errors.New("bucket not found")
	// ErrAccessDenied: the server refused these credentials (HTTP 401/403, a bad signature, an
	// unknown key) or the file system refused the operation.
	ErrAccessDenied = errors.New("access denied")
	// ErrUnreachable: no answer came back: connection refused, DNS, TLS or a timeout.
	ErrUnreachable = errors.New("unreachable")
)

// classified carries a sentinel next to the provider's error.
type classified struct {
	kind error
	err  error
}

func (e *classified) Error() string   { return e.kind.Error() + ": " + e.err.Error() }
func (e *classified) Unwrap() []error { return []error{e.kind, e.err} }

// classify wraps err with the sentinel it belongs to. bucketScope says that "not found" can
// only mean the bucket: in a listing (an empty prefix lists as nothing) or a write.
func classify(err error, bucketScope bool) error {
	if err == nil {
		return nil
	}
	inner := providerError(err)
	if re, ok := inner.(*azcore.ResponseError); ok {
		inner = &azureError{re}
	}
	kind := kindOf(err, bucketScope)
	if kind == nil {
		return inner
	}
	return &classified{kind: kind, err: inner}
}

func kindOf(err error, bucketScope bool) error {
	for _, k := range []error{ErrNotFound, ErrBucketNotFound, ErrAccessDenied, ErrUnreachable} {
		if errors.Is(err, k) {
			return nil // classified already, for example by a token source
		}
	}
	notFound := func(bucket bool) error {
		if bucket || bucketScope {
			return ErrBucketNotFound
		}
		return ErrNotFound
	}
	// An HTTP answer: the server is reachable, and its status says the rest.
	if status, code := httpStatus(err); status != 0 {
		switch {
		case status == http.StatusUnauthorized || status == http.StatusForbidden:
			return ErrAccessDenied
		case status == http.StatusNotFound:
			return notFound(code == "NoSuchBucket" || code == "ContainerNotFound" ||
				errors.Is(err, storage.ErrBucketNotExist))
		}
		return nil
	}
	switch {
	case errors.Is(err, context.Canceled):
		return nil
	case errors.Is(err, storage.ErrBucketNotExist):
		return ErrBucketNotFound
	case errors.Is(err, storage.ErrObjectNotExist), errors.Is(err, fs.ErrNotExist):
		return notFound(false)
	case errors.Is(err, fs.ErrPermission):
		return ErrAccessDenied
	case isNetwork(err):
		return ErrUnreachable
	}
	switch gcerrors.Code(err) {
	case gcerrors.NotFound:
		return notFound(false)
	case gcerrors.PermissionDenied:
		return ErrAccessDenied
	}
	return nil
}

// httpStatus finds the HTTP status and the provider's error code in an answer from S3, Azure or
// GCS; 0 when no answer came.
func httpStatus(err error) (int, string) {
	var code string
	if ae, ok := errors.AsType[smithy.APIError](err); ok {
		code = ae.ErrorCode()
	}
	if re, ok := errors.AsType[*awshttp.ResponseError](err); ok {
		return re.HTTPStatusCode(), code
	}
	if re, ok := errors.AsType[*azcore.ResponseError](err); ok {
		return re.StatusCode, re.ErrorCode
	}
	if ge, ok := errors.AsType[*googleapi.Error](err); ok {
		if len(ge.Errors) > 0 {
			code = ge.Errors[0].Reason
		}
		return ge.Code, code
	}
	return 0, ""
}

// isNetwork reports a request that got no answer. It names the net/http error types rather than
// the net.Error interface, which syscall.Errno also satisfies (ENOENT is no network failure).
func isNetwork(err error) bool {
	if _, ok := errors.AsType[*url.Error](err); ok {
		return true
	}
	if _, ok := errors.AsType[*net.OpError](err); ok {
		return true
	}
	if _, ok := errors.AsType[*net.DNSError](err); ok {
		return true
	}
	if _, ok := errors.AsType[*tls.CertificateVerificationError](err); ok {
		return true
	}
	if _, ok := errors.AsType[x509.UnknownAuthorityError](err); ok {
		return true
	}
	return false
}

// providerError drops gocloud's wrapper ("blob (key ...) (code=NotFound): ...") whose words
// repeat ours, keeping the driver's error underneath. gocloud's *gcerr.Error (an internal type)
// unwraps to the driver's error followed by its code.
func providerError(err error) error {
	if m, ok := err.(interface{ Unwrap() []error }); ok {
		if errs := m.Unwrap(); len(errs) > 0 && errs[0] != nil {
			return errs[0]
		}
	}
	return err
}

// azureError puts an *azcore.ResponseError on one line: its own message spans a dozen, with the
// response body, which does not fit a condition message.
type azureError struct{ *azcore.ResponseError }

func (e *azureError) Error() string {
	full := e.ResponseError.Error()
	lines := strings.Split(full, "\n")
	msg := strings.TrimSpace(lines[0]) // METHOD URL
	status := ""
	for _, l := range lines[1:] {
		if s, ok := strings.CutPrefix(l, "RESPONSE "); ok {
			_, status, _ = strings.Cut(s, ": ") // "404: 404 The specified ..."
		}
	}
	if status == "" {
		return full
	}
	msg += ": " + strings.TrimSpace(status)
	if e.ErrorCode != "" {
		msg += " (" + e.ErrorCode + ")"
	}
	return msg
}

func (e *azureError) Unwrap() error { return e.ResponseError }
