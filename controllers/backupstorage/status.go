package backupstorage

import (
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cofferhq/coffer/api/shared"
	storagev1alpha1 "github.com/cofferhq/coffer/api/storage/v1alpha1"
)

// facts are what the phases observed; status is computed from them alone.
type facts struct {
	// secretErr is the problem with the backend's Secret, nil when it is fine; needsSecret says
	// whether the backend names one at all.
	needsSecret bool
	secretErr   error
	// backendErr is why the backend could not be reached or initialized; initialized that it was.
	backendErr  error
	initialized bool
	isDefault   bool
	// otherDefaults names the namespace's other default storages when this one is default too.
	otherDefaults []string
	repositories  []storagev1alpha1.RepositoryInfo
	totalSize     int64
	sized         bool
}

// conditions computes the storage's conditions from the facts.
func conditions(f *facts, generation int64) []metav1.Condition {
	var out []metav1.Condition
	if f.needsSecret {
		if f.secretErr != nil {
			out = append(out, shared.NewCondition(storagev1alpha1.TypeBackendSecretFound, metav1.ConditionFalse,
				storagev1alpha1.ReasonBackendSecretNotAvailable, f.secretErr.Error(), generation))
		} else {
			out = append(out, shared.NewCondition(storagev1alpha1.TypeBackendSecretFound, metav1.ConditionTrue,
				storagev1alpha1.ReasonBackendSecretAvailable, "the Secret has every key the backend needs", generation))
		}
	}
	if !f.isDefault {
		// No condition: a storage that is not default cannot conflict.
	} else if len(f.otherDefaults) > 0 {
		out = append(out, shared.NewCondition(storagev1alpha1.TypeDefaultStorageConflict, metav1.ConditionTrue,
			storagev1alpha1.ReasonMultipleDefaultStorages, "also default in this namespace: "+strings.Join(f.otherDefaults, ", ")+
				"; configurations that name no storage fail until only one is default", generation))
	} else {
		out = append(out, shared.NewCondition(storagev1alpha1.TypeDefaultStorageConflict, metav1.ConditionFalse,
			storagev1alpha1.ReasonSoleDefaultStorage, "no other BackupStorage of the namespace is default", generation))
	}
	switch {
	case f.initialized:
		out = append(out, shared.NewCondition(storagev1alpha1.TypeBackendInitialized, metav1.ConditionTrue,
			storagev1alpha1.ReasonBackendInitializationSucceeded, "the backend is reachable and metadata.yaml is in place", generation))
	case f.backendErr != nil:
		out = append(out, shared.NewCondition(storagev1alpha1.TypeBackendInitialized, metav1.ConditionFalse,
			storagev1alpha1.ReasonBackendInitializationFailed, f.backendErr.Error(), generation))
	case f.secretErr != nil:
		out = append(out, shared.NewCondition(storagev1alpha1.TypeBackendInitialized, metav1.ConditionFalse,
			storagev1alpha1.ReasonBackendInitializationFailed, "waiting for the backend's Secret", generation))
	}
	return out
}
