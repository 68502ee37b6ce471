package shared

import (
	"bytes"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Large core/v1 types inside Coffer's kinds (volume sources, affinity, security contexts, PVC
// specs) are kept as JSON in the Go types too, not only in the CRD schemas (whose full form
// would push the CRDs past the API server's size limit). Were they typed in Go behind an open
// schema, one object with a malformed value, which the API server accepts, would fail to decode
// and break every List of its kind for the controllers. Embedded decodes one such value
// strictly when it is used, so the error names that object and field.

// Embedded decodes preserved JSON into T, refusing unknown fields and wrong types. A nil or
// empty value gives nil.
func Embedded[T any](raw *runtime.RawExtension) (*T, error) {
	if raw == nil || len(raw.Raw) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw.Raw))
	dec.DisallowUnknownFields()
	var v T
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("not a valid %T: %w", v, err)
	}
	return &v, nil
}

// ToEmbedded encodes a value for a preserved-JSON field.
func ToEmbedded(v any) (*runtime.RawExtension, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return &runtime.RawExtension{Raw: raw}, nil
}

// Decode gives the core/v1 Volume, refusing unknown fields and wrong types.
func (v Volume) Decode() (corev1.Volume, error) {
	out, err := Embedded[corev1.Volume](&v.RawExtension)
	if err != nil {
		return corev1.Volume{}, err
	}
	if out == nil || out.Name == "" {
		return corev1.Volume{}, fmt.Errorf("a volume needs a name")
	}
	return *out, nil
}

// NewVolume wraps a core/v1 Volume.
func NewVolume(v corev1.Volume) (Volume, error) {
	raw, err := ToEmbedded(v)
	if err != nil {
		return Volume{}, err
	}
	return Volume{RawExtension: *raw}, nil
}
