package domain

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Reserved top-level names under a prefix. Schedule names cannot start with
// '_' (see NameRE), so they never collide with these.
const (
	ClaimsDir = "_claims"
	HeadDir   = "_head"
	PausedDir = "_paused"
	KeysDir   = "_keys"
	AdhocDir  = "adhoc"
	// DigestsDir holds the signed digests: _digests/<schedule>/<sequence>.json.
	DigestsDir = "_digests"
)

// DefaultFilename is used when a schedule sets no filename template.
const DefaultFilename = "{schedule}_{id}"

// Layout builds every key of one schedule. It is the only key builder: the
// folder and S3 stores both take keys from it.
type Layout struct {
	// Prefix is the destination prefix inside the store ("" or "a/b").
	Prefix   string
	Schedule string
	// Location names the dt= folder: the local date of the window start
	// (or logical time) in the schedule's time zone.
	Location *time.Location
	Filename *FilenameTemplate
	// Ext is the object extension: ".csv" or ".csv.gz".
	Ext string
}

func (l Layout) join(parts ...string) string {
	if l.Prefix != "" {
		parts = append([]string{l.Prefix}, parts...)
	}
	return strings.Join(parts, "/")
}

func (l Layout) dir(u Unit) string {
	loc := l.Location
	if loc == nil {
		loc = time.UTC
	}
	dt := "dt=" + u.Anchor().In(loc).Format("2006-01-02")
	if u.Adhoc {
		return l.join(l.Schedule, AdhocDir, dt)
	}
	return l.join(l.Schedule, dt)
}

func revSuffix(rev int) string {
	if rev <= 1 {
		return ""
	}
	return ".r" + strconv.Itoa(rev)
}

// ObjectKey is the key of a unit's data object, revision rev (1 is the
// original; a superseding revision n >= 2 gets ".r<n>" before the extension).
func (l Layout) ObjectKey(u Unit, rev int) (string, error) {
	name, err := l.Filename.Execute(u, l.Location)
	if err != nil {
		return "", err
	}
	key := l.dir(u) + "/" + name + revSuffix(rev) + l.Ext
	return key, ValidateKey(key)
}

// ManifestKey is the key of a unit's manifest, next to its object. It depends
// only on the unit id, so skipped and lost units (no object) have one too.
func (l Layout) ManifestKey(u Unit, rev int) (string, error) {
	key := l.dir(u) + "/" + u.ID() + revSuffix(rev) + ".manifest.json"
	return key, ValidateKey(key)
}

// ClaimKey is the key of the claim for a unit.
func (l Layout) ClaimKey(u Unit) string {
	id := u.ID()
	if u.Adhoc {
		id = AdhocDir + "-" + id
	}
	return l.join(ClaimsDir, l.Schedule, id)
}

// RevisionClaimKey is the key of the claim for revision rev of a unit (the
// unit's claim for the original, rev 1).
func (l Layout) RevisionClaimKey(u Unit, rev int) string { return l.ClaimKey(u) + revSuffix(rev) }

// DigestKey is the key of the digest that signs the schedule's manifest
// with this sequence number (zero-padded, so that keys sort by sequence).
func (l Layout) DigestKey(seq int64) string {
	return l.join(DigestsDir, l.Schedule, fmt.Sprintf("%012d.json", seq))
}

// DigestsPrefix is the list prefix of the schedule's digests.
func (l Layout) DigestsPrefix() string { return l.join(DigestsDir, l.Schedule) + "/" }

// HeadKey is the key of the schedule's chain head.
func (l Layout) HeadKey() string { return l.join(HeadDir, l.Schedule) }

// PauseKey is the key of the schedule's pause marker.
func (l Layout) PauseKey() string { return l.join(PausedDir, l.Schedule) }

// PausedPrefix is where the pause markers of every schedule under the
// layout's prefix are.
func (l Layout) PausedPrefix() string { return l.join(PausedDir) + "/" }

// ScheduleDir is the folder holding a schedule's objects and manifests.
func (l Layout) ScheduleDir() string { return l.join(l.Schedule) + "/" }

// ErrBadKey reports a key that could escape its prefix or is not portable.
var ErrBadKey = errors.New("invalid object key")

// ValidateKey rejects keys that are empty, absolute, contain "..", ".",
// empty segments, backslashes or control characters.
func ValidateKey(key string) error {
	bad := func(why string) error { return fmt.Errorf("%w %q: %s", ErrBadKey, key, why) }
	if key == "" {
		return bad("empty")
	}
	if len(key) > 1024 {
		return bad("longer than 1024 bytes")
	}
	if strings.HasPrefix(key, "/") {
		return bad("absolute")
	}
	if strings.Contains(key, `\`) {
		return bad("contains a backslash")
	}
	for _, r := range key {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return bad("contains a control or invalid character")
		}
	}
	for _, seg := range strings.Split(key, "/") {
		switch seg {
		case "":
			return bad("empty segment")
		case ".", "..":
			return bad("dot segment")
		}
	}
	return nil
}

// ValidatePrefix checks a destination prefix ("" allowed) and returns it
// without a trailing slash.
func ValidatePrefix(p string) (string, error) {
	p = strings.TrimSuffix(p, "/")
	if p == "" {
		return "", nil
	}
	if err := ValidateKey(p); err != nil {
		return "", err
	}
	first, _, _ := strings.Cut(p, "/")
	if strings.HasPrefix(first, "_") {
		return "", fmt.Errorf("%w %q: names starting with '_' are reserved", ErrBadKey, p)
	}
	return p, nil
}

// ValidateListPrefix accepts "" or a prefix a valid key can start with:
// complete segments must be valid; the last, partial one may hold anything a
// key may. A store's List refuses other prefixes, so that a read of the
// archive cannot walk out of it ("../").
func ValidateListPrefix(p string) error {
	if p == "" {
		return nil
	}
	bad := func(why string) error { return fmt.Errorf("%w: list prefix %q: %s", ErrBadKey, p, why) }
	if strings.HasPrefix(p, "/") {
		return bad("absolute")
	}
	i := strings.LastIndexByte(p, '/')
	if i >= 0 && ValidateKey(p[:i]) != nil {
		return bad("a segment is empty or a dot segment")
	}
	if last := p[i+1:]; last != "" && ValidateKey("x"+last) != nil {
		return bad("backslash or control character")
	}
	return nil
}

// DefinitionsDir holds the schedule definition records:
// _definitions/<schedule>/v<version>.json, create-only.
const DefinitionsDir = "_definitions"

// DefinitionKey is the key of version v of the schedule's definition
// record (zero-padded, so that keys sort by version).
func (l Layout) DefinitionKey(v int) string {
	return l.join(DefinitionsDir, l.Schedule, fmt.Sprintf("v%06d.json", v))
}

// DefinitionsPrefix is where the definition records of the schedule are.
func (l Layout) DefinitionsPrefix() string { return l.join(DefinitionsDir, l.Schedule) + "/" }

// Join is the key of parts under the layout's prefix, for the archive-wide
// records that belong to no schedule (daily digests, keys, holds).
func (l Layout) Join(parts ...string) string { return l.join(parts...) }
