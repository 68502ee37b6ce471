package backends

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cofferhq/coffer/api/shared"
	storagev1alpha1 "github.com/cofferhq/coffer/api/storage/v1alpha1"
	"github.com/cofferhq/coffer/engine"
)

// Secret keys, as KubeStash names them.
const (
	KeyAWSAccessKeyID       = "AWS_ACCESS_KEY_ID"
	KeyAWSSecretAccessKey   = "AWS_SECRET_ACCESS_KEY"
	KeyCACertData           = "CA_CERT_DATA"
	KeyGoogleServiceAccount = "GOOGLE_SERVICE_ACCOUNT_JSON_KEY"
	KeyGoogleProjectID      = "GOOGLE_PROJECT_ID"
	KeyAzureAccountKey      = "AZURE_ACCOUNT_KEY"
	KeyResticPassword       = "RESTIC_PASSWORD"
)

// SecretError says a Secret a backend or repository needs is missing or incomplete. Controllers
// report it as a *SecretFound=False condition; anything else as a failure to reach the backend.
type SecretError struct {
	Namespace, Name string
	// Missing lists absent keys; empty means the Secret itself is absent.
	Missing []string
	Err     error
}

func (e *SecretError) Error() string {
	if len(e.Missing) == 0 {
		if e.Err != nil && !apierrors.IsNotFound(e.Err) {
			return fmt.Sprintf("reading Secret %s/%s: %v", e.Namespace, e.Name, e.Err)
		}
		return fmt.Sprintf("Secret %s/%s does not exist", e.Namespace, e.Name)
	}
	return fmt.Sprintf("Secret %s/%s lacks %s", e.Namespace, e.Name, strings.Join(e.Missing, ", "))
}

func (e *SecretError) Unwrap() error { return e.Err }

// IsSecretError tells a Secret problem (fixed by creating or filling the Secret) from others.
func IsSecretError(err error) bool {
	var se *SecretError
	return errors.As(err, &se)
}

// ReadSecret returns the Secret's data, requiring the given keys to be present and non-empty.
func ReadSecret(ctx context.Context, c client.Reader, namespace, name string, required ...string) (map[string][]byte, error) {
	var s corev1.Secret
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &s); err != nil {
		return nil, &SecretError{Namespace: namespace, Name: name, Err: err}
	}
	var missing []string
	for _, k := range required {
		if len(s.Data[k]) == 0 {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return nil, &SecretError{Namespace: namespace, Name: name, Missing: missing}
	}
	return s.Data, nil
}

// ForStorage resolves a BackupStorage into the engine's Backend, reading its Secret when it
// names one. A local backend's path is mountPath/subPath as seen by the pod that runs the code.
func ForStorage(ctx context.Context, c client.Reader, bs *storagev1alpha1.BackupStorage) (engine.Backend, error) {
	st := bs.Spec.Storage
	ns := bs.Namespace
	switch st.Provider {
	case storagev1alpha1.ProviderLocal:
		if st.Local == nil {
			return engine.Backend{}, fmt.Errorf("spec.storage.local is required for provider local")
		}
		return engine.Backend{Local: &engine.LocalBackend{Path: path.Join(st.Local.MountPath, st.Local.SubPath)}}, nil
	case storagev1alpha1.ProviderS3:
		s := st.S3
		if s == nil {
			return engine.Backend{}, fmt.Errorf("spec.storage.s3 is required for provider s3")
		}
		out := &engine.S3Backend{Endpoint: s.Endpoint, Bucket: s.Bucket, Prefix: s.Prefix, Region: s.Region,
			InsecureTLS: s.InsecureTLS, MaxConnections: int(s.MaxConnections)}
		if s.SecretName != "" {
			data, err := ReadSecret(ctx, c, ns, s.SecretName, KeyAWSAccessKeyID, KeyAWSSecretAccessKey)
			if err != nil {
				return engine.Backend{}, err
			}
			out.AccessKeyID, out.SecretAccessKey = string(data[KeyAWSAccessKeyID]), string(data[KeyAWSSecretAccessKey])
			out.CACert = data[KeyCACertData]
		}
		return engine.Backend{S3: out}, nil
	case storagev1alpha1.ProviderGCS:
		g := st.GCS
		if g == nil {
			return engine.Backend{}, fmt.Errorf("spec.storage.gcs is required for provider gcs")
		}
		out := &engine.GCSBackend{Bucket: g.Bucket, Prefix: g.Prefix, MaxConnections: int(g.MaxConnections)}
		if g.SecretName != "" {
			data, err := ReadSecret(ctx, c, ns, g.SecretName, KeyGoogleServiceAccount, KeyGoogleProjectID)
			if err != nil {
				return engine.Backend{}, err
			}
			out.ServiceAccountJSON, out.ProjectID = data[KeyGoogleServiceAccount], string(data[KeyGoogleProjectID])
		}
		return engine.Backend{GCS: out}, nil
	case storagev1alpha1.ProviderAzure:
		a := st.Azure
		if a == nil {
			return engine.Backend{}, fmt.Errorf("spec.storage.azure is required for provider azure")
		}
		out := &engine.AzureBackend{Account: a.StorageAccount, Container: a.Container, Prefix: a.Prefix,
			MaxConnections: int(a.MaxConnections)}
		if a.SecretName != "" {
			data, err := ReadSecret(ctx, c, ns, a.SecretName, KeyAzureAccountKey)
			if err != nil {
				return engine.Backend{}, err
			}
			out.AccountKey = string(data[KeyAzureAccountKey])
		}
		return engine.Backend{Azure: out}, nil
	}
	return engine.Backend{}, fmt.Errorf("spec.storage.provider %q is not supported", st.Provider)
}

