package servers

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cofferhq/coffer/engine"
)

const (
	// azuriteAccount and azuriteKey are Azurite's well-known development account.
	azuriteAccount = "devstoreaccount1"
	azuriteKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
	// azureAPIVersion is the x-ms-version of the requests made here.
	azureAPIVersion = "2021-12-02"
)

// Azure is an Azurite blob server speaking HTTPS with a self-signed certificate, and an HTTP
// CONNECT proxy in front of it.
//
// Clients address the account as https://devstoreaccount1.blob.localhost:<Port>, the URL restic
// builds from the account and an endpoint suffix of localhost:<Port>. That name does not
// resolve, so a child process reaches Azurite through the proxy (Env), and in-process code
// through HTTPClient, which dials Azurite whatever host it is asked for.
type Azure struct {
	// Port is Azurite's blob port on 127.0.0.1.
	Port int
	// Account and AccountKey are Azurite's well-known development account.
	Account, AccountKey string
	// CACert is the PEM certificate Azurite serves; it signs itself.
	CACert []byte
	// Dir is Azurite's workspace (--location).
	Dir string
	// ProxyURL is http://127.0.0.1:<port> of the CONNECT proxy that tunnels to Azurite.
	ProxyURL string

	proc   *process
	proxy  *connectProxy
	client *http.Client
}

// StartAzure starts Azurite's blob service on a free port of 127.0.0.1 with a fresh
// certificate, and the proxy in front of it. It needs Node.js.
func StartAzure(t testing.TB) *Azure {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatalf("servers: Azurite needs Node.js and npm, and node is not in PATH; install them " +
			"(apt-get install nodejs npm, or https://nodejs.org) and run hack/tools.sh azurite")
	}
	bin := Tool(t, "azurite")
	certPEM, keyPEM, err := selfSignedCert()
	if err != nil {
		t.Fatalf("servers: making Azurite's certificate: %v", err)
	}
	certDir := t.TempDir()
	certFile, keyFile := filepath.Join(certDir, "cert.pem"), filepath.Join(certDir, "key.pem")
	if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
		t.Fatalf("servers: %v", err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatalf("servers: %v", err)
	}

	a := &Azure{
		Port:       freePort(t),
		Account:    azuriteAccount,
		AccountKey: azuriteKey,
		CACert:     certPEM,
		Dir:        t.TempDir(),
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(a.Port))
	a.client = newDirectClient(addr, certPEM)
	a.proc = startProcess(t, "azurite-blob", bin, []string{
		"--blobHost", "127.0.0.1",
		"--blobPort", strconv.Itoa(a.Port),
		"--location", a.Dir,
		"--cert", certFile,
		"--key", keyFile,
		// Azurite rejects x-ms-version values newer than it knows, and the SDKs move faster.
		"--skipApiVersionCheck",
		// Azurite otherwise reports usage to Microsoft, from a test.
		"--disableTelemetry",
	}, nil)
	a.proc.onStop = a.client.CloseIdleConnections
	a.proc.waitReady(t, addr, answers(a.client, a.endpoint()+"/?comp=list"))

	a.proxy, err = startConnectProxy(addr)
	if err != nil {
		t.Fatalf("servers: starting the proxy to Azurite: %v", err)
	}
	a.ProxyURL = "http://" + a.proxy.addr()
	a.proc.onStop = func() {
		a.proxy.close()
		a.client.CloseIdleConnections()
	}
	return a
}

// endpoint is the account's blob service URL.
func (a *Azure) endpoint() string {
	return fmt.Sprintf("https://%s.blob.localhost:%d", a.Account, a.Port)
}

// CreateContainer creates an empty container with a Shared Key signed request. (restic's init
// also creates a missing container; this is for tests that want it to exist beforehand.)
func (a *Azure) CreateContainer(t testing.TB, name string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, a.endpoint()+"/"+name+"?restype=container", nil)
	if err != nil {
		t.Fatalf("servers: %v", err)
	}
	if err := a.sign(req); err != nil {
		t.Fatalf("servers: %v", err)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		t.Fatalf("servers: creating Azure container %s: %v", name, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("servers: creating Azure container %s: %v", name, errorBody(resp, body))
	}
}

// Backend is the Azure backend for prefix in container.
func (a *Azure) Backend(container, prefix string) engine.Backend {
	return engine.Backend{Azure: &engine.AzureBackend{
		Account:        a.Account,
		Container:      container,
		Prefix:         prefix,
		AccountKey:     a.AccountKey,
		EndpointSuffix: "localhost:" + strconv.Itoa(a.Port),
		CACert:         a.CACert,
		AccessTier:     "Hot",
	}}
}

