package databases

import (
	"fmt"

	"github.com/cofferhq/coffer/addons"
	"github.com/cofferhq/coffer/addons/postgres"
	"github.com/cofferhq/coffer/addons/zookeeper"
)

// Open returns the library that dumps, restores and queries a server of this type (an
// AppBinding's spec.type).
func Open(typ string, c addons.Connection) (addons.Database, error) {
	switch typ {
	case "PostgreSQL":
		return postgres.FromConnection(c), nil
	case "ZooKeeper":
		return zookeeper.FromConnection(c), nil
	}
	return nil, fmt.Errorf("database type %q is not supported", typ)
}