// UsagePolicyOf is the storage's usage policy; none means the default, its own namespace only.
func UsagePolicyOf(bs *storagev1alpha1.BackupStorage) shared.UsagePolicy {
	if bs.Spec.UsagePolicy == nil {
		return shared.UsagePolicy{}
	}
	return *bs.Spec.UsagePolicy
}

// SecretName is the Secret a BackupStorage's backend names, "" when it needs none.
func SecretName(bs *storagev1alpha1.BackupStorage) string {
	st := bs.Spec.Storage
	switch {
	case st.S3 != nil:
		return st.S3.SecretName
	case st.GCS != nil:
		return st.GCS.SecretName
	case st.Azure != nil:
		return st.Azure.SecretName
	}
	return ""
}

// Password reads RESTIC_PASSWORD from the encryption Secret ref points at; a ref without a
// namespace means defaultNamespace.
func Password(ctx context.Context, c client.Reader, defaultNamespace string, ref *shared.ObjectReference) (string, error) {
	if ref == nil || ref.Name == "" {
		return "", fmt.Errorf("no encryption Secret is set (spec.encryptionSecret)")
	}
	ns := ref.Namespace
	if ns == "" {
		ns = defaultNamespace
	}
	data, err := ReadSecret(ctx, c, ns, ref.Name, KeyResticPassword)
	if err != nil {
		return "", err
	}
	return string(data[KeyResticPassword]), nil
}

// StorageOf fetches the Repository's BackupStorage.
func StorageOf(ctx context.Context, c client.Reader, repo *storagev1alpha1.Repository) (*storagev1alpha1.BackupStorage, error) {
	ref := repo.Spec.StorageRef
	ns := ref.Namespace
	if ns == "" {
		ns = repo.Namespace
	}
	var bs storagev1alpha1.BackupStorage
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: ref.Name}, &bs); err != nil {
		return nil, fmt.Errorf("BackupStorage %s/%s: %w", ns, ref.Name, err)
	}
	return &bs, nil
}

// RepoDir is the Repository's directory below the backend root, as an object key.
func RepoDir(repo *storagev1alpha1.Repository) string { return engine.CleanKey(repo.Spec.Path) }

// Component is the engine repository of one component of a snapshot: the Repository's
// directory joined with repository/<version>/<session>/<component>.
func Component(backend engine.Backend, repo *storagev1alpha1.Repository, componentPath, password, cacheDir string) engine.Repo {
	return engine.Repo{
		Location: engine.Location{Backend: backend, Path: path.Join(RepoDir(repo), componentPath)},
		Password: password,
		CacheDir: cacheDir,
	}
}

// DefaultStorage is the namespace's BackupStorage with spec.default, used by configurations
// that name no storage. None, or more than one, is an error that names them.
func DefaultStorage(ctx context.Context, c client.Reader, namespace string) (*storagev1alpha1.BackupStorage, error) {
	defaults, err := DefaultStorages(ctx, c, namespace)
	if err != nil {
		return nil, err
	}
	switch len(defaults) {
	case 0:
		return nil, fmt.Errorf("namespace %s has no default BackupStorage (spec.default: true)", namespace)
	case 1:
		return &defaults[0], nil
	}
	return nil, fmt.Errorf("namespace %s has %d default BackupStorages (%s); keep spec.default on one", namespace, len(defaults), storageNames(defaults))
}

// DefaultStorages lists the namespace's BackupStorages with spec.default, by name.
func DefaultStorages(ctx context.Context, c client.Reader, namespace string) ([]storagev1alpha1.BackupStorage, error) {
	var list storagev1alpha1.BackupStorageList
	if err := c.List(ctx, &list, client.InNamespace(namespace)); err != nil {
		return nil, err
	}
	var out []storagev1alpha1.BackupStorage
	for _, bs := range list.Items {
		if bs.Spec.Default && bs.DeletionTimestamp.IsZero() {
			out = append(out, bs)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func storageNames(list []storagev1alpha1.BackupStorage) string {
	names := make([]string, len(list))
	for i, bs := range list {
		names[i] = bs.Name
	}
	return strings.Join(names, ", ")
}
