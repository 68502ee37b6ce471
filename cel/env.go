package cel

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/google/cel-go/cel"
	"k8s.io/apimachinery/pkg/util/version"
	apiservercel "k8s.io/apiserver/pkg/cel"
	"k8s.io/apiserver/pkg/cel/environment"
	"k8s.io/utils/lru"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
)

// Variable names of the two environments.
const (
	VarObject          = "object"
	VarNamespaceObject = "namespaceObject"

	VarRestore  = "restore"
	VarSnapshot = "snapshot"
	VarSession  = "session"
	VarQueries  = "queries"
	VarScript   = "script"
)

// baseEnvSet is Kubernetes' base CEL environment at the compatibility version of the apiserver
// library Coffer builds with, so expressions behave exactly as in ValidatingAdmissionPolicy.
var baseEnvSet = sync.OnceValue(func() *environment.EnvSet {
	return environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion())
})

// extend adds variables and declared types to the base environment.
func extend(decls []*apiservercel.DeclType, opts ...cel.EnvOption) (*cel.Env, error) {
	set, err := baseEnvSet().Extend(environment.VersionedOptions{
		IntroducedVersion: version.MajorMinor(1, 0),
		EnvOptions:        opts,
		DeclTypes:         decls,
	})
	if err != nil {
		return nil, err
	}
	return set.Env(environment.NewExpressions)
}

// selectorEnv declares the workload and its namespace as dynamic objects: a blueprint selects
// among kinds whose schemas Coffer does not know at compile time.
var selectorEnv = sync.OnceValues(func() (*cel.Env, error) {
	return extend(nil,
		cel.Variable(VarObject, cel.DynType),
		cel.Variable(VarNamespaceObject, cel.DynType),
	)
})

// Declared types of the verification environment. The names are what a user sees in type errors.
var (
	restoreType = apiservercel.NewObjectType("coffer.Restore", fields(map[string]*apiservercel.DeclType{
		"restoreSession": apiservercel.StringType,
		"phase":          apiservercel.StringType,
		"succeeded":      apiservercel.BoolType,
		"duration":       apiservercel.DurationType,
		"sizeBytes":      apiservercel.IntType,
		"components":     apiservercel.IntType,
		"error":          apiservercel.StringType,
	}))
	snapshotType = apiservercel.NewObjectType("coffer.Snapshot", fields(map[string]*apiservercel.DeclType{
		"name":               apiservercel.StringType,
		"repository":         apiservercel.StringType,
		"session":            apiservercel.StringType,
		"phase":              apiservercel.StringType,
		"snapshotTime":       apiservercel.TimestampType,
		"sizeBytes":          apiservercel.IntType,
		"integrity":          apiservercel.BoolType,
		"totalComponents":    apiservercel.IntType,
		"verificationStatus": apiservercel.StringType,
	}))
	sessionType = apiservercel.NewObjectType("coffer.Session", fields(map[string]*apiservercel.DeclType{
		"name":       apiservercel.StringType,
		"namespace":  apiservercel.StringType,
		"invoker":    apiservercel.StringType,
		"repository": apiservercel.StringType,
		"snapshot":   apiservercel.StringType,
		"retryLeft":  apiservercel.IntType,
	}))
	queryType = apiservercel.NewObjectType("coffer.Query", fields(map[string]*apiservercel.DeclType{
		"name":      apiservercel.StringType,
		"succeeded": apiservercel.BoolType,
		"rowCount":  apiservercel.IntType,
		"columns":   apiservercel.NewListType(apiservercel.StringType, 64),
		"rows":      apiservercel.NewListType(apiservercel.NewMapType(apiservercel.StringType, apiservercel.DynType, 64), corev1alpha1.MaxObservedRows),
		"scalar":    apiservercel.DynType,
		"duration":  apiservercel.DurationType,
		"error":     apiservercel.StringType,
	}))
	scriptType = apiservercel.NewObjectType("coffer.Script", fields(map[string]*apiservercel.DeclType{
		"exitCode":  apiservercel.IntType,
		"stdout":    apiservercel.StringType,
		"stderr":    apiservercel.StringType,
		"truncated": apiservercel.BoolType,
		"output":    apiservercel.DynType,
		"duration":  apiservercel.DurationType,
	}))
)

func fields(types map[string]*apiservercel.DeclType) map[string]*apiservercel.DeclField {
	out := make(map[string]*apiservercel.DeclField, len(types))
	for name, t := range types {
		out[name] = apiservercel.NewDeclField(name, t, true, nil, nil)
	}
	return out
}

// VerificationShape is what decides a verifier's environment: its type (which says whether
// `queries` or `script` exist) and the names of its queries (the fields of `queries`).
type VerificationShape struct {
	Type    corev1alpha1.VerificationType
	Queries []string
}

// ShapeOf returns the shape of a verifier spec.
func ShapeOf(spec *corev1alpha1.BackupVerifierSpec) VerificationShape {
	s := VerificationShape{Type: spec.Type}
	if s.Type == "" {
		s.Type = corev1alpha1.VerifyRestoreOnly
	}
	for _, q := range spec.Queries {
		s.Queries = append(s.Queries, q.Name)
	}
	return s
}

func (s VerificationShape) key() string {
	names := append([]string(nil), s.Queries...)
	sort.Strings(names)
	return string(s.Type) + "/" + strings.Join(names, ",")
}

// verificationEnvs caches one environment per shape. Shapes are few (verifiers are written by
// admins), and the bound keeps a stream of odd verifiers from growing memory.
var verificationEnvs = struct {
	sync.Mutex
	cache *lru.Cache
}{cache: lru.New(256)}

func verificationEnv(s VerificationShape) (*cel.Env, error) {
	key := s.key()
	verificationEnvs.Lock()
	defer verificationEnvs.Unlock()
	if env, ok := verificationEnvs.cache.Get(key); ok {
		return env.(*cel.Env), nil
	}
	decls := []*apiservercel.DeclType{restoreType, snapshotType, sessionType}
	opts := []cel.EnvOption{
		cel.Variable(VarRestore, restoreType.CelType()),
		cel.Variable(VarSnapshot, snapshotType.CelType()),
		cel.Variable(VarSession, sessionType.CelType()),
	}
	switch s.Type {
	case corev1alpha1.VerifyQuery:
		qf := map[string]*apiservercel.DeclType{}
		for _, name := range s.Queries {
			qf[name] = queryType
		}
		queries := apiservercel.NewObjectType("coffer.Queries", fields(qf))
		decls = append(decls, queryType, queries)
		opts = append(opts, cel.Variable(VarQueries, queries.CelType()))
	case corev1alpha1.VerifyScript:
		decls = append(decls, scriptType)
		opts = append(opts, cel.Variable(VarScript, scriptType.CelType()))
	case corev1alpha1.VerifyRestoreOnly:
	default:
		return nil, fmt.Errorf("unknown verification type %q", s.Type)
	}
	env, err := extend(decls, opts...)
	if err != nil {
		return nil, err
	}
	verificationEnvs.cache.Add(key, env)
	return env, nil
}
