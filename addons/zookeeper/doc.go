// Package zookeeper backs up and restores the znodes of a ZooKeeper server as a stream of JSON
// Lines, and runs the queries of a verification against it.
//
// It talks ZooKeeper's own protocol through a pure-Go client (github.com/go-zookeeper/zk), so
// the executor image needs no Java and no zkCli. The dump is one header line,
//
//	{"format":"coffer.dev/zookeeper-znodes","version":1}
//
// then one line per znode, parents before children:
//
//	{"path":"/app/cfg","data":"aGVsbG8=","acl":[{"perms":31,"scheme":"world","id":"anyone"}],"sequence":3}
//
// data is base64, or null for a znode made without data; perms is ZooKeeper's bit mask (read 1,
// write 2, create 4, delete 8, admin 16); sequence, when not zero, is the number ZooKeeper
// would give the znode's next sequential child, which a restore carries over. The znodes are
// read one at a time and written as they are read, and a restore creates each as it reads its
// line: neither side holds more than the path from the root to the current znode (and, when
// dumping, the children names along it).
//
// What the dump cannot keep: ephemeral znodes (they die with their client's session, and are
// not dumped), the /zookeeper subtree (quotas and the ensemble's configuration belong to the
// server), and the kind of a container or TTL znode, which ZooKeeper does not tell a client:
// those come back as persistent znodes. A dump of a server in use is fuzzy, like the server's
// own snapshots: each znode is as it was when read.
//
// It may import addons, the ZooKeeper client, logr and the standard library.
package zookeeper
