package localcluster

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Images of the database servers the end-to-end suites back up, built from the machine's
// Debian packages (hack/dbservers.sh installs them). Each also has coffer and restic, with
// coffer as the entrypoint, so the same image serves the server's pod and the addon's
// Function: a backup Job runs `coffer backup ...`, which execs the client programs beside it.
// A shell (dash, as /bin/sh) with coreutils, grep and sed is in each, for the pods' start-up scripts
// and the tests' checks.
const (
	PostgresRepository  = "coffer.dev/postgres"
	ZooKeeperRepository = "coffer.dev/zookeeper"
	MariaDBRepository   = "coffer.dev/mariadb"
	RedisRepository     = "coffer.dev/redis"
)

// shellPackages are in every database image, along with /bin/sh; each is a layer of its own,
// which the images share.
var shellPackages = []string{"coreutils", "grep", "sed"}

// ZooKeeperClasspath runs ZooKeeper's server (org.apache.zookeeper.server.quorum.QuorumPeerMain)
// and its command-line client (org.apache.zookeeper.ZooKeeperMain) in the ZooKeeper image, where
// it is also $CLASSPATH. Debian's zookeeper.jar names the jars it needs in its manifest;
// slf4j-simple sends ZooKeeper's log to stderr.
const ZooKeeperClasspath = "/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar"

// Ports the servers listen on, in their pods and Services.
const (
	PostgresPort  = 5432
	ZooKeeperPort = 2181
	MariaDBPort   = 3306
	RedisPort     = 6379
)

// BuildPostgresImage builds and imports coffer.dev/postgres: the newest installed PostgreSQL's
// server and client programs (initdb, postgres, pg_ctl, psql, pg_dump, pg_dumpall, pg_isready,
// ...) on the PATH, its share directory, time zones, and the user postgres, as which it runs.
// LLVM's JIT is left out (100 MiB for libLLVM); the server runs without it.
func (c *Cluster) BuildPostgresImage(ctx context.Context) (string, error) {
	spec, err := postgresImage()
	if err != nil {
		return "", err
	}
	return c.BuildPackageImage(ctx, spec)
}

func postgresImage() (PackageImage, error) {
	servers, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	if len(servers) == 0 {
		return PackageImage{}, fmt.Errorf("PostgreSQL's server is not installed (no /usr/lib/postgresql/*/bin/postgres): run hack/dbservers.sh as root, or apt-get install postgresql")
	}
	version := func(p string) int { v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(p)))); return v }
	newest := slices.MaxFunc(servers, func(a, b string) int { return version(a) - version(b) })
	v := strconv.Itoa(version(newest))
	return PackageImage{
		Repository: PostgresRepository,
		Packages:   append(slices.Clone(shellPackages), "tzdata", "postgresql-client-"+v, "postgresql-"+v),
		// initdb runs the server through popen, which needs /bin/sh.
		ExtraPaths: []string{"/bin/sh"},
		Exclude:    []string{"/usr/lib/postgresql/*/lib/llvmjit*", "/usr/lib/postgresql/*/lib/bitcode"},
		Users:      []string{"postgres"},
		WithCoffer: true,
		User:       "postgres",
		// Debian's /usr/bin/psql is a Perl wrapper that picks a cluster; the versioned
		// directory has the programs themselves.
		Env: []string{"PATH=/usr/local/bin:/usr/lib/postgresql/" + v + "/bin:/usr/bin:/bin"},
	}, nil
}

// BuildZooKeeperImage builds and imports coffer.dev/zookeeper: the JRE that /usr/bin/java
// is, Debian's ZooKeeper jars with what their manifests name, and the user zookeeper, as which
// it runs. Run the server with `java org.apache.zookeeper.server.quorum.QuorumPeerMain <zoo.cfg>`
// and the client with `java org.apache.zookeeper.ZooKeeperMain -server <host>:2181 <command>`
// ($CLASSPATH is ZooKeeperClasspath).
func (c *Cluster) BuildZooKeeperImage(ctx context.Context) (string, error) {
	spec, err := zooKeeperImage()
	if err != nil {
		return "", err
	}
	return c.BuildPackageImage(ctx, spec)
}

