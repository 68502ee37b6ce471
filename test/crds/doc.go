// Package crds is an envtest suite for Coffer's CRDs as generated into config/crd/bases: on a
// real kube-apiserver it checks that every CRD is installed and served with the expected names,
// scope and short names; that minimal objects of every kind are accepted and defaulted; that the
// schema and CEL (XValidation) rules reject bad objects with the markers' messages; that the
// status subresource and generation behave; and that free-form JSON fields keep their content.
//
// It has no code outside its tests. The tests may import the api packages and test/envtest only.
package crds
