// Package servers starts real storage servers on 127.0.0.1 for tests and stops them when the
// test ends: versitygw for S3, fake-gcs-server for Google Cloud Storage and Azurite for Azure
// Blob Storage. The engine's tests run restic against them, so a backend is tested against a
// server that speaks the real protocol, signatures and all, rather than against a mock that
// agrees with whatever the code under test sends.
//
// Each Start function builds (on first use, through hack/tools.sh, into a per-user cache) and
// starts the pinned server in a t.TempDir, waits until it answers HTTP, and registers a
// t.Cleanup that stops it; its output is logged only when the test failed. Backend returns the
// engine.Backend that points at a bucket or container of the server.
//
// Azure needs more than a port: restic always speaks HTTPS to <account>.blob.<suffix>, so
// StartAzure makes a self-signed certificate for devstoreaccount1.blob.localhost and runs an
// in-process HTTP CONNECT proxy that sends every tunnel to Azurite. Env gives a child process
// the proxy; HTTPClient gives in-process code a client that dials Azurite directly.
//
// The database servers the addons back up are the machine's Debian packages (hack/dbservers.sh
// installs them): StartPostgres, StartMariaDB, StartRedis and StartZooKeeper each run one on a
// free port of 127.0.0.1 with a fresh data directory and random credentials. PostgreSQL and
// MariaDB refuse to run as root, so as root they run as the package's own user.
//
// It is test support: it may import engine (for its backend types), the addons (for the
// PostgreSQL package's location) and the standard library, and must not import controllers,
// Kubernetes clients or anything else under test.
package servers
