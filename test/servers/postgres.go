package servers

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/cofferhq/coffer/addons/postgres"
)

// Postgres is a PostgreSQL server of the machine's Debian package, started for one test on
// 127.0.0.1 with a fresh data directory and password authentication over TCP.
type Postgres struct {
	Host, User, Password string
	Port                 int
	// Bin is the directory of the server's programs (pg_dump, psql, ...), so clients of the
	// same version are used.
	Bin  string
	proc *process
}

// PostgresBin is the bin directory of the newest PostgreSQL the machine has.
func PostgresBin() (string, error) {
	bin, err := postgres.NewestBin()
	if err != nil {
		return "", fmt.Errorf("%v: apt-get install postgresql (hack/dbservers.sh installs every database server the tests use)", err)
	}
	return bin, nil
}

// serviceUser is whom a database server runs as: PostgreSQL and MariaDB refuse root, so as
// root they run as the package's own user; otherwise as the user running the tests.
func serviceUser(t testing.TB, name string) *syscall.Credential {
	t.Helper()
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatalf("servers: the tests run as root, and the database server must not: user %s: %v (installing the package creates it)", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

// ownedDir makes a directory for a server's files that cred's user may write, removed when the
// test ends. t.TempDir is not used: its parents are private to the user running the tests.
func ownedDir(t testing.TB, cred *syscall.Credential) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "coffer-db-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// runAs runs a setup program (initdb, mariadb-install-db) as cred's user and fails the test with
// its output when it fails.
func runAs(t testing.TB, cred *syscall.Credential, bin string, args ...string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("servers: %s %v: %v\n%s", filepath.Base(bin), args, err, out)
	}
}

// StartPostgres initialises a data directory and starts postgres on a free port of 127.0.0.1;
// the server is stopped when the test ends.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	bin, err := PostgresBin()
	if err != nil {
		t.Fatalf("servers: %v", err)
	}
	cred := serviceUser(t, "postgres")
	dir := ownedDir(t, cred)
	pg := &Postgres{Host: "127.0.0.1", User: "postgres", Password: randomHex(t, 12), Port: freePort(t), Bin: bin}
	pwfile := filepath.Join(dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(pg.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if cred != nil {
		_ = os.Chown(pwfile, int(cred.Uid), int(cred.Gid))
	}
	data := filepath.Join(dir, "data")
	runAs(t, cred, filepath.Join(bin, "initdb"), "--pgdata", data, "--username", pg.User, "--pwfile", pwfile,
		"--auth-local", "trust", "--auth-host", "scram-sha-256", "--encoding", "UTF8", "--locale", "C", "--no-sync")
	pg.proc = startProcessAs(t, "postgres", filepath.Join(bin, "postgres"), cred,
		[]string{"-D", data, "-h", pg.Host, "-p", strconv.Itoa(pg.Port), "-k", dir, "-c", "fsync=off"}, nil)
	addr := net.JoinHostPort(pg.Host, strconv.Itoa(pg.Port))
	pg.proc.waitReady(t, addr, func() error {
		out, err := exec.Command(filepath.Join(bin, "pg_isready"), "-h", pg.Host, "-p", strconv.Itoa(pg.Port)).CombinedOutput()
		if err != nil {
			return fmt.Errorf("pg_isready: %v: %s", err, out)
		}
		return nil
	})
	return pg
}

// Psql runs SQL as the superuser in database db and returns its unaligned output.
func (pg *Postgres) Psql(t testing.TB, db, sql string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(pg.Bin, "psql"), "-h", pg.Host, "-p", strconv.Itoa(pg.Port), "-U", pg.User, "-d", db,
		"-v", "ON_ERROR_STOP=1", "-X", "-q", "-At", "-c", sql)
	cmd.Env = append(os.Environ(), "PGPASSWORD="+pg.Password)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("psql %q: %v\n%s", sql, err, out)
	}
	return string(out)
}
