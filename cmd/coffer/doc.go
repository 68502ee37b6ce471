// Command coffer is Coffer's single binary: the operator (`coffer manager`) and, in later
// issues, the programs its Jobs run (backup, restore, verify, trigger) and the blueprint preview.
// Wiring is explicit: each subcommand builds exactly what it runs.
package main