// Env is the environment a child process (restic) needs on top of its own to reach Azurite:
// HTTPS_PROXY pointing at the proxy, and NO_PROXY cleared, because a NO_PROXY of "localhost"
// would also exempt devstoreaccount1.blob.localhost. Append it after os.Environ(); exec keeps
// the last value of a variable.
func (a *Azure) Env() []string {
	return []string{"HTTPS_PROXY=" + a.ProxyURL, "NO_PROXY=", "no_proxy="}
}

// HTTPClient is a client for in-process code: it dials Azurite whatever host a request names,
// verifies the certificate against CACert, and ignores proxies from the environment. Requests
// still name https://devstoreaccount1.blob.localhost:<Port>, which the certificate covers.
func (a *Azure) HTTPClient() *http.Client { return a.client }

// Stop stops Azurite and the proxy now, for tests of an unreachable endpoint. The test's
// cleanup stops them too, so calling Stop is optional and idempotent.
func (a *Azure) Stop() { a.proc.stop() }

func newDirectClient(addr string, caPEM []byte) *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{Transport: &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "tcp", addr)
		},
		TLSClientConfig:     &tls.Config{RootCAs: pool},
		TLSHandshakeTimeout: 10 * time.Second,
	}}
}

// sign adds Shared Key authorization to a request without a body, as described in
// https://learn.microsoft.com/rest/api/storageservices/authorize-with-shared-key.
func (a *Azure) sign(req *http.Request) error {
	key, err := base64.StdEncoding.DecodeString(a.AccountKey)
	if err != nil {
		return fmt.Errorf("decoding the account key: %w", err)
	}
	req.Header.Set("x-ms-date", time.Now().UTC().Format(http.TimeFormat))
	req.Header.Set("x-ms-version", azureAPIVersion)

	length := ""
	if req.ContentLength > 0 {
		length = strconv.FormatInt(req.ContentLength, 10)
	}
	h := req.Header.Get
	lines := []string{req.Method, h("Content-Encoding"), h("Content-Language"), length,
		h("Content-MD5"), h("Content-Type"), h("Date"), h("If-Modified-Since"), h("If-Match"),
		h("If-None-Match"), h("If-Unmodified-Since"), h("Range")}

	var msHeaders []string
	for name, values := range req.Header {
		if name = strings.ToLower(name); strings.HasPrefix(name, "x-ms-") {
			msHeaders = append(msHeaders, name+":"+strings.TrimSpace(strings.Join(values, ",")))
		}
	}
	sort.Strings(msHeaders)
	lines = append(lines, msHeaders...)

	resource := "/" + a.Account + req.URL.EscapedPath()
	query := req.URL.Query()
	names := make([]string, 0, len(query))
	for name := range query {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		values := query[name]
		sort.Strings(values)
		resource += "\n" + strings.ToLower(name) + ":" + strings.Join(values, ",")
	}
	lines = append(lines, resource)

	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(strings.Join(lines, "\n")))
	req.Header.Set("Authorization", "SharedKey "+a.Account+":"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	return nil
}

// selfSignedCert makes an ECDSA certificate for the names clients use for Azurite, valid for a
// day, that is its own CA.
func selfSignedCert() (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: azuriteAccount + ".blob.localhost", Organization: []string{"Coffer tests"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{azuriteAccount + ".blob.localhost", "*.blob.localhost", "localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}

// connectProxy is an HTTP proxy that answers only CONNECT, and tunnels every CONNECT to target
// whatever host it names.
type connectProxy struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

func startConnectProxy(target string) (*connectProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &connectProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

func (p *connectProxy) addr() string { return p.ln.Addr().String() }

func (p *connectProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer p.untrack(c)
			p.tunnel(c)
		}()
	}
}

// track records an open connection so that close can end it; it closes c and reports false
// once the proxy is closed.
func (p *connectProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *connectProxy) untrack(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c)
	c.Close()
}

func (p *connectProxy) tunnel(c net.Conn) {
	br := bufio.NewReader(c)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	if req.Method != http.MethodConnect {
		_, _ = io.WriteString(c, "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		return
	}
	up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		_, _ = io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		return
	}
	if !p.track(up) {
		return
	}
	defer p.untrack(up)
	if _, err := io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	// When either side is done, end both: TLS has its own close, nothing needs a half-close.
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, br); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
	<-done
	c.Close()
	up.Close()
	<-done
}

// close stops accepting, ends every tunnel and waits for them.
func (p *connectProxy) close() {
	p.mu.Lock()
	p.closed = true
	p.ln.Close()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}
