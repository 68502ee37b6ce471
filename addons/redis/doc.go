// Package redis backs up and restores a Redis server key by key, and runs the queries of a
// verification against it.
//
// It speaks RESP2 itself over TCP (no client library, no redis-cli in the image): a dump is
// every key of every database, each as DUMP serialises it with the time PTTL says it has left,
// streamed from the connection into the engine in coffer's own length-prefixed format
// (format.go); a restore streams them back with pipelined RESTORE ... REPLACE. Nothing is staged
// on disk, and no value is held whole in memory on its way through. The server's RDB file is not
// used: it is on the server's volume, where an executor Job cannot read it.
//
// One server, not a cluster: SCAN and INFO keyspace see the keys of the node they ask.
//
// It may import addons and the standard library.
package redis
