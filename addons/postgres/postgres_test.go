package postgres_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cofferhq/coffer/addons"
	"github.com/cofferhq/coffer/addons/postgres"
	"github.com/cofferhq/coffer/test/servers"
)

func conn(pg *servers.Postgres) postgres.Conn {
	return postgres.Conn{Host: pg.Host, Port: pg.Port, User: pg.User, Password: pg.Password, Bin: pg.Bin}
}

// comparable is a dump with what legitimately differs between two servers taken out: psql's
// per-dump \restrict keys, and the superuser's password, which a restore leaves as it was.
func comparable(t *testing.T, c postgres.Conn) string {
	t.Helper()
	var buf bytes.Buffer
	if err := c.Dump(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	var keep []string
	for _, line := range strings.Split(buf.String(), "\n") {
		if strings.HasPrefix(line, `\restrict `) || strings.HasPrefix(line, `\unrestrict `) || strings.HasPrefix(line, "ALTER ROLE "+c.User+" WITH ") {
			continue
		}
		keep = append(keep, line)
	}
	return strings.Join(keep, "\n")
}

// A server with roles, two databases and awkward data is dumped through restic into a
// repository and restored from it into a fresh server: the two then dump identically. The
// streams go from pg_dumpall into restic and from restic into psql, never through a file.
func TestDumpAndRestoreThroughTheEngine(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	src, dst := servers.StartPostgres(t), servers.StartPostgres(t)
	src.Psql(t, "postgres", "CREATE ROLE shop_owner LOGIN PASSWORD 'it''s secret'")
	src.Psql(t, "postgres", "CREATE DATABASE shop OWNER shop_owner")
	src.Psql(t, "postgres", "CREATE DATABASE \"Mixed Case\"")
	src.Psql(t, "shop", `CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL, avatar bytea, note text, seen timestamptz);
		ALTER TABLE users OWNER TO shop_owner;
		INSERT INTO users SELECT g, 'user ' || g || E' ünïcödé \t "quoted" ''single''', decode(md5(g::text), 'hex'),
			CASE WHEN g % 7 = 0 THEN NULL ELSE repeat('x', g % 50) END, timestamptz '2026-01-01 00:00:00+00' + g * interval '1 minute'
		FROM generate_series(1, 5000) g;
		CREATE VIEW recent AS SELECT id, name FROM users WHERE seen > timestamptz '2026-01-03';
		CREATE SEQUENCE orders_seq START 42;
		GRANT SELECT ON users TO PUBLIC;`)
	src.Psql(t, "Mixed Case", "CREATE TABLE t (v text); INSERT INTO t VALUES ('a'), ('b')")

	servers.ThroughRestic(ctx, t, conn(src), conn(dst))
	if got, want := comparable(t, conn(dst)), comparable(t, conn(src)); got != want {
		t.Fatalf("the restored server dumps differently:\n--- restored\n%.2000s\n--- source\n%.2000s", got, want)
	}

	// The verification queries run against the restored server.
	c := conn(dst)
	c.Database = "shop"
	res, err := c.Query(ctx, addons.Query{Statement: "SELECT count(*) AS n, count(note) AS notes FROM users"}, 10)
	if err != nil {
		t.Fatal(err)
	}
	if res.Count != 1 || strings.Join(res.Columns, ",") != "n,notes" || strings.Join(res.Rows[0], ",") != "5000,4286" {
		t.Fatalf("query result %+v", res)
	}
	if res, err := c.Query(ctx, addons.Query{Database: "shop", Schema: "public", Table: "users"}, 10); err != nil || res.Count != 5000 {
		t.Fatalf("counting the table's rows: %+v, %v", res, err)
	}
	if _, err := c.Query(ctx, addons.Query{Statement: "SELECT * FROM missing"}, 10); err == nil || !strings.Contains(err.Error(), `relation "missing" does not exist`) {
		t.Fatalf("a failing query: %v", err)
	}

	// The restored role logs in with its own password.
	owner := postgres.Conn{Host: dst.Host, Port: dst.Port, User: "shop_owner", Password: "it's secret", Database: "shop", Bin: dst.Bin}
	if _, err := owner.Query(ctx, addons.Query{Statement: "SELECT 1"}, 1); err != nil {
		t.Fatalf("the restored role cannot log in with its password: %v", err)
	}

	// A second restore into the same server meets the objects it would create, and says so.
	var dump bytes.Buffer
	if err := conn(src).Dump(ctx, &dump); err != nil {
		t.Fatal(err)
	}
	if err := conn(dst).Restore(ctx, &dump); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("restoring over existing objects: %v, want psql's 'already exists'", err)
	}
}
