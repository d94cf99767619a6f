package archive

import "context"

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
