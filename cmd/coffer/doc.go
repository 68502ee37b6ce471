// Command coffer is Coffer's single binary: the operator (`coffer manager`), the executors its
// Jobs run (`coffer backup`, `coffer restore`; verify and trigger in later issues) and, later,
// the blueprint preview.
// Wiring is explicit: each subcommand builds exactly what it runs.
package main
