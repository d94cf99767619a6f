package archive

import (
	"context"
	"time"
)

// BucketLock is a bucket's Object Lock configuration, as an auditor checks
// it.
type BucketLock struct {
	// Enabled: the bucket has Object Lock (and so versioning) on.
	Enabled bool `json:"enabled"`
	// Versioning is the bucket's versioning status (Enabled, Suspended, "").
	Versioning string `json:"versioning"`
	// DefaultMode, DefaultDays and DefaultYears are the bucket's default
	// retention, if any.
	DefaultMode  string `json:"default_mode,omitempty"`
	DefaultDays  int32  `json:"default_days,omitempty"`
	DefaultYears int32  `json:"default_years,omitempty"`
}

// LockInspector is implemented by stores with Object Lock (S3): it reads
// the bucket's lock configuration. Reader's Stat and Get fill
// ObjectInfo.LockMode, RetainUntil and LegalHold on such stores.
type LockInspector interface {
	BucketLock(ctx context.Context) (BucketLock, error)
}

// LegalHolder is implemented by stores that can place an Object Lock legal
// hold on an object (S3): the object cannot be deleted or overwritten,
// whatever its retention, until the hold is lifted.
type LegalHolder interface {
	SetLegalHold(ctx context.Context, key string, on bool) error
}

// RetentionExtender is implemented by stores that lock objects (S3): it
// extends the Object Lock retain-until date of an object's current version
// to until, when that is later than the date it has (never shortening it;
// an object not locked yet is locked in the store's configured mode).
type RetentionExtender interface {
	ExtendRetention(ctx context.Context, key string, until time.Time) error
}

// HoldsDir holds the records of legal holds placed and lifted:
// _holds/<time>-<placed|lifted>.json, create-only.
const HoldsDir = "_holds"

// HoldRecord says who placed (or lifted) a legal hold on which objects,
// when and why.
type HoldRecord struct {
	FormatVersion int      `json:"format_version"`
	Action        string   `json:"action"` // placed or lifted
	By            string   `json:"by"`
	At            string   `json:"at"`
	Reason        string   `json:"reason"`
	Schedules     []string `json:"schedules"`
	From          string   `json:"from,omitempty"`
	To            string   `json:"to,omitempty"`
	Keys          []string `json:"keys"`
}
