// Package webhooks holds Coffer's admission webhooks: the workload mutator that resolves
// blueprints, and the defaulters and validators of every Coffer kind. Validation is plain
// functions returning field.ErrorList; every CEL expression and template is compiled with the
// same cel and blueprints code the controllers run.
//
// It may import api, cel and blueprints; webhooks are side-effect free.
package webhooks
