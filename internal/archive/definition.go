package archive

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/exportd/exportd/internal/domain"
)

// Definition is what a schedule was when its manifests were produced: all
// that decides which units exist and what they hold, so that the expected
// windows of any period can be computed from the archive alone. It never
// holds a secret, a DSN or a source's init SQL.
type Definition struct {
	FormatVersion int    `json:"format_version"`
	Schedule      string `json:"schedule"`
	// Version is 1 for the first definition of the schedule, then 2, 3, ...
	// each time it changes.
	Version int `json:"version"`
	// Prev links the version before this one; nil for version 1.
	Prev      *Link     `json:"prev"`
	CreatedAt time.Time `json:"created_at"`
	DefinitionSpec
}

// DefinitionSpec is the part of a definition that a change of the schedule
// changes: two records with equal specs are the same definition.
type DefinitionSpec struct {
	Cron     string `json:"cron"`
	Timezone string `json:"timezone"`
	// Window is nil for a snapshot schedule.
	Window *DefinitionWindow `json:"window"`
	// CatchUp is all, latest or skip.
	CatchUp   string   `json:"catch_up"`
	Condition string   `json:"condition"`
	DedupeBy  []string `json:"dedupe_by,omitempty"`
	// Element is the workbook element as the schedule file wrote it.
	Element json.RawMessage `json:"element"`
	// SQL is the element compiled for each dialect, with bind parameters
	// for the window (dialect: SQL).
	SQL    map[string]string `json:"sql"`
	Source Source            `json:"source"`
	// Destination is the key layout of the schedule's objects.
	Destination DefinitionDestination `json:"destination"`
	// Retention is nil when objects are not locked.
	Retention *Retention `json:"retention"`
}

// DefinitionWindow is a windowed schedule's window spec.
type DefinitionWindow struct {
	// Every is hour, day, week or month, in the schedule's zone.
	Every  string `json:"every"`
	Column string `json:"column"`
	// Lag is a Go duration ("2h0m0s").
	Lag string `json:"lag"`
	// Start is the start of the first window: its clock fields, read in
	// UTC, are a local time in the schedule's zone (2026-09-01T00:00:00Z
	// means local midnight of that date). Absent: the oldest window the
	// source retained when the schedule first ran.
	Start time.Time `json:"start,omitzero"`
	// WeekStart is the first day of a week window (monday, ...).
	WeekStart string `json:"week_start,omitempty"`
}

// DefinitionDestination is where a schedule's objects go and how they are
// named (never credentials).
type DefinitionDestination struct {
	// Store is the store's description (file:///..., s3://bucket/prefix).
	Store    string `json:"store,omitempty"`
	Prefix   string `json:"prefix"`
	Filename string `json:"filename"`
	Ext      string `json:"ext"`
}

// Retention is the Object Lock policy of a schedule's objects and
// manifests: each is locked in Mode until its window end (or logical time)
// plus Retain.
type Retention struct {
	// Mode is COMPLIANCE or GOVERNANCE.
	Mode string `json:"mode"`
	// Retain is a Go duration ("61320h0m0s").
	Retain string `json:"retain"`
}

// RetainFor returns how long objects are retained (0 if unparsable).
func (r *Retention) RetainFor() time.Duration {
	if r == nil {
		return 0
	}
	d, _ := time.ParseDuration(r.Retain)
	return d
}

// DefinitionRef is what a manifest records of the definition it was
// produced under: the record's version and the sha256 of its exact bytes.
type DefinitionRef struct {
	Version int    `json:"version"`
	Key     string `json:"key"`
	SHA256  string `json:"sha256"`
}

func marshalRecord(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Marshal renders the record canonically: indented JSON with a trailing
// newline.
func (d *Definition) Marshal() ([]byte, error) { return marshalRecord(d) }

// ParseDefinition decodes a definition record strictly.
func ParseDefinition(data []byte) (*Definition, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var d Definition
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("definition record: %w", err)
	}
	if d.FormatVersion != FormatVersion {
		return nil, fmt.Errorf("definition record: format_version %d not supported (this exportd reads %d)", d.FormatVersion, FormatVersion)
	}
	return &d, nil
}

