package servers

import (
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// zookeeperJar is the Debian package's server jar; its manifest's Class-Path names every other
// jar it needs, so it is the whole classpath.
const zookeeperJar = "/usr/share/java/zookeeper.jar"

// ZooKeeper is a standalone ZooKeeper server of the machine's Debian package, started for one
// test on 127.0.0.1 with a fresh data directory.
type ZooKeeper struct {
	Host string
	Port int
	// User and Password are the digest credentials of the server's superuser, whom no ACL
	// stops: a backup has to read every znode whatever its ACL says.
	User, Password string
	proc           *process
}

// StartZooKeeper starts a standalone ZooKeeper on a free port of 127.0.0.1 with a superuser;
// the server is stopped when the test ends.
func StartZooKeeper(t testing.TB) *ZooKeeper {
	t.Helper()
	if _, err := os.Stat(zookeeperJar); err != nil {
		t.Fatalf("servers: ZooKeeper is not installed (%v): apt-get install zookeeper (hack/dbservers.sh installs it)", err)
	}
	zk := &ZooKeeper{Host: "127.0.0.1", Port: freePort(t), User: "super", Password: randomHex(t, 12)}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "zoo.cfg")
	// forceSync=no is PostgreSQL's fsync=off: a test's data need not survive a power cut.
	conf := strings.Join([]string{
		"tickTime=2000",
		"dataDir=" + filepath.Join(dir, "data"),
		"clientPortAddress=" + zk.Host,
		"clientPort=" + strconv.Itoa(zk.Port),
		"admin.enableServer=false",
		"4lw.commands.whitelist=ruok,srvr",
		"forceSync=no",
		"",
	}, "\n")
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	classpath := zookeeperJar
	// Without a binding slf4j drops the server's log, which is what explains a failed start.
	if _, err := os.Stat("/usr/share/java/slf4j-simple.jar"); err == nil {
		classpath += ":/usr/share/java/slf4j-simple.jar"
	}
	args := []string{
		"-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Djava.net.preferIPv4Stack=true",
		"-Dzookeeper.DigestAuthenticationProvider.superDigest=" + zk.User + ":" + superDigest(zk.User, zk.Password),
		"-cp", classpath, "org.apache.zookeeper.server.ZooKeeperServerMain", cfg,
	}
	zk.proc = startProcess(t, "zookeeper", "java", args, nil)
	addr := zk.Addr()
	zk.proc.waitReady(t, addr, func() error {
		if out, err := fourLetterWord(addr, "ruok"); err != nil || out != "imok" {
			return fmt.Errorf("ruok: %q, %v", out, err)
		}
		// ruok answers before the database is loaded; srvr reports a mode only once it serves.
		if out, err := fourLetterWord(addr, "srvr"); err != nil || !strings.Contains(out, "Mode: standalone") {
			return fmt.Errorf("srvr: %q, %v", out, err)
		}
		return nil
	})
	return zk
}

// Addr is the server's host:port.
func (zk *ZooKeeper) Addr() string { return net.JoinHostPort(zk.Host, strconv.Itoa(zk.Port)) }

// superDigest is the form of a password the digest authentication provider compares with.
func superDigest(user, password string) string {
	sum := sha1.Sum([]byte(user + ":" + password))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// fourLetterWord sends one of ZooKeeper's four-letter commands and returns the answer, after
// which the server closes the connection.
func fourLetterWord(addr, word string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(c, word); err != nil {
		return "", err
	}
	out, err := io.ReadAll(c)
	return strings.TrimSpace(string(out)), err
}
