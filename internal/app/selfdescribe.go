package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"
	"go.yaml.in/yaml/v3"

	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/config"
)

// definitionSpec is what the archive records of a schedule's definition:
// everything that decides which units exist and what they hold, never a
// secret, a DSN or a source's init SQL.
func definitionSpec(s *config.Schedule, dialect, sql string) archive.DefinitionSpec {
	el := elementJSON(s)
	d := archive.DefinitionSpec{
		Cron: s.Cron, Timezone: s.Location.String(), CatchUp: string(s.CatchUp), Condition: string(s.Condition),
		DedupeBy: s.DedupeBy, Element: el, SQL: map[string]string{dialect: sql},
		Source: archive.Source{Name: s.Source, Dialect: dialect},
		Destination: archive.DefinitionDestination{Prefix: s.Destination.Prefix, Filename: s.Layout().Filename.String(),
			Ext: s.Layout().Ext},
	}
	if w := s.Window; w != nil {
		d.Window = &archive.DefinitionWindow{Every: string(w.Every), Column: w.Column, Lag: time.Duration(w.Lag).String(), Start: w.Start}
	}
	if ic := s.Destination.IntegrationConfig; ic != nil && ic.Type == config.IntegrationS3 && ic.S3.ObjectLock != nil {
		d.Retention = &archive.Retention{Mode: ic.S3.ObjectLock.Mode, Retain: time.Duration(ic.S3.ObjectLock.Retain).String()}
	}
	return d
}

// elementJSON is the element with the schedule file's field names
// (from, filters, group_by, ...).
func elementJSON(s *config.Schedule) json.RawMessage {
	var v any
	if y, err := yaml.Marshal(s.Element); err == nil && yaml.Unmarshal(y, &v) == nil {
		if j, err := json.Marshal(v); err == nil {
			return j
		}
	}
	j, _ := json.Marshal(s.Element)
	return j
}

// WriteDailyDigests writes today's (UTC) daily digest under every archive
// prefix the enabled schedules write to, unless it is there, and publishes
// the signing key's public half under _keys/. The daemon calls it at start
// and every hour, serve --once after its catch-up, so that every day has
// its digest, exports or not.
func (a *App) WriteDailyDigests(ctx context.Context) error {
	type dest struct{ integration, bucket, prefix string }
	names := map[dest][]string{}
	var order []dest
	retain := map[dest]time.Duration{}
	for _, s := range a.cfg.Schedules {
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
	now := a.opts.Now().UTC()
	var errs []error
	for _, k := range order {
		_, ar, err := a.Store(ctx, k.integration, k.bucket)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if a.signer != nil {
			if _, err := ar.PublishKey(ctx, k.prefix, a.signer); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		var opts archive.PutOptions
		if r := retain[k]; r > 0 {
			opts.RetainUntil = now.Add(r)
		}
		slices.Sort(names[k])
		key, err := ar.WriteDailyDigest(ctx, k.prefix, now, names[k], a.signer, opts)
		if err != nil {
			errs = append(errs, fmt.Errorf("daily digest under %q: %w", k.prefix, err))
			continue
		}
		a.log.Debug("daily digest", zap.String("key", key))
	}
	return errors.Join(errs...)
}

// dailyDigests writes the daily digests at start and then every hour
// (the first tick of a UTC day writes it) until ctx ends.
func (d *Daemon) dailyDigests(ctx context.Context) {
	write := func() {
		a, release := d.acquire()
		defer release()
		if err := a.WriteDailyDigests(ctx); err != nil && ctx.Err() == nil {
			d.log.Error("cannot write the daily digest; the next hourly try writes it", zap.Error(err))
		}
	}
	write()
	every(ctx, time.Hour, write)
}
