package servers

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The Debian packages' programs.
const (
	mariadbServer    = "/usr/sbin/mariadbd"
	mariadbInstallDB = "/usr/bin/mariadb-install-db"
	mariadbClient    = "/usr/bin/mariadb"
)

// MariaDB is a mariadbd of the machine's Debian package, started for one test on 127.0.0.1 with
// a fresh data directory; root logs in over TCP with Password.
type MariaDB struct {
	Host, User, Password string
	Port                 int
	// Bin is the directory of the client programs (mariadb, mariadb-dump).
	Bin  string
	proc *process
}

// StartMariaDB initialises a data directory and starts mariadbd on a free port of 127.0.0.1;
// the server is stopped when the test ends.
func StartMariaDB(t testing.TB) *MariaDB {
	t.Helper()
	for _, p := range []string{mariadbServer, mariadbInstallDB, mariadbClient, "/usr/bin/mariadb-dump"} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("servers: MariaDB is not installed (no %s): apt-get install mariadb-server mariadb-client (hack/dbservers.sh installs them)", p)
		}
	}
	cred := serviceUser(t, "mysql")
	dir := ownedDir(t, cred)
	m := &MariaDB{Host: "127.0.0.1", User: "root", Password: randomHex(t, 12), Port: freePort(t), Bin: filepath.Dir(mariadbClient)}
	data := filepath.Join(dir, "data")
	// root@localhost can log in through the socket as the system's root only (unix_socket);
	// the init file gives it a password, for TCP. A connection from 127.0.0.1 is "localhost"
	// to the server without a DNS lookup. The file, not the command line, keeps it from ps.
	initFile := filepath.Join(dir, "init.sql")
	if err := os.WriteFile(initFile, []byte(fmt.Sprintf("ALTER USER root@localhost IDENTIFIED BY '%s';\n", m.Password)), 0o600); err != nil {
		t.Fatal(err)
	}
	if cred != nil {
		_ = os.Chown(initFile, int(cred.Uid), int(cred.Gid))
	}
	runAs(t, cred, mariadbInstallDB, "--no-defaults", "--datadir="+data, "--skip-test-db")
	m.proc = startProcessAs(t, "mariadbd", mariadbServer, cred, []string{
		"--no-defaults", "--datadir=" + data, "--tmpdir=" + dir,
		"--bind-address=" + m.Host, "--port=" + strconv.Itoa(m.Port),
		"--socket=" + filepath.Join(dir, "mariadbd.sock"), "--pid-file=" + filepath.Join(dir, "mariadbd.pid"),
		"--init-file=" + initFile,
		// Debian's configuration makes utf8mb4 the default; --no-defaults leaves latin1.
		"--character-set-server=utf8mb4", "--collation-server=utf8mb4_general_ci",
		// A test's server is small and need not survive a crash.
		"--innodb-buffer-pool-size=32M", "--innodb-flush-log-at-trx-commit=0", "--skip-innodb-doublewrite",
	}, nil)
	addr := net.JoinHostPort(m.Host, strconv.Itoa(m.Port))
	m.proc.waitReady(t, addr, func() error {
		_, err := m.run("", "SELECT 1")
		return err
	})
	return m
}

// run runs SQL (statements, DELIMITER and all) as root in database db ("" for none) and
// returns the rows, tab-separated, without column names.
func (m *MariaDB) run(db, sql string) (string, error) {
	args := []string{"--no-defaults", "--protocol=TCP", "--host=" + m.Host, "--port=" + strconv.Itoa(m.Port), "--user=" + m.User,
		"--default-character-set=utf8mb4", "--batch", "--skip-column-names", "--binary-mode"}
	if db != "" {
		args = append(args, "--database="+db)
	}
	cmd := exec.Command(mariadbClient, args...)
	cmd.Env = append(os.Environ(), "MYSQL_PWD="+m.Password)
	cmd.Stdin = strings.NewReader(sql)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("mariadb: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// SQL runs SQL as root in database db ("" for none) and returns its rows, tab-separated,
// without column names.
func (m *MariaDB) SQL(t testing.TB, db, sql string) string {
	t.Helper()
	out, err := m.run(db, sql)
	if err != nil {
		t.Fatalf("%.200s: %v", sql, err)
	}
	return out
}
