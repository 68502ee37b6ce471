// Package addons holds what an executor Job does for each kind of target: the files of a volume,
// and dumps streamed from (and restores streamed into) ZooKeeper, PostgreSQL, MySQL/MariaDB and
// Redis, plus the verification queries of each.
//
// This package is the contract every database package meets (Database, Connection, Query,
// Result); addons/databases picks the one a connection's type names. Dumps are streamed, never
// staged on disk.
//
// It may import engine and the standard library.
package addons
