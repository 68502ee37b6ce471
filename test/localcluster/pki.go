package localcluster

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// The PKI is written fresh by every cold start, in pure Go: a CA, the API server's serving
// certificate, a client certificate per component, and the service-account key pair. ECDSA P-256
// keys are generated instantly and every component accepts them (service-account tokens are
// then ES256). They are valid for a year; a cluster lives for a test run or a working day.
const certValidity = 365 * 24 * time.Hour

// clientCert is one client identity: Kubernetes takes the user from CN and the groups from O.
type clientCert struct {
	file   string
	cn     string
	groups []string
}

func clientCerts(nodeName string) []clientCert {
	return []clientCert{
		{file: "admin", cn: "coffer-localcluster-admin", groups: []string{"system:masters"}},
		{file: "controller-manager", cn: "system:kube-controller-manager"},
		{file: "scheduler", cn: "system:kube-scheduler"},
		{file: "kubelet", cn: "system:node:" + nodeName, groups: []string{"system:nodes"}},
		{file: "kube-proxy", cn: "system:kube-proxy"},
		// The API server's identity towards the kubelet (logs, exec); the kubelet authorizes it
		// with a SubjectAccessReview.
		{file: "apiserver-kubelet-client", cn: "kube-apiserver-kubelet-client", groups: []string{"system:masters"}},
	}
}

// apiServerSANs are the names and addresses the API server is dialled by: loopback by the
// components and kubectl, the kubernetes Service's names and ClusterIP by pods, and the bridge
// address it advertises as the Service's endpoint.
var (
	apiServerDNSNames = []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}
	apiServerIPs      = []string{"127.0.0.1", APIServiceIP, BridgeIP}
)

func writePKI(l layout, nodeName string) error {
	if err := os.MkdirAll(l.pkiDir(), 0o700); err != nil {
		return err
	}
	now := time.Now().Add(-time.Hour) // tolerate small clock differences
	caKey, err := newKey()
	if err != nil {
		return err
	}
	caTmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "coffer-localcluster-ca"},
		NotBefore:             now,
		NotAfter:              now.Add(10 * certValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, caCert, err := sign(caTmpl, caKey.Public(), nil, caKey)
	if err != nil {
		return err
	}
	if err := writeCertAndKey(l, "ca", caDER, caKey); err != nil {
		return err
	}

	leaf := func(name string, tmpl *x509.Certificate) error {
		key, err := newKey()
		if err != nil {
			return err
		}
		tmpl.NotBefore, tmpl.NotAfter = now, now.Add(certValidity)
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		der, _, err := sign(tmpl, key.Public(), caCert, caKey)
		if err != nil {
			return fmt.Errorf("%s certificate: %w", name, err)
		}
		return writeCertAndKey(l, name, der, key)
	}
	server := &x509.Certificate{
		Subject:     pkix.Name{CommonName: "kube-apiserver"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    apiServerDNSNames,
	}
	for _, ip := range apiServerIPs {
		server.IPAddresses = append(server.IPAddresses, net.ParseIP(ip))
	}
	if err := leaf("apiserver", server); err != nil {
		return err
	}
	for _, c := range clientCerts(nodeName) {
		tmpl := &x509.Certificate{
			Subject:     pkix.Name{CommonName: c.cn, Organization: c.groups},
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}
		if err := leaf(c.file, tmpl); err != nil {
			return err
		}
		if c.file == "apiserver-kubelet-client" {
			continue
		}
		if err := writeKubeconfig(l, c.file); err != nil {
			return err
		}
	}

	saKey, err := newKey()
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalECPrivateKey(saKey)
	if err != nil {
		return err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(saKey.Public())
	if err != nil {
		return err
	}
	if err := writePEM(l.pki("sa.key"), "EC PRIVATE KEY", keyDER, 0o600); err != nil {
		return err
	}
	return writePEM(l.pki("sa.pub"), "PUBLIC KEY", pubDER, 0o644)
}

func newKey() (*ecdsa.PrivateKey, error) {
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

func sign(tmpl *x509.Certificate, pub crypto.PublicKey, parent *x509.Certificate, parentKey crypto.Signer) ([]byte, *x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	tmpl.SerialNumber = serial
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, parentKey)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return der, cert, err
}

func writeCertAndKey(l layout, name string, certDER []byte, key *ecdsa.PrivateKey) error {
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := writePEM(l.pki(name+".crt"), "CERTIFICATE", certDER, 0o644); err != nil {
		return err
	}
	return writePEM(l.pki(name+".key"), "EC PRIVATE KEY", keyDER, 0o600)
}

func writePEM(path, typ string, der []byte, mode os.FileMode) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode)
}

// writeKubeconfig writes pki/<user>.kubeconfig with the certificates embedded; the admin's is
// also written to the well-known path Cluster.Kubeconfig returns.
func writeKubeconfig(l layout, user string) error {
	ca, err := os.ReadFile(l.pki("ca.crt"))
	if err != nil {
		return err
	}
	crt, err := os.ReadFile(l.pki(user + ".crt"))
	if err != nil {
		return err
	}
	key, err := os.ReadFile(l.pki(user + ".key"))
	if err != nil {
		return err
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["local"] = &clientcmdapi.Cluster{
		Server:                   fmt.Sprintf("https://127.0.0.1:%d", APIServerPort),
		CertificateAuthorityData: ca,
	}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{ClientCertificateData: crt, ClientKeyData: key}
	cfg.Contexts["coffer-local"] = &clientcmdapi.Context{Cluster: "local", AuthInfo: user}
	cfg.CurrentContext = "coffer-local"
	if err := clientcmd.WriteToFile(*cfg, l.kubeconfigFor(user)); err != nil {
		return err
	}
	if user == "admin" {
		return clientcmd.WriteToFile(*cfg, l.kubeconfig())
	}
	return nil
}
