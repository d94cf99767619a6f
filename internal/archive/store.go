// Package archive defines exportd's archive contract: manifests, claims,
// the per-schedule digest chain, verification and the Store interface that
// every backend (folder, S3) implements. The key layout and the unit ids it
// stores under come from package domain.
//
// Everything here is persisted for years. Change nothing that alters a key,
// an id or a manifest field without bumping FormatVersion.
package archive

import (
	"context"
	"errors"
	"io"
	"time"
)

// Errors that callers branch on.
var (
	// ErrNotFound: no object at the key.
	ErrNotFound = errors.New("not found")
	// ErrExists: a create-only write found the key taken.
	ErrExists = errors.New("already exists")
	// ErrPrecondition: a compare-and-swap lost (the etag moved).
	ErrPrecondition = errors.New("precondition failed")
	// ErrAlreadyArchived: the unit has a committed manifest; nothing to do.
	ErrAlreadyArchived = errors.New("already archived")
	// ErrClaimed: another run holds a live claim on the unit.
	ErrClaimed = errors.New("claimed by another run")
)

// ObjectInfo describes a stored object.
type ObjectInfo struct {
	Key      string
	Size     int64
	ETag     string
	Modified time.Time
	// Checksums the store computed and verified, by algorithm
	// (e.g. "CRC64NVME": base64), when the store has them.
	Checksums map[string]string
	// RetainUntil is the Object Lock retain-until date, if any.
	RetainUntil time.Time
	// LockMode is the Object Lock mode (COMPLIANCE, GOVERNANCE) and
	// LegalHold whether a legal hold is on, on stores that lock objects.
	LockMode  string
	LegalHold bool
}

// PutOptions apply to data objects and manifests.
type PutOptions struct {
	ContentType     string
	ContentEncoding string
	// RetainUntil, when set and the store supports it, locks the object
	// until then (S3 Object Lock).
	RetainUntil time.Time
}

// Reader is the read half of a store: all that the auditor commands use.
type Reader interface {
	// Stat returns ErrNotFound (wrapped) for a missing key.
	Stat(ctx context.Context, key string) (ObjectInfo, error)
	// Get opens an object for reading.
	Get(ctx context.Context, key string) (io.ReadCloser, ObjectInfo, error)
	// List calls fn for every object whose key starts with prefix, in
	// lexical key order. Temporary and in-flight uploads are not listed.
	List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error
}

// Writer is the write half of a store.
type Writer interface {
	// Put streams body to key, create-only: ErrExists if the key is taken.
	// Readers never see a partial object; on error nothing is visible.
	Put(ctx context.Context, key string, body io.Reader, opts PutOptions) (ObjectInfo, error)
	// Create writes a small object create-only (claims, head) and returns
	// its etag; ErrExists if the key is taken.
	Create(ctx context.Context, key string, data []byte) (etag string, err error)
	// Replace overwrites a small object if its etag is still ifMatch
	// (compare-and-swap); ErrPrecondition otherwise, ErrNotFound if gone.
	Replace(ctx context.Context, key string, data []byte, ifMatch string) (etag string, err error)
	// Read returns a small object's bytes and etag.
	Read(ctx context.Context, key string) (data []byte, etag string, err error)
	// Delete removes a small object if its etag is still ifMatch. Only
	// claims are ever deleted.
	Delete(ctx context.Context, key string, ifMatch string) error
}

// Store is a complete archive backend.
type Store interface {
	Reader
	Writer
	// Describe names the store for logs and manifests, e.g.
	// "file:///srv/archive" or "s3://bucket/prefix"; never credentials.
	Describe() string
}

// StreamPutter is an optional fast path of a Writer: the producer writes
// straight into the store's destination (a local file) instead of through a
// pipe. It has Put's guarantees: create-only, and nothing visible unless
// write returns nil.
type StreamPutter interface {
	PutStream(ctx context.Context, key string, opts PutOptions, write func(w io.Writer) error) (ObjectInfo, error)
}
