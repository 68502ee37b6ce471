package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DatabaseType is the kind of server an AppBinding connects to; it picks the addon library
// that dumps, restores and queries it.
// +kubebuilder:validation:Enum=PostgreSQL;MariaDB;MySQL;Redis;ZooKeeper
type DatabaseType string

const (
	DatabasePostgreSQL DatabaseType = "PostgreSQL"
	DatabaseMariaDB    DatabaseType = "MariaDB"
	DatabaseMySQL      DatabaseType = "MySQL"
	DatabaseRedis      DatabaseType = "Redis"
	DatabaseZooKeeper  DatabaseType = "ZooKeeper"
)

// AppBindingSpec says how to reach a database: its type, where it listens and whose
// credentials to use.
// +kubebuilder:validation:XValidation:rule="!has(self.secret) || size(self.secret.name) > 0",message="secret.name is required"
type AppBindingSpec struct {
	Type DatabaseType `json:"type"`
	// Version of the server, for people and for Functions that support some versions only.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Version      string       `json:"version,omitempty"`
	ClientConfig ClientConfig `json:"clientConfig"`
	// Secret in the AppBinding's namespace holding the credentials under the keys username and
	// password. Without it the executor connects without credentials.
	// +optional
	Secret *corev1.LocalObjectReference `json:"secret,omitempty"`
	// Database that verification queries run in when a query names none (a PostgreSQL or
	// MariaDB database, a Redis db number).
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Database string `json:"database,omitempty"`
	// Parameters are free-form settings of one kind of database.
	// +optional
	// +kubebuilder:validation:MaxProperties=64
	Parameters map[string]string `json:"parameters,omitempty"`
}

// ClientConfig is the address of the server: a Service of the AppBinding's namespace, or a host.
// +kubebuilder:validation:XValidation:rule="has(self.service) != has(self.host)",message="set exactly one of service and host"
// +kubebuilder:validation:XValidation:rule="!has(self.host) || has(self.port)",message="host needs port"
// +kubebuilder:validation:XValidation:rule="!has(self.service) || !has(self.port)",message="port goes with host; a Service's port is service.port"
type ClientConfig struct {
	// Service in the AppBinding's namespace; the executor connects to its cluster IP, so the
	// cluster needs no DNS for it.
	// +optional
	Service *ServiceReference `json:"service,omitempty"`
	// Host name or IP address of a server outside the cluster (or of a headless pod).
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Host string `json:"host,omitempty"`
	// Port of Host.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port,omitempty"`
}

// ServiceReference is a port of a Service.
type ServiceReference struct {
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name"`
	// Port of the Service, by number; the Service's only port when unset.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port,omitempty"`
}

// AppBinding is a database Coffer backs up, restores into or verifies: the target of a
// BackupConfiguration, RestoreSession or BackupVerifier with apiGroup core.coffer.dev and kind
// AppBinding.
// +kubebuilder:object:root=true
// +kubebuilder:resource:categories=coffer
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.spec.type`
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=`.spec.version`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type AppBinding struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec AppBindingSpec `json:"spec"`
}

// AppBindingList is a list of AppBindings.
// +kubebuilder:object:root=true
type AppBindingList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []AppBinding `json:"items"`
}
