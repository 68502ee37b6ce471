package databases

import (
	"fmt"

	"github.com/cofferhq/coffer/addons"
	"github.com/cofferhq/coffer/addons/mariadb"
	"github.com/cofferhq/coffer/addons/postgres"
	"github.com/cofferhq/coffer/addons/redis"
	"github.com/cofferhq/coffer/addons/zookeeper"
)

// Open returns the library that dumps, restores and queries a server of this type (an
// AppBinding's spec.type).
func Open(typ string, c addons.Connection) (addons.Database, error) {
	switch typ {
	case "PostgreSQL":
		return postgres.FromConnection(c), nil
	case "MariaDB", "MySQL":
		// MariaDB's client programs speak MySQL's protocol; only MariaDB servers are tested.
		return mariadb.FromConnection(c), nil
	case "Redis":
		return redis.FromConnection(c), nil
	case "ZooKeeper":
		return zookeeper.FromConnection(c), nil
	}
	return nil, fmt.Errorf("database type %q is not supported", typ)
}
