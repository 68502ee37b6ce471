package servers

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// redisServer is the Debian package's server.
const redisServer = "/usr/bin/redis-server"

// Redis is a redis-server of the machine's Debian package, started for one test on 127.0.0.1
// with a password and no persistence.
type Redis struct {
	Host, Password string
	Port           int
	proc           *process
}

// StartRedis starts redis-server on a free port of 127.0.0.1 with a password (requirepass), no
// RDB or AOF files, and DEBUG allowed from 127.0.0.1 (for DEBUG DIGEST, a server-side digest of
// the whole dataset that tests compare); it is stopped when the test ends.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	if _, err := os.Stat(redisServer); err != nil {
		t.Fatalf("servers: Redis is not installed: apt-get install redis-server (hack/dbservers.sh installs every database server the tests use)")
	}
	dir := t.TempDir()
	r := &Redis{Host: "127.0.0.1", Password: randomHex(t, 12), Port: freePort(t)}
	// The password goes in a file rather than on the command line, where ps shows it.
	conf := strings.Join([]string{
		"bind " + r.Host,
		"port " + strconv.Itoa(r.Port),
		"requirepass " + r.Password,
		`save ""`,
		"appendonly no",
		"dir " + dir,
		"daemonize no",
		`logfile ""`,
		"enable-debug-command local",
	}, "\n") + "\n"
	confPath := filepath.Join(dir, "redis.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	r.proc = startProcess(t, "redis-server", redisServer, []string{confPath}, nil)
	addr := net.JoinHostPort(r.Host, strconv.Itoa(r.Port))
	r.proc.waitReady(t, addr, func() error { return redisPing(addr, r.Password) })
	return r
}

// redisPing authenticates and sends PING, in RESP as any client would, so that ready means ready to
// serve an authenticated client and not only listening.
func redisPing(addr, password string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := fmt.Fprintf(c, "*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n*1\r\n$4\r\nPING\r\n", len(password), password); err != nil {
		return err
	}
	br := bufio.NewReader(c)
	for _, want := range []string{"+OK\r\n", "+PONG\r\n"} {
		line, err := br.ReadString('\n')
		if err != nil {
			return err
		}
		if line != want {
			return fmt.Errorf("redis answered %q, not %q", strings.TrimSpace(line), strings.TrimSpace(want))
		}
	}
	return nil
}