func zooKeeperImage() (PackageImage, error) {
	if _, err := os.Stat("/usr/share/java/zookeeper.jar"); err != nil {
		return PackageImage{}, fmt.Errorf("ZooKeeper is not installed (%v): run hack/dbservers.sh as root, or apt-get install zookeeper", err)
	}
	jre, err := ownerOf("/usr/bin/java")
	if err != nil {
		return PackageImage{}, fmt.Errorf("finding the JRE of /usr/bin/java: %w", err)
	}
	return PackageImage{
		Repository: ZooKeeperRepository,
		Packages:   append(slices.Clone(shellPackages), jre, "libzookeeper-java"),
		ExtraPaths: []string{"/usr/bin/java", "/bin/sh", "/usr/share/java/slf4j-simple.jar"},
		Users:      []string{"zookeeper"},
		WithCoffer: true,
		User:       "zookeeper",
		Env:        []string{"CLASSPATH=" + ZooKeeperClasspath},
	}, nil
}

// BuildMariaDBImage builds and imports coffer.dev/mariadb: mariadbd, mariadb-install-db, the
// mariadb client, mariadb-admin and mariadb-dump, with the user mysql, as which it runs.
func (c *Cluster) BuildMariaDBImage(ctx context.Context) (string, error) {
	return c.BuildPackageImage(ctx, PackageImage{
		Repository: MariaDBRepository,
		Packages:   append(slices.Clone(shellPackages), "mariadb-common", "mariadb-client-core", "mariadb-client", "mariadb-server-core"),
		// my.cnf is update-alternatives' link to mariadb-common's mariadb.cnf.
		ExtraPaths: []string{"/bin/sh", "/etc/mysql/my.cnf"},
		Users:      []string{"mysql"},
		WithCoffer: true,
		User:       "mysql",
		Env:        []string{"PATH=/usr/local/bin:/usr/sbin:/usr/bin:/bin"}, // mariadbd is in /usr/sbin
	})
}

// BuildRedisImage builds and imports coffer.dev/redis: redis-server and redis-cli, with the
// user redis, as which it runs.
func (c *Cluster) BuildRedisImage(ctx context.Context) (string, error) {
	return c.BuildPackageImage(ctx, PackageImage{
		Repository: RedisRepository,
		Packages:   append(slices.Clone(shellPackages), "redis-tools", "redis-server"),
		ExtraPaths: []string{"/bin/sh"},
		Users:      []string{"redis"},
		WithCoffer: true,
		User:       "redis",
	})
}

// ownerOf is the Debian package that installed the file a path finally points to.
func ownerOf(p string) (string, error) {
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", err
	}
	out, err := exec.Command("dpkg-query", "--search", real).Output()
	if err != nil {
		return "", fmt.Errorf("dpkg-query --search %s: %w", real, err)
	}
	// "openjdk-17-jre-headless:amd64: /usr/lib/jvm/.../bin/java"
	pkg, _, ok := strings.Cut(strings.TrimSpace(strings.Split(string(out), "\n")[0]), ": ")
	if !ok {
		return "", fmt.Errorf("no package owns %s", real)
	}
	return pkg, nil
}

// DatabaseServer is one database server for a test: what to create, in this order, and where
// it listens. Clients in pods reach it at Service.Spec.ClusterIP:Port (the cluster has no DNS);
// the test process can reach the pod's IP as well.
type DatabaseServer struct {
	// Secret holds the credentials under "username" and "password", as a KubeStash
	// AppBinding's auth Secret does; nil when the server has none.
	Secret *corev1.Secret
	// ConfigMap holds the server's configuration; nil when its arguments say everything.
	ConfigMap *corev1.ConfigMap
	Pod       *corev1.Pod
	Service   *corev1.Service
	Port      int32
}

// Objects are the server's objects in the order to create them.
func (s DatabaseServer) Objects() []client.Object {
	var out []client.Object
	if s.Secret != nil {
		out = append(out, s.Secret)
	}
	if s.ConfigMap != nil {
		out = append(out, s.ConfigMap)
	}
	return append(out, s.Pod, s.Service)
}

