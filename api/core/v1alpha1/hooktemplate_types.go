package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/cofferhq/coffer/api/shared"
)

// HookTemplateSpec is a reusable hook: what to do (action) and where (executor).
// +kubebuilder:validation:XValidation:rule="self.executor.type == 'Function' || has(self.action)",message="action is required unless the executor type is Function"
type HookTemplateSpec struct {
	// UsagePolicy says which namespaces may use this template.
	// +optional
	UsagePolicy *shared.UsagePolicy `json:"usagePolicy,omitempty"`
	// Params the hook accepts; a HookInfo fills them.
	// +optional
	// +listType=map
	// +listMapKey=name
	Params []shared.ParameterDefinition `json:"params,omitempty"`
	// Action to perform.
	// +optional
	Action *HookAction `json:"action,omitempty"`
	// Executor runs the action.
	Executor HookExecutor `json:"executor"`
}

// HookActionType names an action.
// +kubebuilder:validation:Enum=exec;httpGet;httpPost;tcpSocket
type HookActionType string

const (
	HookActionExec      HookActionType = "exec"
	HookActionHTTPGet   HookActionType = "httpGet"
	HookActionHTTPPost  HookActionType = "httpPost"
	HookActionTCPSocket HookActionType = "tcpSocket"
)

// HookAction is exactly one action.
// +kubebuilder:validation:XValidation:rule="[has(self.exec), has(self.httpGet), has(self.httpPost), has(self.tcpSocket)].filter(x, x).size() == 1",message="set exactly one of exec, httpGet, httpPost, tcpSocket"
type HookAction struct {
	// ContainerName is the container of the executor pod that runs exec; its first container
	// when empty.
	// +optional
	ContainerName string `json:"containerName,omitempty"`
	// Exec runs a command in the executor's container.
	// +optional
	Exec *corev1.ExecAction `json:"exec,omitempty"`
	// +optional
	HTTPGet *corev1.HTTPGetAction `json:"httpGet,omitempty"`
	// +optional
	HTTPPost *HTTPPostAction `json:"httpPost,omitempty"`
	// +optional
	TCPSocket *corev1.TCPSocketAction `json:"tcpSocket,omitempty"`
}

// HTTPPostAction sends a POST request.
type HTTPPostAction struct {
	// Path to request.
	// +optional
	Path string `json:"path,omitempty"`
	// Port to connect to.
	Port intstr.IntOrString `json:"port"`
	// Host; the executor pod's IP when empty.
	// +optional
	Host string `json:"host,omitempty"`
	// Scheme is HTTP or HTTPS.
	// +optional
	// +kubebuilder:default=HTTP
	Scheme corev1.URIScheme `json:"scheme,omitempty"`
	// +optional
	// +listType=atomic
	HTTPHeaders []corev1.HTTPHeader `json:"httpHeaders,omitempty"`
	// Body of the request.
	// +optional
	Body string `json:"body,omitempty"`
	// Form data of the request.
	// +optional
	// +listType=atomic
	Form []FormEntry `json:"form,omitempty"`
}

// FormEntry is one key of a form.
type FormEntry struct {
	Key string `json:"key"`
	// +optional
	// +listType=atomic
	Values []string `json:"values,omitempty"`
}

// HookExecutorType says where a hook runs.
// +kubebuilder:validation:Enum=Function;Pod;Operator
type HookExecutorType string

const (
	HookExecutorFunction HookExecutorType = "Function"
	HookExecutorPod      HookExecutorType = "Pod"
	HookExecutorOperator HookExecutorType = "Operator"
)

// HookExecutor says where a hook runs.
// +kubebuilder:validation:XValidation:rule="self.type != 'Function' || has(self.function)",message="function is required when type is Function"
// +kubebuilder:validation:XValidation:rule="self.type != 'Pod' || (has(self.pod) && size(self.pod.selector) > 0)",message="pod.selector is required when type is Pod"
type HookExecutor struct {
	Type HookExecutorType `json:"type"`
	// +optional
	Function *FunctionHookExecutorSpec `json:"function,omitempty"`
	// +optional
	Pod *PodHookExecutorSpec `json:"pod,omitempty"`
}

// FunctionHookExecutorSpec runs the hook in a Job built from an Addon Function.
type FunctionHookExecutorSpec struct {
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// +optional
	// +listType=atomic
	Env []corev1.EnvVar `json:"env,omitempty"`
	// +optional
	// +listType=atomic
	Volumes []shared.Volume `json:"volumes,omitempty"`
	// +optional
	// +listType=atomic
	VolumeMounts []corev1.VolumeMount `json:"volumeMounts,omitempty"`
}

// PodHookExecutionStrategy says how many selected pods run the hook.
// +kubebuilder:validation:Enum=ExecuteOnOne;ExecuteOnAll
type PodHookExecutionStrategy string

const (
	ExecuteOnOne PodHookExecutionStrategy = "ExecuteOnOne"
	ExecuteOnAll PodHookExecutionStrategy = "ExecuteOnAll"
)

// PodHookExecutorSpec runs the hook in existing pods.
type PodHookExecutorSpec struct {
	// Selector over pod labels, as "k1=v1,k2=v2" (spaces around the commas and equals signs are
	// allowed, as KubeStash's examples write them).
	// +kubebuilder:validation:Pattern=`^\s*[A-Za-z0-9./_-]+\s*=\s*[A-Za-z0-9._-]*\s*(,\s*[A-Za-z0-9./_-]+\s*=\s*[A-Za-z0-9._-]*\s*)*$`
	Selector string `json:"selector"`
	// Owner restricts the pods to those controlled by this owner.
	// +optional
	Owner *metav1.OwnerReference `json:"owner,omitempty"`
	// +optional
	// +kubebuilder:default=ExecuteOnOne
	Strategy PodHookExecutionStrategy `json:"strategy,omitempty"`
}

// HookTemplate is a reusable hook.
// +kubebuilder:object:root=true
// +kubebuilder:resource:categories=coffer
// +kubebuilder:printcolumn:name="Executor",type=string,JSONPath=`.spec.executor.type`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type HookTemplate struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec HookTemplateSpec `json:"spec"`
}

// HookTemplateList is a list of HookTemplates.
// +kubebuilder:object:root=true
type HookTemplateList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []HookTemplate `json:"items"`
}
