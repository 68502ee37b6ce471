// Package api gathers Coffer's API groups. The types live in api/<group>/v1alpha1; api/shared
// holds what the groups have in common.
package api

import (
	"k8s.io/apimachinery/pkg/runtime"

	addonsv1alpha1 "github.com/cofferhq/coffer/api/addons/v1alpha1"
	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	storagev1alpha1 "github.com/cofferhq/coffer/api/storage/v1alpha1"
)

var schemeBuilder = runtime.SchemeBuilder{
	storagev1alpha1.AddToScheme,
	corev1alpha1.AddToScheme,
	addonsv1alpha1.AddToScheme,
}

// AddToScheme adds every Coffer kind to s.
var AddToScheme = schemeBuilder.AddToScheme
