package archive

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/exportd/exportd/internal/domain"
)

// Digest signs one committed manifest of a schedule: its key and the
// sha256 of its exact bytes. Each manifest names the one before it by
// sha256, so a valid signature over the newest manifest vouches for the
// whole chain up to it.
type Digest struct {
	FormatVersion  int       `json:"format_version"`
	Schedule       string    `json:"schedule"`
	Sequence       int64     `json:"sequence"`
	ManifestKey    string    `json:"manifest_key"`
	ManifestSHA256 string    `json:"manifest_sha256"`
	SignedAt       time.Time `json:"signed_at"`
	// Algorithm is "ed25519"; KeyID the first 16 hex digits of the sha256
	// of the public key's PKIX DER form.
	Algorithm string `json:"algorithm"`
	KeyID     string `json:"key_id"`
	// Signature is the base64 Ed25519 signature of Payload().
	Signature string `json:"signature"`
}

// Payload is the exact byte string that is signed: every field but the
// signature, one per line, after a domain-separating first line.
func (d *Digest) Payload() []byte {
	return []byte(strings.Join([]string{
		"exportd-digest-v1",
		d.Schedule,
		strconv.FormatInt(d.Sequence, 10),
		d.ManifestKey,
		d.ManifestSHA256,
		d.SignedAt.UTC().Format(time.RFC3339Nano),
		d.Algorithm,
		d.KeyID,
	}, "\n") + "\n")
}

// KeyID names a public key in digests.
func KeyID(pub ed25519.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:8])
}

// SignDigest fills in the algorithm, key id and signature.
func SignDigest(key ed25519.PrivateKey, d Digest) Digest {
	d.FormatVersion, d.Algorithm = FormatVersion, "ed25519"
	d.KeyID = KeyID(key.Public().(ed25519.PublicKey))
	d.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(key, d.Payload()))
	return d
}

// Check verifies the digest's signature with pub.
func (d *Digest) Check(pub ed25519.PublicKey) error {
	if d.Algorithm != "ed25519" {
		return fmt.Errorf("algorithm %q; this exportd verifies ed25519", d.Algorithm)
	}
	if id := KeyID(pub); d.KeyID != id {
		return fmt.Errorf("signed with key %s, not with the given public key (%s)", d.KeyID, id)
	}
	sig, err := base64.StdEncoding.DecodeString(d.Signature)
	if err != nil || !ed25519.Verify(pub, d.Payload(), sig) {
		return errors.New("the signature does not verify: the digest was changed, or forged")
	}
	return nil
}

// WriteDigest signs the manifest committed with sequence seq at key (with
// sha256 sum) and writes the digest, create-only.
func (a *Archive) WriteDigest(ctx context.Context, l domain.Layout, key ed25519.PrivateKey, seq int64, manifestKey, sum string, opts PutOptions) error {
	d := SignDigest(key, Digest{Schedule: l.Schedule, Sequence: seq, ManifestKey: manifestKey, ManifestSHA256: sum, SignedAt: a.now().UTC()})
	data, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return err
	}
	k := l.DigestKey(seq)
	if _, err := a.Store.Put(ctx, k, bytes.NewReader(append(data, '\n')), PutOptions{ContentType: "application/json", RetainUntil: opts.RetainUntil}); err != nil && !errors.Is(err, ErrExists) {
		return fmt.Errorf("write digest %s: %w", k, err)
	}
	return nil
}

// ParsePublicKey reads an Ed25519 public key in PEM (PKIX), as `openssl
// pkey -pubout` writes it.
func ParsePublicKey(pemData []byte) (ed25519.PublicKey, error) {
	b, _ := pem.Decode(pemData)
	if b == nil || b.Type != "PUBLIC KEY" {
		return nil, errors.New("not a PEM \"PUBLIC KEY\" block")
	}
	k, err := x509.ParsePKIXPublicKey(b.Bytes)
	if err != nil {
		return nil, errors.New("not a PKIX public key")
	}
	ek, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("a %T, not an Ed25519 key", k)
	}
	return ek, nil
}

// checkDigests verifies every digest of the schedule against pub and the
// chain, and records the highest sequence a valid digest vouches for.
func checkDigests(ctx context.Context, r Reader, l domain.Layout, pub ed25519.PublicKey, chain []ChainEntry, rep *Report) error {
	bySeq := map[int64]ChainEntry{}
	for _, e := range chain {
		bySeq[e.Manifest.Sequence] = e
	}
	prefix := l.DigestsPrefix()
	var keys []string
	if err := r.List(ctx, prefix, func(oi ObjectInfo) error {
		keys = append(keys, oi.Key)
		return nil
	}); err != nil {
		return fmt.Errorf("list %s: %w", prefix, err)
	}
	for _, k := range keys {
		data, err := readSmall(ctx, r, k)
		if err != nil {
			rep.problemf("%s: cannot be read: %v", k, err)
			continue
		}
		var d Digest
		if err := json.Unmarshal(data, &d); err != nil {
			rep.problemf("%s: not a digest: %v", k, err)
			continue
		}
		if err := d.Check(pub); err != nil {
			rep.problemf("%s: %v", k, err)
			continue
		}
		e, ok := bySeq[d.Sequence]
		if k != l.DigestKey(d.Sequence) || d.Schedule != l.Schedule || !ok || e.Key != d.ManifestKey || e.SHA256 != d.ManifestSHA256 {
			rep.problemf("%s: signs manifest %s (sequence %d, sha256 %s), which is not that entry of the chain", k, d.ManifestKey, d.Sequence, d.ManifestSHA256)
			continue
		}
		rep.Signed = max(rep.Signed, d.Sequence)
	}
	if n := int64(len(chain)); n > 0 && rep.Signed < n {
		rep.problemf("%s: manifests %d to %d are not covered by a valid signed digest", prefix, rep.Signed+1, n)
	}
	return nil
}
