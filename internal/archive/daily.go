package archive

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/exportd/exportd/internal/domain"
)

// DailyDir holds the archive-wide daily digests: _daily/<YYYY-MM-DD>.json
// and, when signing is on, its detached signature _daily/<YYYY-MM-DD>.sig.
const DailyDir = "_daily"

// DayLayout names a daily digest's UTC day.
const DayLayout = "2006-01-02"

// PrefixKey joins a destination prefix ("" or "a/b") and a key below it.
func PrefixKey(prefix string, parts ...string) string {
	return domain.Layout{Prefix: prefix}.Join(parts...)
}

// DailyKey is the key of the daily digest of day (UTC) under prefix.
func DailyKey(prefix string, day time.Time) string {
	return PrefixKey(prefix, DailyDir, day.UTC().Format(DayLayout)+".json")
}

// SignatureKey is the key of the detached signature of a daily digest.
func SignatureKey(digestKey string) string { return strings.TrimSuffix(digestKey, ".json") + ".sig" }

// PublicKeyKey is where the public key with this id is published.
func PublicKeyKey(prefix, keyID string) string {
	return PrefixKey(prefix, domain.KeysDir, keyID+".pem")
}

// DailyDigest is the archive-wide record of one UTC day: the head of every
// schedule under the prefix (sequence and manifest sha256) and the
// definition versions in force, chained to the previous day's digest. A
// schedule removed whole, or a head rewound, no longer matches it.
type DailyDigest struct {
	FormatVersion int       `json:"format_version"`
	Day           string    `json:"day"`
	WrittenAt     time.Time `json:"written_at"`
	// Prev links the digest of the newest earlier day; nil for the first.
	Prev      *Link       `json:"prev"`
	Schedules []DailyHead `json:"schedules"`
	// Algorithm ("ed25519") and KeyID name the key whose signature of the
	// exact bytes of this record is in the .sig object beside it; both
	// empty when signing is off.
	Algorithm string `json:"algorithm,omitempty"`
	KeyID     string `json:"key_id,omitempty"`
}

// DailyHead is one schedule's state in a daily digest. Sequence is 0 for a
// schedule with nothing committed yet.
type DailyHead struct {
	Schedule       string         `json:"schedule"`
	Sequence       int64          `json:"sequence"`
	ManifestKey    string         `json:"manifest_key,omitempty"`
	ManifestSHA256 string         `json:"manifest_sha256,omitempty"`
	Definition     *DefinitionRef `json:"definition,omitempty"`
}

// ParseDailyDigest decodes a daily digest strictly.
func ParseDailyDigest(data []byte) (*DailyDigest, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var d DailyDigest
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("daily digest: %w", err)
	}
	if d.FormatVersion != FormatVersion {
		return nil, fmt.Errorf("daily digest: format_version %d not supported (this exportd reads %d)", d.FormatVersion, FormatVersion)
	}
	if _, err := time.Parse(DayLayout, d.Day); err != nil {
		return nil, fmt.Errorf("daily digest: day %q: want YYYY-MM-DD", d.Day)
	}
	return &d, nil
}