// PostgresServer is a PostgreSQL server of the image from BuildPostgresImage: on first start it
// runs initdb into an emptyDir (as postgres, superuser postgres with the password, scram-sha-256
// for every TCP client), then the server on 0.0.0.0:5432. It is Ready when pg_isready says so.
func PostgresServer(namespace, name, image, password string) DatabaseServer {
	const script = `set -e
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  printf '%s\n' "$POSTGRES_PASSWORD" > /tmp/pwfile
  initdb --username=postgres --pwfile=/tmp/pwfile --auth=scram-sha-256 --encoding=UTF8 --locale=C --pgdata="$PGDATA"
  rm /tmp/pwfile
  echo 'host all all 0.0.0.0/0 scram-sha-256' >> "$PGDATA/pg_hba.conf"
fi
exec postgres -D "$PGDATA" -c listen_addresses='*' -c unix_socket_directories=/tmp`
	secret := credentials(namespace, name, "postgres", password)
	ctr := serverContainer("postgres", image, PostgresPort)
	ctr.Command = []string{"/bin/sh", "-c", script}
	ctr.Env = []corev1.EnvVar{
		{Name: "PGDATA", Value: "/var/lib/postgresql/data/pgdata"},
		{Name: "POSTGRES_PASSWORD", ValueFrom: secretKey(secret.Name, "password")},
	}
	ctr.VolumeMounts = append(ctr.VolumeMounts, corev1.VolumeMount{Name: "data", MountPath: "/var/lib/postgresql/data"})
	ctr.ReadinessProbe = &corev1.Probe{
		ProbeHandler:  corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"pg_isready", "--host=127.0.0.1", "--port=" + strconv.Itoa(PostgresPort)}}},
		PeriodSeconds: 1,
	}
	return DatabaseServer{
		Secret:  secret,
		Pod:     serverPod(namespace, name, "postgres", ctr),
		Service: serverService(namespace, name, "postgres", PostgresPort),
		Port:    PostgresPort,
	}
}

// ZooKeeperServer is a standalone ZooKeeper server of the image from BuildZooKeeperImage, data
// in an emptyDir, the AdminServer off, and the four-letter words ruok, srvr and mntr allowed.
// It is Ready when it accepts connections.
func ZooKeeperServer(namespace, name, image string) DatabaseServer {
	cfg := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-config", Namespace: namespace, Labels: serverLabels(name, "zookeeper")},
		Data: map[string]string{"zoo.cfg": fmt.Sprintf(`tickTime=2000
dataDir=/var/lib/zookeeper/data
clientPort=%d
admin.enableServer=false
4lw.commands.whitelist=ruok,srvr,mntr
`, ZooKeeperPort)},
	}
	ctr := serverContainer("zookeeper", image, ZooKeeperPort)
	ctr.Command = []string{"java", "-Xmx256m", "-cp", ZooKeeperClasspath, "org.apache.zookeeper.server.quorum.QuorumPeerMain", "/conf/zoo.cfg"}
	ctr.VolumeMounts = append(ctr.VolumeMounts,
		corev1.VolumeMount{Name: "data", MountPath: "/var/lib/zookeeper/data"},
		corev1.VolumeMount{Name: "config", MountPath: "/conf", ReadOnly: true},
	)
	ctr.ReadinessProbe = &corev1.Probe{
		ProbeHandler:  corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(ZooKeeperPort)}},
		PeriodSeconds: 1,
	}
	pod := serverPod(namespace, name, "zookeeper", ctr)
	pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: "config", VolumeSource: corev1.VolumeSource{
		ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: cfg.Name}},
	}})
	return DatabaseServer{
		ConfigMap: cfg,
		Pod:       pod,
		Service:   serverService(namespace, name, "zookeeper", ZooKeeperPort),
		Port:      ZooKeeperPort,
	}
}

// MariaDBServer is a MariaDB server of the image from BuildMariaDBImage: on first start
// mariadb-install-db fills an emptyDir; every start sets the password of root, who may connect
// from anywhere, and the server listens on 0.0.0.0:3306. It is Ready when mariadb-admin ping
// answers. The password must not contain a single quote.
func MariaDBServer(namespace, name, image, password string) DatabaseServer {
	const script = `set -e
if [ ! -d "$DATADIR/mysql" ]; then
  # --force: there is no hostname or resolveip here, and names are not resolved anyway.
  mariadb-install-db --no-defaults --force --skip-name-resolve --skip-test-db --auth-root-authentication-method=normal --datadir="$DATADIR" > /tmp/install-db.log
fi
# mariadb-install-db also makes root@127.0.0.1 and root@<hostname> without a password, which
# would win over root@% for TCP clients.
cat > /tmp/init.sql <<SQL
DELETE FROM mysql.global_priv WHERE User = 'root' AND Host NOT IN ('localhost', '%');
FLUSH PRIVILEGES;
CREATE USER IF NOT EXISTS 'root'@'%' IDENTIFIED BY '$MARIADB_ROOT_PASSWORD';
ALTER USER 'root'@'%' IDENTIFIED BY '$MARIADB_ROOT_PASSWORD';
GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;
ALTER USER 'root'@'localhost' IDENTIFIED BY '$MARIADB_ROOT_PASSWORD';
SQL
exec mariadbd --no-defaults --datadir="$DATADIR" --bind-address=0.0.0.0 --port=3306 --socket=/tmp/mysqld.sock --skip-name-resolve --init-file=/tmp/init.sql`
	secret := credentials(namespace, name, "root", password)
	ctr := serverContainer("mariadb", image, MariaDBPort)
	ctr.Command = []string{"/bin/sh", "-c", script}
	ctr.Env = []corev1.EnvVar{
		{Name: "DATADIR", Value: "/var/lib/mysql/data"},
		{Name: "MARIADB_ROOT_PASSWORD", ValueFrom: secretKey(secret.Name, "password")},
	}
	ctr.VolumeMounts = append(ctr.VolumeMounts, corev1.VolumeMount{Name: "data", MountPath: "/var/lib/mysql"})
	ctr.ReadinessProbe = &corev1.Probe{
		// ping succeeds once the server answers, whoever asks.
		ProbeHandler:  corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"mariadb-admin", "--no-defaults", "--socket=/tmp/mysqld.sock", "ping"}}},
		PeriodSeconds: 1,
	}
	return DatabaseServer{
		Secret:  secret,
		Pod:     serverPod(namespace, name, "mariadb", ctr),
		Service: serverService(namespace, name, "mariadb", MariaDBPort),
		Port:    MariaDBPort,
	}
}

