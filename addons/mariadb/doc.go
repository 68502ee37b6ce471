// Package mariadb backs up and restores a MariaDB (or MySQL) server as a stream of SQL, and runs
// the queries of a verification against it.
//
// The dump is mariadb-dump's: every database with its routines, events, triggers and views, and
// every account and grant as statements, streamed from the program's stdout into the engine and
// back into the mariadb client's stdin on restore; nothing is staged on disk. The client
// programs are Debian's mariadb-client (Conn.Bin). MySQL servers speak the same protocol, and
// mariadb-dump writes what only MySQL runs in comments of its own, but only MariaDB is tested.
//
// It may import addons and the standard library.
package mariadb
