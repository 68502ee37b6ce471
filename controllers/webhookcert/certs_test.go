package webhookcert

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestRenewAndFresh(t *testing.T) {
	hosts := Hosts("coffer-webhook", "coffer-system", "127.0.0.1")
	now := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)

	if ok, why := (Bundle{}).Fresh(hosts, now); ok || !strings.Contains(why, "no usable CA") {
		t.Fatalf("an empty bundle is fresh=%v (%s)", ok, why)
	}
	b, err := Renew(Bundle{}, hosts, now)
	if err != nil {
		t.Fatal(err)
	}
	if ok, why := b.Fresh(hosts, now); !ok {
		t.Fatalf("a new bundle is not fresh: %s", why)
	}
	if ok, why := b.Fresh(append(hosts, "other.example"), now); ok || !strings.Contains(why, "does not name other.example") {
		t.Fatalf("a bundle for other hosts is fresh=%v (%s)", ok, why)
	}

	// Two thirds into its life the serving certificate is renewed, under the same CA, so the
	// caBundle the API server trusts does not change.
	later := now.Add(ServeLifetime * 2 / 3).Add(time.Hour * 2)
	if ok, why := b.Fresh(hosts, later); ok || !strings.Contains(why, "expires at") {
		t.Fatalf("an old serving certificate is fresh=%v (%s)", ok, why)
	}
	renewed, err := Renew(b, hosts, later)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(renewed.CACert, b.CACert) || bytes.Equal(renewed.Cert, b.Cert) {
		t.Fatal("a serving-certificate rotation should keep the CA and change the certificate")
	}
	if ok, why := renewed.Fresh(hosts, later); !ok {
		t.Fatalf("the renewed bundle is not fresh: %s", why)
	}

	// Near the CA's own rotation point a new CA is made.
	caOld := now.Add(CALifetime * 2 / 3)
	recut, err := Renew(b, hosts, caOld)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(recut.CACert, b.CACert) {
		t.Fatal("a CA close to its rotation point was reused")
	}

	// A serving certificate from another CA is not accepted.
	mixed := renewed
	mixed.CACert, mixed.CAKey = recut.CACert, recut.CAKey
	if ok, why := mixed.Fresh(hosts, later); ok || !strings.Contains(why, "not signed by the CA") {
		t.Fatalf("a certificate of another CA is fresh=%v (%s)", ok, why)
	}
}
