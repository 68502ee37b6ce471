// Package addons holds what an executor Job does for each kind of target: the files of a volume,
// and dumps streamed from (and restores streamed into) ZooKeeper, PostgreSQL, MySQL/MariaDB and
// Redis, plus the verification queries of each.
//
// It may import engine; dumps are streamed, never staged on disk.
package addons
