package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cofferhq/coffer/api/shared"
)

// StorageProvider is the kind of backend a BackupStorage points at.
// +kubebuilder:validation:Enum=local;s3;gcs;azure
type StorageProvider string

const (
	ProviderLocal StorageProvider = "local"
	ProviderS3    StorageProvider = "s3"
	ProviderGCS   StorageProvider = "gcs"
	ProviderAzure StorageProvider = "azure"
)

// BackupStorageDeletionPolicy says what happens to the backend's data when the BackupStorage is
// deleted.
// +kubebuilder:validation:Enum=Delete;WipeOut
type BackupStorageDeletionPolicy string

const (
	// BackupStorageDelete removes the BackupStorage and its Repositories' objects, keeping data.
	BackupStorageDelete BackupStorageDeletionPolicy = "Delete"
	// BackupStorageWipeOut also deletes every file Coffer wrote to the backend.
	BackupStorageWipeOut BackupStorageDeletionPolicy = "WipeOut"
)

// Backend says where the data lives. Exactly the member named by provider is set.
// +kubebuilder:validation:XValidation:rule="self.provider != 'local' || has(self.local)",message="local is required when provider is local"
// +kubebuilder:validation:XValidation:rule="self.provider != 's3' || has(self.s3)",message="s3 is required when provider is s3"
// +kubebuilder:validation:XValidation:rule="self.provider != 'gcs' || has(self.gcs)",message="gcs is required when provider is gcs"
// +kubebuilder:validation:XValidation:rule="self.provider != 'azure' || has(self.azure)",message="azure is required when provider is azure"
// +kubebuilder:validation:XValidation:rule="[has(self.local), has(self.s3), has(self.gcs), has(self.azure)].filter(x, x).size() <= 1",message="only the backend named by provider may be set"
type Backend struct {
	Provider StorageProvider `json:"provider"`
	// +optional
	Local *LocalSpec `json:"local,omitempty"`
	// +optional
	S3 *S3Spec `json:"s3,omitempty"`
	// +optional
	GCS *GCSSpec `json:"gcs,omitempty"`
	// +optional
	Azure *AzureSpec `json:"azure,omitempty"`
}

// LocalSpec is a volume (a PVC, hostPath, NFS, ...) mounted into every executor pod.
type LocalSpec struct {
	corev1.VolumeSource `json:",inline"`
	// MountPath is where the volume is mounted in executor pods.
	// +kubebuilder:validation:Pattern=`^/`
	MountPath string `json:"mountPath"`
	// SubPath within the volume.
	// +optional
	SubPath string `json:"subPath,omitempty"`
	// +optional
	// +kubebuilder:validation:Minimum=1
	MaxConnections int64 `json:"maxConnections,omitempty"`
}

// S3Spec is an S3-compatible bucket.
type S3Spec struct {
	// Endpoint URL, for example https://s3.amazonaws.com or http://127.0.0.1:9000.
	// +kubebuilder:validation:MinLength=1
	Endpoint string `json:"endpoint"`
	// +kubebuilder:validation:MinLength=1
	Bucket string `json:"bucket"`
	// +optional
	Prefix string `json:"prefix,omitempty"`
	// +optional
	Region string `json:"region,omitempty"`
	// SecretName in the BackupStorage's namespace with AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
	// and optionally CA_CERT_DATA; empty means credential-less access.
	// +optional
	SecretName string `json:"secretName,omitempty"`
	// +optional
	// +kubebuilder:validation:Minimum=1
	MaxConnections int64 `json:"maxConnections,omitempty"`
	// InsecureTLS skips verification of the endpoint's certificate.
	// +optional
	InsecureTLS bool `json:"insecureTLS,omitempty"`
}

// GCSSpec is a Google Cloud Storage bucket.
type GCSSpec struct {
	// +kubebuilder:validation:MinLength=1
	Bucket string `json:"bucket"`
	// +optional
	Prefix string `json:"prefix,omitempty"`
	// SecretName with GOOGLE_SERVICE_ACCOUNT_JSON_KEY and GOOGLE_PROJECT_ID.
	// +optional
	SecretName string `json:"secretName,omitempty"`
	// +optional
	// +kubebuilder:validation:Minimum=1
	MaxConnections int64 `json:"maxConnections,omitempty"`
}

// AzureSpec is an Azure Blob container.
type AzureSpec struct {
	// +kubebuilder:validation:MinLength=1
	StorageAccount string `json:"storageAccount"`
	// +kubebuilder:validation:MinLength=1
	Container string `json:"container"`
	// +optional
	Prefix string `json:"prefix,omitempty"`
	// SecretName with AZURE_ACCOUNT_KEY; empty means workload identity.
	// +optional
	SecretName string `json:"secretName,omitempty"`
	// +optional
	// +kubebuilder:validation:Minimum=1
	MaxConnections int64 `json:"maxConnections,omitempty"`
}

// BackupStorageSpec declares a backend.
type BackupStorageSpec struct {
	Storage Backend `json:"storage"`
	// UsagePolicy says which namespaces may back up here.
	// +optional
	UsagePolicy *shared.UsagePolicy `json:"usagePolicy,omitempty"`
	// Default makes this the storage used by BackupConfigurations that name none (at most one
	// per namespace).
	// +optional
	Default bool `json:"default,omitempty"`
	// +optional
	// +kubebuilder:default=Delete
	DeletionPolicy BackupStorageDeletionPolicy `json:"deletionPolicy,omitempty"`
	// RuntimeSettings for the initializer and cleaner Jobs.
	// +optional
	RuntimeSettings *shared.RuntimeSettings `json:"runtimeSettings,omitempty"`
}

// BackupStoragePhase is derived from the conditions by Phase.
// +kubebuilder:validation:Enum=Ready;NotReady
type BackupStoragePhase string

const (
	BackupStorageReady    BackupStoragePhase = "Ready"
	BackupStorageNotReady BackupStoragePhase = "NotReady"
)

// RepositoryInfo summarises a Repository stored in a BackupStorage.
type RepositoryInfo struct {
	Name string `json:"name"`
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// Path of the repository directory inside the backend.
	// +optional
	Path string `json:"path,omitempty"`
	// +optional
	Size string `json:"size,omitempty"`
	// Synced is true when the Repository object was re-created from the backend's files.
	// +optional
	Synced *bool `json:"synced,omitempty"`
	// +optional
	Error string `json:"error,omitempty"`
}

// BackupStorageStatus is what the storage controller observed.
type BackupStorageStatus struct {
	// +optional
	Phase BackupStoragePhase `json:"phase,omitempty"`
	// TotalSize is the sum of the repositories' sizes, for example "12.222 MiB".
	// +optional
	TotalSize string `json:"totalSize,omitempty"`
	// +optional
	// +listType=atomic
	Repositories []RepositoryInfo `json:"repositories,omitempty"`
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// BackupStorage is a backend that backups are written to.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=coffer
// +kubebuilder:printcolumn:name="Provider",type=string,JSONPath=`.spec.storage.provider`
// +kubebuilder:printcolumn:name="Default",type=boolean,JSONPath=`.spec.default`
// +kubebuilder:printcolumn:name="Deletion-Policy",type=string,JSONPath=`.spec.deletionPolicy`
// +kubebuilder:printcolumn:name="Total-Size",type=string,JSONPath=`.status.totalSize`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type BackupStorage struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec BackupStorageSpec `json:"spec"`
	// +optional
	Status BackupStorageStatus `json:"status,omitempty"`
}

// BackupStorageList is a list of BackupStorages.
// +kubebuilder:object:root=true
type BackupStorageList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []BackupStorage `json:"items"`
}