// MarshalPublicKey renders pub as PEM (PKIX), as `openssl pkey -pubout`
// writes it.
func MarshalPublicKey(pub ed25519.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// PublishKey writes the public half of key under _keys/<key id>.pem,
// create-only (a key id names one key for ever). Rotating keys is a config
// change: the new key is published when the daemon starts with it, and the
// old one stays for the digests it signed.
func (a *Archive) PublishKey(ctx context.Context, prefix string, key ed25519.PrivateKey) (string, error) {
	pub := key.Public().(ed25519.PublicKey)
	data, err := MarshalPublicKey(pub)
	if err != nil {
		return "", err
	}
	id := KeyID(pub)
	k := PublicKeyKey(prefix, id)
	if _, err := a.Store.Put(ctx, k, bytes.NewReader(data), PutOptions{ContentType: "application/x-pem-file"}); err != nil && !errors.Is(err, ErrExists) {
		return "", fmt.Errorf("publish public key %s: %w", k, err)
	}
	return id, nil
}

// scheduleNames lists the schedules under prefix that have a head or a
// definition record.
func scheduleNames(ctx context.Context, r Reader, prefix string) ([]string, error) {
	seen := map[string]bool{}
	for _, dir := range []string{domain.HeadDir, domain.DefinitionsDir} {
		p := PrefixKey(prefix, dir) + "/"
		if err := r.List(ctx, p, func(oi ObjectInfo) error {
			name, _, _ := strings.Cut(strings.TrimPrefix(oi.Key, p), "/")
			if domain.NameRE.MatchString(name) {
				seen[name] = true
			}
			return nil
		}); err != nil {
			return nil, fmt.Errorf("list %s: %w", p, err)
		}
	}
	var out []string
	for n := range seen {
		out = append(out, n)
	}
	slices.Sort(out)
	return out, nil
}

// WriteDailyDigest writes the daily digest of now's UTC day under prefix,
// create-only, unless it exists: the heads and newest definition records
// of every schedule under the prefix (names adds schedules with nothing in
// the archive yet), linked to the newest earlier digest. With key set it
// signs the record's exact bytes; a digest left unsigned by a writer that
// stopped between the two writes is signed by the next call with the same
// key. Daemons call it at start and at each UTC midnight, so that a day
// without any export still has its digest.
func (a *Archive) WriteDailyDigest(ctx context.Context, prefix string, now time.Time, names []string, key ed25519.PrivateKey, opts PutOptions) (string, error) {
	day := now.UTC().Truncate(24 * time.Hour)
	dk := DailyKey(prefix, day)
	if data, _, err := a.Store.Read(ctx, dk); err == nil {
		return dk, a.signDaily(ctx, dk, data, key, opts)
	} else if !errors.Is(err, ErrNotFound) {
		return "", fmt.Errorf("read %s: %w", dk, err)
	}
	all, err := scheduleNames(ctx, a.Store, prefix)
	if err != nil {
		return "", err
	}
	for _, n := range names {
		if !slices.Contains(all, n) {
			all = append(all, n)
		}
	}
	slices.Sort(all)
	d := DailyDigest{FormatVersion: FormatVersion, Day: day.Format(DayLayout), WrittenAt: now.UTC().Truncate(time.Second), Schedules: []DailyHead{}}
	for _, n := range all {
		l := domain.Layout{Prefix: prefix, Schedule: n}
		e := DailyHead{Schedule: n}
		h, _, ok, err := a.ReadHead(ctx, l)
		if err != nil {
			return "", err
		}
		if ok {
			e.Sequence, e.ManifestKey, e.ManifestSHA256 = h.Sequence, h.Key, h.SHA256
		}
		if _, ref, ok, err := LatestDefinition(ctx, a.Store, l); err != nil {
			return "", err
		} else if ok {
			e.Definition = &ref
		}
		d.Schedules = append(d.Schedules, e)
	}
	prevKey := ""
	dailyPrefix := PrefixKey(prefix, DailyDir) + "/"
	if err := a.Store.List(ctx, dailyPrefix, func(oi ObjectInfo) error {
		if strings.HasSuffix(oi.Key, ".json") && oi.Key < dk {
			prevKey = oi.Key
		}
		return nil
	}); err != nil {
		return "", fmt.Errorf("list %s: %w", dailyPrefix, err)
	}
	if prevKey != "" {
		data, _, err := a.Store.Read(ctx, prevKey)
		if err != nil {
			return "", fmt.Errorf("read %s: %w", prevKey, err)
		}
		d.Prev = &Link{Key: prevKey, SHA256: SHA256Hex(data)}
	}
	if key != nil {
		d.Algorithm, d.KeyID = "ed25519", KeyID(key.Public().(ed25519.PublicKey))
	}
	data, err := marshalRecord(&d)
	if err != nil {
		return "", err
	}
	o := opts
	o.ContentType = "application/json"
	if _, err := a.Store.Put(ctx, dk, bytes.NewReader(data), o); errors.Is(err, ErrExists) {
		data, _, err = a.Store.Read(ctx, dk)
		if err != nil {
			return "", fmt.Errorf("read %s: %w", dk, err)
		}
	} else if err != nil {
		return "", fmt.Errorf("write daily digest %s: %w", dk, err)
	}
	return dk, a.signDaily(ctx, dk, data, key, opts)
}

// signDaily writes the detached signature of the digest at dk when it names
// key and has none yet.
func (a *Archive) signDaily(ctx context.Context, dk string, data []byte, key ed25519.PrivateKey, opts PutOptions) error {
	if key == nil {
		return nil
	}
	d, err := ParseDailyDigest(data)
	if err != nil {
		return fmt.Errorf("%s: %w", dk, err)
	}
	if d.KeyID != KeyID(key.Public().(ed25519.PublicKey)) {
		return nil // unsigned, or another key's: not ours to sign
	}
	sk := SignatureKey(dk)
	if _, err := a.Store.Stat(ctx, sk); err == nil {
		return nil
	} else if !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("stat %s: %w", sk, err)
	}
	o := opts
	o.ContentType = "application/octet-stream"
	if _, err := a.Store.Put(ctx, sk, bytes.NewReader(ed25519.Sign(key, data)), o); err != nil && !errors.Is(err, ErrExists) {
		return fmt.Errorf("write signature %s: %w", sk, err)
	}
	return nil
}