func specEqual(a, b DefinitionSpec) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(compactJSON(x), compactJSON(y))
}

func compactJSON(b []byte) []byte {
	var out bytes.Buffer
	if json.Compact(&out, b) != nil {
		return b
	}
	return out.Bytes()
}

// definitionVersion parses the version out of a record key's base name.
func definitionVersion(key string) (int, bool) {
	base := key[strings.LastIndexByte(key, '/')+1:]
	if !strings.HasPrefix(base, "v") || !strings.HasSuffix(base, ".json") {
		return 0, false
	}
	v, err := strconv.Atoi(strings.TrimSuffix(base[1:], ".json"))
	return v, err == nil && v > 0
}

// LatestDefinition returns the newest definition record of the schedule,
// its key and the sha256 of its bytes; ok is false when there is none.
func LatestDefinition(ctx context.Context, r Reader, l domain.Layout) (d *Definition, ref DefinitionRef, ok bool, err error) {
	newest := 0
	if err := r.List(ctx, l.DefinitionsPrefix(), func(oi ObjectInfo) error {
		if v, ok := definitionVersion(oi.Key); ok && oi.Key == l.DefinitionKey(v) && v > newest {
			newest = v
		}
		return nil
	}); err != nil {
		return nil, DefinitionRef{}, false, fmt.Errorf("list %s: %w", l.DefinitionsPrefix(), err)
	}
	if newest == 0 {
		return nil, DefinitionRef{}, false, nil
	}
	key := l.DefinitionKey(newest)
	data, err := readSmall(ctx, r, key)
	if err != nil {
		return nil, DefinitionRef{}, false, fmt.Errorf("read %s: %w", key, err)
	}
	d, err = ParseDefinition(data)
	if err != nil {
		return nil, DefinitionRef{}, false, fmt.Errorf("%s: %w", key, err)
	}
	return d, DefinitionRef{Version: newest, Key: key, SHA256: SHA256Hex(data)}, true, nil
}

// EnsureDefinition writes spec as the schedule's definition record if it is
// not already its newest one: version 1 the first time, the next version
// (linking the one before) when it changed. Records are create-only and
// locked like manifests when opts carry a RetainUntil; a record already
// written is kept locked as long as the newest manifest that names it:
// when opts.RetainUntil is later than its retain-until, the store extends
// it. It returns the ref that manifests produced under spec must record.
func (a *Archive) EnsureDefinition(ctx context.Context, l domain.Layout, spec DefinitionSpec, opts PutOptions) (DefinitionRef, error) {
	for range 20 {
		cur, ref, ok, err := LatestDefinition(ctx, a.Store, l)
		if err != nil {
			return DefinitionRef{}, err
		}
		if ok && specEqual(cur.DefinitionSpec, spec) {
			if re, can := a.Store.(RetentionExtender); can && !opts.RetainUntil.IsZero() {
				if err := re.ExtendRetention(ctx, ref.Key, opts.RetainUntil); err != nil {
					return DefinitionRef{}, fmt.Errorf("definition record %s: %w", ref.Key, err)
				}
			}
			return ref, nil
		}
		d := Definition{FormatVersion: FormatVersion, Schedule: l.Schedule, Version: 1, CreatedAt: a.now().UTC().Truncate(time.Second), DefinitionSpec: spec}
		if ok {
			d.Version = ref.Version + 1
			d.Prev = &Link{Key: ref.Key, SHA256: ref.SHA256}
		}
		data, err := d.Marshal()
		if err != nil {
			return DefinitionRef{}, err
		}
		key := l.DefinitionKey(d.Version)
		if opts.ContentType == "" {
			opts.ContentType = "application/json"
		}
		if _, err := a.Store.Put(ctx, key, bytes.NewReader(data), opts); errors.Is(err, ErrExists) {
			continue // another replica wrote this version; compare again
		} else if err != nil {
			return DefinitionRef{}, fmt.Errorf("write definition record %s: %w", key, err)
		}
		return DefinitionRef{Version: d.Version, Key: key, SHA256: SHA256Hex(data)}, nil
	}
	return DefinitionRef{}, fmt.Errorf("definition records of %s kept changing; giving up", l.Schedule)
}
