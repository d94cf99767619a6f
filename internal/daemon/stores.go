package daemon

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/metrics"
)

// uploadSweeper is a store that can abort the multipart uploads that dead
// runs left (the S3 store).
type uploadSweeper interface {
	SweepStaleUploads(ctx context.Context, prefix string, olderThan time.Duration) (int, error)
}

// SweepUploads aborts the multipart uploads that dead runs left under the
// destinations of the enabled schedules on S3 (an abort cannot reach a
// server that was down when the run died). Uploads younger than
// runs.sweep_uploads_older_than (default twice the lease) may belong to a
// live run of another replica and are left alone.
func SweepUploads(ctx context.Context, a Loaded, log *zap.Logger) {
	sweepUploads(ctx, a, log, nil)
}

// sweepLoop sweeps the stale multipart uploads at once and then every
// runs.sweep_uploads_every of the current configuration, until ctx ends:
// a daemon that runs for months does not depend on a bucket lifecycle
// rule for them.
func (d *Daemon) sweepLoop(ctx context.Context) {
	for {
		a, release := d.acquire()
		sweepUploads(ctx, a, d.log, d.metrics)
		iv := time.Duration(a.Config().Runs.SweepUploadsEvery)
		release()
		if iv <= 0 {
			iv = time.Duration(config.DefaultSweepUploadsEvery)
		}
		t := time.NewTimer(iv)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

func sweepUploads(ctx context.Context, a Loaded, log *zap.Logger, m *metrics.Metrics) {
	runs := a.Config().Runs
	olderThan := time.Duration(runs.SweepUploadsOlderThan)
	if olderThan <= 0 {
		olderThan = 2 * time.Duration(runs.Lease)
	}
	seen := map[string]bool{}
	for _, s := range a.Config().Schedules {
		ic := s.Destination.IntegrationConfig
		if !s.Enabled || ic == nil || ic.Type != config.IntegrationS3 || ctx.Err() != nil {
			continue
		}
		prefix := s.Destination.Prefix
		if prefix != "" {
			prefix += "/"
		}
		id := ic.Name + "\x00" + s.Destination.Bucket + "\x00" + prefix
		if seen[id] {
			continue
		}
		seen[id] = true
		st, _, err := a.Store(ctx, ic.Name, s.Destination.Bucket)
		if err != nil {
			log.Warn("sweep stale uploads", zap.String("integration", ic.Name), zap.Error(err))
			m.UploadsSwept(0, true)
			continue
		}
		s3s, ok := st.(uploadSweeper)
		if !ok {
			continue
		}
		n, err := s3s.SweepStaleUploads(ctx, prefix, olderThan)
		m.UploadsSwept(n, err != nil)
		if err != nil {
			log.Warn("sweep stale uploads", zap.String("bucket", s.Destination.Bucket), zap.String("prefix", prefix), zap.Error(err))
		} else if n > 0 {
			log.Info("aborted stale multipart uploads", zap.String("bucket", s.Destination.Bucket), zap.String("prefix", prefix), zap.Int("uploads", n))
		}
	}
}

// OpenStores opens the store of every enabled schedule's destination, so
// that a missing bucket, rejected credentials or a bucket without the
// configured Object Lock stop the daemon at start-up with one clear error.
func OpenStores(ctx context.Context, a Loaded) error {
	var errs []error
	seen := map[string]bool{}
	for _, s := range a.Config().Schedules {
		id := s.Destination.Integration + "\x00" + s.Destination.Bucket
		if !s.Enabled || seen[id] {
			continue
		}
		seen[id] = true
		if _, _, err := a.Store(ctx, s.Destination.Integration, s.Destination.Bucket); err != nil {
			errs = append(errs, fmt.Errorf("schedule %q: destination: %w", s.Name, err))
		}
	}
	return errors.Join(errs...)
}
