package daemon

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/config"
	"go.uber.org/zap"
)

// WriteDailyDigests writes today's (UTC) daily digest under every archive
// prefix the enabled schedules of l write to, unless it is there, and
// publishes the signing key's public half under _keys/. The daemon calls it
// at start and every hour, serve --once after its catch-up, so that every
// day has its digest, exports or not.
func WriteDailyDigests(ctx context.Context, l Loaded, log *zap.Logger) error {
	cfg := l.Config()
	signer := cfg.Signing.Key
	type dest struct{ integration, bucket, prefix string }
	names := map[dest][]string{}
	var order []dest
	retain := map[dest]time.Duration{}
	for _, s := range cfg.Schedules {
		if !s.Enabled {
			continue
		}
		k := dest{s.Destination.Integration, s.Destination.Bucket, s.Destination.Prefix}
		if _, ok := names[k]; !ok {
			order = append(order, k)
		}
		names[k] = append(names[k], s.Name)
		if ic := s.Destination.IntegrationConfig; ic != nil && ic.Type == config.IntegrationS3 && ic.S3.ObjectLock != nil {
			retain[k] = max(retain[k], time.Duration(ic.S3.ObjectLock.Retain))
		}
	}
	now := l.Now().UTC()
	var errs []error
	for _, k := range order {
		_, ar, err := l.Store(ctx, k.integration, k.bucket)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if signer != nil {
			if _, err := ar.PublishKey(ctx, k.prefix, signer); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		var opts archive.PutOptions
		if r := retain[k]; r > 0 {
			opts.RetainUntil = now.Add(r)
		}
		slices.Sort(names[k])
		key, err := ar.WriteDailyDigest(ctx, k.prefix, now, names[k], signer, opts)
		if err != nil {
			errs = append(errs, fmt.Errorf("daily digest under %q: %w", k.prefix, err))
			continue
		}
		log.Debug("daily digest", zap.String("key", key))
	}
	return errors.Join(errs...)
}

// dailyDigests writes the daily digests at start and then every hour
// (the first tick of a UTC day writes it) until ctx ends.
func (d *Daemon) dailyDigests(ctx context.Context) {
	write := func() {
		a, release := d.acquire()
		defer release()
		if err := WriteDailyDigests(ctx, a, d.log); err != nil && ctx.Err() == nil {
			d.log.Error("cannot write the daily digest; the next hourly try writes it", zap.Error(err))
		}
	}
	write()
	every(ctx, time.Hour, write)
}
