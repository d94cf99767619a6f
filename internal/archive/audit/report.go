// Package audit verifies an archive from the archive alone, as an auditor
// does years later with a copy of it: no daemon config, only the records
// the archive keeps about itself (definition records, manifests and their
// chain, per-commit and daily digests, published keys) and the store's
// Object Lock settings.
//
// Every tampering is reported as one root cause: a deleted manifest is one
// missing window, not a broken link for every manifest before it; two
// swapped manifests are one swap; a head rewound with the newest days
// deleted is one rewind naming the windows it lost.
package audit

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/domain"
)

// Finding codes: what kind of break a Finding is. They are stable, for
// tools that read the JSON report.
const (
	MissingWindows     = "missing-windows"
	ManifestDeleted    = "manifest-deleted"
	ManifestChanged    = "manifest-changed"
	ManifestsSwapped   = "manifests-swapped"
	ManifestStray      = "manifest-outside-chain"
	ObjectMissing      = "object-missing"
	ObjectChanged      = "object-changed"
	HeadRewound        = "head-rewound"
	HeadMissing        = "head-missing"
	ScheduleRemoved    = "schedule-removed"
	DefinitionChanged  = "definition-changed"
	DefinitionMissing  = "definition-missing"
	DigestChanged      = "digest-changed"
	DigestMissing      = "digest-missing"
	DigestUnsigned     = "digest-unsigned"
	SignatureBad       = "signature-bad"
	KeyUntrusted       = "key-untrusted"
	DailyMissing       = "daily-digest-missing"
	RetentionMissing   = "retention-missing"
	RetentionDrift     = "retention-drift"
	BucketLockDisabled = "bucket-lock-disabled"
	Unreadable         = "unreadable-record"
	ReasonMissing      = "reason-missing"
)

// Finding is one root cause: a break of the archive's guarantees, named
// with the key it concerns and, when it costs windows, those windows.
type Finding struct {
	Code     string          `json:"code"`
	Schedule string          `json:"schedule,omitempty"`
	Key      string          `json:"key,omitempty"`
	Windows  []domain.Window `json:"windows,omitempty"`
	Message  string          `json:"message"`
}

func (f Finding) String() string {
	var b strings.Builder
	if f.Schedule != "" {
		b.WriteString(f.Schedule + ": ")
	}
	b.WriteString(f.Code + ": " + f.Message)
	return b.String()
}

// ScheduleReport sums up one schedule.
type ScheduleReport struct {
	Schedule string `json:"schedule"`
	// Definition is the newest definition record's version (0: none).
	Definition int `json:"definition_version"`
	// Head is the head's sequence; Manifests the chain's length as read.
	Head      int64          `json:"head_sequence"`
	Manifests int            `json:"manifests"`
	Kinds     map[string]int `json:"kinds"`
	// Objects read back (size and sha256), their bytes and rows.
	Objects int   `json:"objects"`
	Bytes   int64 `json:"bytes"`
	Rows    int64 `json:"rows"`
	// Expected windows from the definition's start to as-of minus lag and
	// grace (within --from/--to); Present of them have a manifest.
	Expected int `json:"expected_windows"`
	Present  int `json:"present_windows"`
	// First and Last bound the expected windows.
	First time.Time `json:"first_window_start,omitzero"`
	Last  time.Time `json:"last_window_end,omitzero"`
	// SignedThrough is the highest sequence a trusted per-commit digest
	// signs.
	SignedThrough int64 `json:"signed_through,omitempty"`
	// Held counts objects and manifests under an Object Lock legal hold.
	Held int `json:"legal_holds,omitempty"`
	// Months counts the expected windows per month (UTC) of their start.
	Months []MonthCount `json:"months,omitempty"`
}

// MonthCount is the completeness of one schedule in one month.
type MonthCount struct {
	Month    string `json:"month"`
	Expected int    `json:"expected"`
	Present  int    `json:"present"`
}

// Trust says which keys signatures were checked against.
const (
	TrustExternal = "external"     // keys given from outside the archive
	TrustArchive  = "archive-only" // only the archive's own _keys/
	TrustNone     = "unsigned"     // the archive has no signatures
)

// Report is the outcome of Verify.
type Report struct {
	Location string    `json:"location"`
	AsOf     time.Time `json:"as_of"`
	Grace    string    `json:"grace"`
	From     time.Time `json:"from,omitzero"`
	To       time.Time `json:"to,omitzero"`
	// Trust is external, archive-only or unsigned; Keys the key ids used.
	Trust string   `json:"trust"`
	Keys  []string `json:"keys,omitempty"`
	// Daily digests read, and the days they cover.
	DailyDigests int    `json:"daily_digests"`
	FirstDay     string `json:"first_day,omitempty"`
	LastDay      string `json:"last_day,omitempty"`
	// BucketLock is the bucket's Object Lock configuration (S3 only).
	BucketLock *archive.BucketLock `json:"bucket_lock,omitempty"`
	Schedules  []*ScheduleReport   `json:"schedules"`
	// Objects and ObjectBytes read back in all (manifests and records not
	// counted).
	Objects     int       `json:"objects"`
	ObjectBytes int64     `json:"object_bytes"`
	Findings    []Finding `json:"findings"`
	// Warnings weaken the proof without being a break (signatures checked
	// against the archive's own keys only; catch-up policies that leave
	// windows out by design).
	Warnings []string `json:"warnings,omitempty"`
}

// OK reports an archive complete up to as-of and untouched.
func (r *Report) OK() bool { return len(r.Findings) == 0 }

func (r *Report) add(f Finding) { r.Findings = append(r.Findings, f) }

func (r *Report) sort() {
	slices.SortStableFunc(r.Findings, func(a, b Finding) int {
		if c := strings.Compare(a.Schedule, b.Schedule); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
}

// windowList names windows compactly: up to 10, then a count.
func windowList(ws []domain.Window) string {
	var parts []string
	for i, w := range ws {
		if i == 10 {
			parts = append(parts, fmt.Sprintf("and %d more", len(ws)-10))
			break
		}
		parts = append(parts, w.ID())
	}
	return strings.Join(parts, ", ")
}
