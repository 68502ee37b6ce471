package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupVersion is the group and version of this package's kinds.
var GroupVersion = schema.GroupVersion{Group: "core.coffer.dev", Version: "v1alpha1"}

var (
	// SchemeBuilder registers this package's kinds.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)
	// AddToScheme adds this package's kinds to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion,
		&BackupConfiguration{}, &BackupConfigurationList{},
		&BackupSession{}, &BackupSessionList{},
		&RestoreSession{}, &RestoreSessionList{},
		&BackupBlueprint{}, &BackupBlueprintList{},
		&BackupVerifier{}, &BackupVerifierList{},
		&BackupVerificationSession{}, &BackupVerificationSessionList{},
		&HookTemplate{}, &HookTemplateList{},
		&AppBinding{}, &AppBindingList{},
	)
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
