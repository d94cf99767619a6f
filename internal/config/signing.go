package config

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// parsePrivateKey reads an Ed25519 private key in PEM (PKCS #8), as
// `openssl genpkey -algorithm ed25519` writes it.
func parsePrivateKey(pemData []byte) (ed25519.PrivateKey, error) {
	b, _ := pem.Decode(pemData)
	if b == nil || b.Type != "PRIVATE KEY" {
		return nil, errors.New("not a PEM \"PRIVATE KEY\" block")
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, errors.New("not a PKCS #8 private key")
	}
	ek, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("a %T, not an Ed25519 key", k)
	}
	return ek, nil
}
