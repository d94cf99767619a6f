package archive

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"
)

// TestDigestSignature: a digest verifies with its key only, and any change
// to a signed field breaks it.
func TestDigestSignature(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	otherPub, _, _ := ed25519.GenerateKey(rand.Reader)
	d := SignDigest(key, Digest{Schedule: "s", Sequence: 7, ManifestKey: "p/s/dt=2026-11-01/x.manifest.json",
		ManifestSHA256: strings.Repeat("ab", 32), SignedAt: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)})
	if err := d.Check(pub); err != nil {
		t.Fatalf("a fresh digest: %v", err)
	}
	if err := d.Check(otherPub); err == nil || !strings.Contains(err.Error(), "not with the given public key") {
		t.Errorf("another key: %v", err)
	}
	for name, change := range map[string]func(*Digest){
		"sequence":  func(d *Digest) { d.Sequence++ },
		"sha256":    func(d *Digest) { d.ManifestSHA256 = strings.Repeat("cd", 32) },
		"key":       func(d *Digest) { d.ManifestKey += "x" },
		"schedule":  func(d *Digest) { d.Schedule = "t" },
		"signed at": func(d *Digest) { d.SignedAt = d.SignedAt.Add(time.Second) },
	} {
		c := d
		change(&c)
		if err := c.Check(pub); err == nil || !strings.Contains(err.Error(), "does not verify") {
			t.Errorf("changed %s: %v", name, err)
		}
	}
}

// TestParsePublicKey: a PEM public key as openssl writes it; another key is
// refused. (The private key is parsed by config, which resolves it.)
func TestParsePublicKey(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	pubDER, _ := x509.MarshalPKIXPublicKey(pub)
	p, err := ParsePublicKey(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}))
	if err != nil || !p.Equal(pub) {
		t.Fatalf("public key: %v", err)
	}
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	if _, err := ParsePublicKey(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: ecDER})); err == nil || !strings.Contains(err.Error(), "not an Ed25519 key") {
		t.Errorf("an ECDSA key: %v", err)
	}
}
