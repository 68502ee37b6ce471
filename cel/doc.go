// Package cel compiles and evaluates Coffer's two CEL languages, each in its own environment
// built once from Kubernetes' base environment (the libraries, cost model and limits of
// ValidatingAdmissionPolicy):
//
//   - blueprint selectors: `object` (the workload) and `namespaceObject` (its namespace), bool;
//   - verification conditions: `restore`, `snapshot`, `session`, and `queries` (Query verifiers,
//     one typed field per named query) or `script` (Script verifiers); expressions are bool and
//     messages string. Field names and types are declared, so a typo or a type error is
//     rejected at compile time, that is at admission.
//
// Compile functions return a field.ErrorList whose paths are those the caller passes in, so the
// webhook that admits an object and the controller that runs it report the same problem the same
// way. Every program has a per-call cost limit and is interruptible; the evaluations of one
// object share a Budget. Compiled programs are cached by environment and expression, which is
// exactly what determines them.
//
// This package is pure: it may import api and CEL libraries, never a client or a manager.
package cel
