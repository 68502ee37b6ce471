// Package blueprints turns a BackupBlueprint and a workload into a BackupConfiguration.
//
// It holds the whole of that logic, so the admission webhook and the auto-backup controller
// resolve a workload identically:
//
//   - FuncMap: sprig's hermetic functions minus everything that reads the clock, randomness, the
//     environment or the network or makes keys, with bounds on the functions that allocate;
//   - Params: what a template sees (.Workload, .Namespace, .Blueprint, .Variables), with
//     variables typed and read from variables.coffer.dev/<name> annotations;
//   - Render: every string field of the configuration template executed as a Go template with
//     missingkey=error and bounds on output, loop iterations and input size;
//   - Select: an explicit annotation beats selector matches; among matches the highest
//     priority wins, then namespace/name;
//   - Resolve: the BackupConfiguration, or a field.ErrorList naming every problem at once.
//
// This package is pure: it may import api and cel, never a client or a manager. It never
// prints; it returns errors.
package blueprints
