// Package postgres backs up and restores a PostgreSQL server as a stream of SQL, and runs the
// queries of a verification against it.
//
// The dump is pg_dumpall's: every database, role and grant, streamed from the program's stdout
// into the engine and back into psql's stdin on restore; nothing is staged on disk. The client
// programs are the server package's own (Conn.Bin), so their version matches the server's.
//
// It may import engine and the standard library.
package postgres