// RedisServer is a Redis server of the image from BuildRedisImage, with the password for the
// default user and its RDB file in an emptyDir, on 0.0.0.0:6379. It is Ready when it accepts
// connections.
func RedisServer(namespace, name, image, password string) DatabaseServer {
	secret := credentials(namespace, name, "default", password)
	ctr := serverContainer("redis", image, RedisPort)
	ctr.Command = []string{"redis-server", "--port", strconv.Itoa(RedisPort), "--bind", "0.0.0.0", "--dir", "/var/lib/redis", "--requirepass", "$(REDIS_PASSWORD)"}
	ctr.Env = []corev1.EnvVar{{Name: "REDIS_PASSWORD", ValueFrom: secretKey(secret.Name, "password")}}
	ctr.VolumeMounts = append(ctr.VolumeMounts, corev1.VolumeMount{Name: "data", MountPath: "/var/lib/redis"})
	ctr.ReadinessProbe = &corev1.Probe{
		ProbeHandler:  corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(RedisPort)}},
		PeriodSeconds: 1,
	}
	return DatabaseServer{
		Secret:  secret,
		Pod:     serverPod(namespace, name, "redis", ctr),
		Service: serverService(namespace, name, "redis", RedisPort),
		Port:    RedisPort,
	}
}

func credentials(namespace, name, user, password string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-auth", Namespace: namespace, Labels: serverLabels(name, "")},
		StringData: map[string]string{"username": user, "password": password},
	}
}

func secretKey(secret, key string) *corev1.EnvVarSource {
	return &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Key: key}}
}

func serverLabels(name, kind string) map[string]string {
	l := map[string]string{"app.kubernetes.io/instance": name}
	if kind != "" {
		l["app.kubernetes.io/name"] = kind
	}
	return l
}

// serverContainer runs an imported image as its own non-root user, with nothing writable but
// its emptyDirs: "data" (the caller mounts it) and /tmp.
func serverContainer(name, image string, port int32) corev1.Container {
	return corev1.Container{
		Name:            name,
		Image:           image,
		ImagePullPolicy: corev1.PullNever,
		Ports:           []corev1.ContainerPort{{Name: name, ContainerPort: port}},
		VolumeMounts:    []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}},
		SecurityContext: &corev1.SecurityContext{
			RunAsNonRoot:             ptr.To(true),
			ReadOnlyRootFilesystem:   ptr.To(true),
			AllowPrivilegeEscalation: ptr.To(false),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		},
	}
}

func serverPod(namespace, name, kind string, ctr corev1.Container) *corev1.Pod {
	empty := corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: serverLabels(name, kind)},
		Spec: corev1.PodSpec{
			Containers:                    []corev1.Container{ctr},
			Volumes:                       []corev1.Volume{{Name: "data", VolumeSource: empty}, {Name: "tmp", VolumeSource: empty}},
			TerminationGracePeriodSeconds: ptr.To[int64](5),
		},
	}
}

func serverService(namespace, name, kind string, port int32) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: serverLabels(name, kind)},
		Spec: corev1.ServiceSpec{
			Selector: serverLabels(name, ""),
			Ports:    []corev1.ServicePort{{Name: kind, Port: port, TargetPort: intstr.FromInt32(port)}},
		},
	}
}
