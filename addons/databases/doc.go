// Package databases picks the addon library for a kind of database server: the one place that
// knows every database package, so the executor commands need not.
//
// It may import addons and its database packages.
package databases
