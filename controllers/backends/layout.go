package backends

import (
	"context"
	"errors"
	"fmt"
	"path"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	storagev1alpha1 "github.com/cofferhq/coffer/api/storage/v1alpha1"
	"github.com/cofferhq/coffer/engine"
	"github.com/cofferhq/coffer/engine/blob"
)

// BackendMetaAPIVersion is the format of metadata.yaml Coffer writes. KubeStash's
// config.kubestash.com/v1alpha1 files have the same fields and are read too.
const BackendMetaAPIVersion = "config.coffer.dev/v1alpha1"

// BackendMeta is metadata.yaml at a backend's root: who initialized it and which repository
// directories it holds.
type BackendMeta struct {
	APIVersion        string            `json:"apiVersion"`
	Kind              string            `json:"kind"`
	CreationTimestamp metav1.Time       `json:"creationTimestamp"`
	OperatorVersion   string            `json:"operatorVersion,omitempty"`
	Repositories      []BackendMetaRepo `json:"repositories,omitempty"`
}

// BackendMetaRepo is one repository directory listed in metadata.yaml.
type BackendMetaRepo struct {
	Name      string `json:"name,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	Directory string `json:"directory"`
}

// NewBackendMeta is the metadata.yaml of a freshly initialized backend.
func NewBackendMeta(operatorVersion string, now time.Time) *BackendMeta {
	return &BackendMeta{APIVersion: BackendMetaAPIVersion, Kind: "BackendMeta",
		CreationTimestamp: metav1.NewTime(now.UTC().Truncate(time.Second)), OperatorVersion: operatorVersion}
}

// ReadBackendMeta reads metadata.yaml; (nil, nil) when there is none.
func ReadBackendMeta(ctx context.Context, b *blob.Bucket) (*BackendMeta, error) {
	data, err := b.Read(ctx, engine.BackendMetaFile)
	if err != nil {
		if isNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	var m BackendMeta
	if err := yaml.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s is not a BackendMeta: %w", engine.BackendMetaFile, err)
	}
	return &m, nil
}

// WriteYAML writes v as YAML at key unless the same bytes are already there, so a resync
// does not rewrite unchanged files.
func WriteYAML(ctx context.Context, b *blob.Bucket, key string, v any) error {
	data, err := yaml.Marshal(v)
	if err != nil {
		return err
	}
	old, err := b.Read(ctx, key)
	if err == nil && string(old) == string(data) {
		return nil
	}
	if err != nil && !isNotFound(err) {
		return err
	}
	return b.Write(ctx, key, data)
}

// StoredRepository is the form of a Repository in repository.yaml: what is needed to re-create
// it, without server-set metadata or status.
type StoredRepository struct {
	APIVersion string                         `json:"apiVersion"`
	Kind       string                         `json:"kind"`
	Metadata   StoredMeta                     `json:"metadata"`
	Spec       storagev1alpha1.RepositorySpec `json:"spec"`
}

// StoredSnapshot is the form of a Snapshot in snapshots/<name>.yaml: spec and status, so a
// re-created Snapshot keeps its components and restic IDs.
type StoredSnapshot struct {
	APIVersion string                         `json:"apiVersion"`
	Kind       string                         `json:"kind"`
	Metadata   StoredMeta                     `json:"metadata"`
	Spec       storagev1alpha1.SnapshotSpec   `json:"spec"`
	Status     storagev1alpha1.SnapshotStatus `json:"status,omitempty"`
}

// StoredMeta is the metadata kept in stored objects.
type StoredMeta struct {
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// StoreRepository is the repository.yaml content for repo.
func StoreRepository(repo *storagev1alpha1.Repository) *StoredRepository {
	return &StoredRepository{APIVersion: storagev1alpha1.GroupVersion.String(), Kind: "Repository",
		Metadata: StoredMeta{Name: repo.Name, Namespace: repo.Namespace, Labels: repo.Labels},
		Spec:     repo.Spec}
}

// StoreSnapshot is the snapshots/<name>.yaml content for snap.
func StoreSnapshot(snap *storagev1alpha1.Snapshot) *StoredSnapshot {
	return &StoredSnapshot{APIVersion: storagev1alpha1.GroupVersion.String(), Kind: "Snapshot",
		Metadata: StoredMeta{Name: snap.Name, Namespace: snap.Namespace, Labels: snap.Labels},
		Spec:     snap.Spec, Status: snap.Status}
}

// SyncedAnnotation marks a Repository or Snapshot re-created from a backend's files: "true" once
// done, SyncRestoring while a Snapshot's status is being put back.
const (
	SyncedAnnotation = "coffer.dev/synced-from-backend"
	SyncRestoring    = "restoring"
)

// FoundRepository is a repository directory discovered on a backend.
type FoundRepository struct {
	Dir        string
	Repository *StoredRepository
	Snapshots  []*StoredSnapshot
	// Err says why the directory's files could not be read.
	Err error
}

// maxDiscoveryDepth bounds how deep Discover looks for repository.yaml files; repository paths
// are usually <namespace>/<app> or a little deeper.
const maxDiscoveryDepth = 6

// Discover finds every directory holding a repository.yaml below the root, breadth first,
// without descending into a repository (its restic data can hold many thousands of objects).
func Discover(ctx context.Context, b *blob.Bucket) ([]FoundRepository, error) {
	var found []FoundRepository
	level := []string{""}
	for depth := 0; depth < maxDiscoveryDepth && len(level) > 0; depth++ {
		var next []string
		for _, dir := range level {
			if dir != "" {
				ok, err := b.Exists(ctx, engine.RepositoryFile(dir))
				if err != nil {
					return nil, err
				}
				if ok {
					found = append(found, readFound(ctx, b, dir))
					continue
				}
			}
			subs, err := b.Dirs(ctx, dir)
			if err != nil {
				return nil, err
			}
			for _, s := range subs {
				next = append(next, s)
			}
		}
		level = next
	}
	return found, nil
}

func readFound(ctx context.Context, b *blob.Bucket, dir string) FoundRepository {
	f := FoundRepository{Dir: dir}
	data, err := b.Read(ctx, engine.RepositoryFile(dir))
	if err == nil {
		f.Repository = &StoredRepository{}
		err = yaml.Unmarshal(data, f.Repository)
	}
	if err != nil {
		f.Err = fmt.Errorf("%s: %w", engine.RepositoryFile(dir), err)
		f.Repository = nil
		return f
	}
	objs, err := b.List(ctx, path.Join(dir, engine.SnapshotsDir))
	if err != nil {
		f.Err = err
		return f
	}
	for _, o := range objs {
		if path.Ext(o.Key) != ".yaml" {
			continue
		}
		data, err := b.Read(ctx, o.Key)
		var s StoredSnapshot
		if err == nil {
			err = yaml.Unmarshal(data, &s)
		}
		if err != nil {
			f.Err = fmt.Errorf("%s: %w", o.Key, err)
			continue
		}
		f.Snapshots = append(f.Snapshots, &s)
	}
	return f
}

func isNotFound(err error) bool { return err != nil && errors.Is(err, blob.ErrNotFound) }

// HumanBytes formats a size in binary units as KubeStash does: "12.222 MiB".
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.3f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
