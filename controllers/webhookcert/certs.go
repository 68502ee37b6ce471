package webhookcert

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"slices"
	"time"
)

// Lifetimes: the CA outlives many serving certificates, so a rotation of the serving
// certificate does not change the caBundle the API server trusts.
const (
	CALifetime     = 10 * 365 * 24 * time.Hour
	ServeLifetime  = 90 * 24 * time.Hour
	rotateFraction = 3 // rotate when less than a third of the lifetime is left
)

// Keys of the Secret.
const (
	KeyCACert  = "ca.crt"
	KeyCAKey   = "ca.key"
	KeyTLSCert = "tls.crt"
	KeyTLSKey  = "tls.key"
)

// Bundle is the CA and the serving certificate, PEM-encoded as they are stored.
type Bundle struct {
	CACert, CAKey, Cert, Key []byte
}

func (b Bundle) data() map[string][]byte {
	return map[string][]byte{KeyCACert: b.CACert, KeyCAKey: b.CAKey, KeyTLSCert: b.Cert, KeyTLSKey: b.Key}
}

func bundleOf(data map[string][]byte) Bundle {
	return Bundle{CACert: data[KeyCACert], CAKey: data[KeyCAKey], Cert: data[KeyTLSCert], Key: data[KeyTLSKey]}
}

// Fresh reports whether b can keep serving hosts at now: the serving certificate parses, pairs
// with its key, is signed by the CA, names every host, and neither it nor the CA is in the last
// third of its life. The reason says what is wrong otherwise.
func (b Bundle) Fresh(hosts []string, now time.Time) (ok bool, reason string) {
	ca, err := parseCert(b.CACert)
	if err != nil {
		return false, "no usable CA: " + err.Error()
	}
	if _, err := parseKey(b.CAKey); err != nil {
		return false, "no usable CA key: " + err.Error()
	}
	pair, err := tls.X509KeyPair(b.Cert, b.Key)
	if err != nil {
		return false, "no usable serving certificate: " + err.Error()
	}
	leaf := pair.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return false, err.Error()
		}
	}
	if err := leaf.CheckSignatureFrom(ca); err != nil {
		return false, "the serving certificate is not signed by the CA"
	}
	for _, h := range hosts {
		if leaf.VerifyHostname(h) != nil {
			return false, "the serving certificate does not name " + h
		}
	}
	for _, c := range []*x509.Certificate{ca, leaf} {
		life := c.NotAfter.Sub(c.NotBefore)
		if now.After(c.NotAfter.Add(-life / rotateFraction)) {
			return false, fmt.Sprintf("%s expires at %s", c.Subject.CommonName, c.NotAfter.UTC().Format(time.RFC3339))
		}
	}
	return true, ""
}

// Renew returns a bundle for hosts: b's CA when it is still fresh (so the caBundle stays), a
// new CA otherwise, and always a new serving certificate.
func Renew(b Bundle, hosts []string, now time.Time) (Bundle, error) {
	ca, caKey, err := reusableCA(b, now)
	if err != nil {
		return Bundle{}, err
	}
	out := b
	if ca == nil {
		if ca, caKey, out.CACert, out.CAKey, err = newCA(now); err != nil {
			return Bundle{}, err
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Bundle{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: hosts[0]},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(ServeLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return Bundle{}, err
	}
	if out.Key, err = encodeKey(key); err != nil {
		return Bundle{}, err
	}
	out.Cert = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return out, nil
}

func reusableCA(b Bundle, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	ca, err := parseCert(b.CACert)
	if err != nil {
		return nil, nil, nil
	}
	key, err := parseKey(b.CAKey)
	if err != nil || !ca.IsCA {
		return nil, nil, nil
	}
	// The new serving certificate must not outlive the CA's own rotation point.
	life := ca.NotAfter.Sub(ca.NotBefore)
	if now.Add(ServeLifetime).After(ca.NotAfter.Add(-life / rotateFraction)) {
		return nil, nil, nil
	}
	return ca, key, nil
}

func newCA(now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, []byte, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "coffer-webhook-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(CALifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	return ca, key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM, nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}

func encodeKey(k *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
}

func parseCert(p []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(p)
	if block == nil {
		return nil, fmt.Errorf("no PEM certificate")
	}
	return x509.ParseCertificate(block.Bytes)
}

func parseKey(p []byte) (*ecdsa.PrivateKey, error) {
	block, _ := pem.Decode(p)
	if block == nil {
		return nil, fmt.Errorf("no PEM key")
	}
	return x509.ParseECPrivateKey(block.Bytes)
}

// sameCA reports whether a caBundle already holds exactly ca.
func sameCA(bundle, ca []byte) bool { return bytes.Equal(bytes.TrimSpace(bundle), bytes.TrimSpace(ca)) }

// Hosts are the names the API server uses for a Service: service.namespace.svc and its
// cluster.local form, then extra (addresses or names, for development).
func Hosts(service, namespace string, extra ...string) []string {
	hosts := []string{service + "." + namespace + ".svc", service + "." + namespace + ".svc.cluster.local"}
	for _, h := range extra {
		if h != "" && !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	return hosts
}
