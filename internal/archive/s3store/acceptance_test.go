package s3store_test

import (
	"testing"
	"time"

	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/archive/archivetest"
	"github.com/exportd/exportd/internal/archive/s3store"
)

func TestAcceptance(t *testing.T) {
	archivetest.Run(t, func(t *testing.T) archive.Store { return newStore(t, gw, false) })
}

// The same suite on a bucket with versioning and Object Lock, as production
// buckets have: deleted claims become delete markers, and the claim key can
// be created again.
func TestAcceptanceObjectLockBucket(t *testing.T) {
	archivetest.Run(t, func(t *testing.T) archive.Store {
		return newStore(t, gw, true, func(o *s3store.Options) {
			o.ObjectLock = &s3store.ObjectLock{Mode: s3store.LockCompliance, Retain: 24 * time.Hour}
		})
	})
}
