package crds

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// place puts obj where this test may create it: a namespaced object into ns, a cluster-scoped
// one under a generated name (they outlive the test's namespace).
func place(t *testing.T, obj client.Object, ns string) {
	t.Helper()
	namespaced, err := env.Client.IsObjectNamespaced(obj)
	if err != nil {
		t.Fatalf("is %T namespaced: %v", obj, err)
	}
	if namespaced {
		obj.SetNamespace(ns)
		return
	}
	obj.SetGenerateName(obj.GetName() + "-")
	obj.SetName("")
}

func create(t *testing.T, obj client.Object) {
	t.Helper()
	if err := env.Client.Create(t.Context(), obj); err != nil {
		t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
}

// get reads obj back from the API server into a zeroed obj, so nothing set locally survives
// unless the server has it.
func get(t *testing.T, obj client.Object) {
	t.Helper()
	key := client.ObjectKeyFromObject(obj)
	gvk := obj.GetObjectKind().GroupVersionKind()
	v := reflect.ValueOf(obj).Elem()
	v.Set(reflect.Zero(v.Type()))
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	if err := env.Client.Get(t.Context(), key, obj); err != nil {
		t.Fatalf("reading %T %s back: %v", obj, obj.GetName(), err)
	}
}

// invalidCase is an object the API server must reject. With update set, obj is created (and
// must be accepted), then changed by update and written with Update.
type invalidCase struct {
	obj    client.Object
	update func(client.Object)
	// path is the field the API server names, for example spec.storage.
	path string
	// message is the marker's message (an XValidation rule's, or the schema's wording).
	message string
}

func runInvalid(t *testing.T, cases map[string]invalidCase) {
	t.Helper()
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			place(t, tc.obj, env.Namespace(t))
			var err error
			if tc.update == nil {
				err = env.Client.Create(t.Context(), tc.obj)
			} else {
				create(t, tc.obj)
				tc.update(tc.obj)
				err = env.Client.Update(t.Context(), tc.obj)
			}
			expectInvalid(t, err, tc.path, tc.message)
		})
	}
}

// expectInvalid asserts that err is an Invalid error with a cause for path whose message
// contains message, and that the error's text names both.
func expectInvalid(t *testing.T, err error, path, message string) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted; want Invalid at %s: %q", path, message)
	}
	if !apierrors.IsInvalid(err) {
		t.Fatalf("got %v (reason %s); want Invalid at %s: %q", err, apierrors.ReasonForError(err), path, message)
	}
	if text := err.Error(); !strings.Contains(text, path) || !strings.Contains(text, message) {
		t.Fatalf("error %q does not name both %s and %q", text, path, message)
	}
	var status apierrors.APIStatus
	if !errors.As(err, &status) || status.Status().Details == nil {
		t.Fatalf("error %v has no details", err)
	}
	for _, c := range status.Status().Details.Causes {
		if c.Field == path && strings.Contains(c.Message, message) {
			return
		}
	}
	t.Fatalf("no cause at %s with %q; causes: %+v", path, message, status.Status().Details.Causes)
}

// sameJSON asserts that got and want are the same JSON value, whatever the key order and
// spacing.
func sameJSON(t *testing.T, what string, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: %q is not JSON: %v", what, got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("%s: want %q is not JSON: %v", what, want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s = %s, want %s", what, got, want)
	}
}

func asJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}
