package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/exportd/exportd/internal/archive"
)

// Hold places (on) or lifts an Object Lock legal hold on the objects and
// manifests of the schedules' units whose windows overlap [from, to), and
// records who, when and why under _holds/ (create-only). The store must be
// able to hold objects (S3 with Object Lock).
func Hold(ctx context.Context, st archive.Store, prefix string, schedules []string, from, to time.Time, on bool, by, reason string, now time.Time) (string, int, error) {
	lh, ok := st.(archive.LegalHolder)
	if !ok {
		return "", 0, errors.New("legal holds need an S3 bucket with Object Lock; this store cannot hold objects")
	}
	if reason == "" || by == "" {
		return "", 0, errors.New("say who (--by) and why (--reason): the archive records both")
	}
	entries, err := List(ctx, st, prefix, schedules, from, to, 16)
	if err != nil {
		return "", 0, err
	}
	var keys []string
	seen := map[string]bool{}
	for _, e := range entries {
		if !seen[e.Schedule] {
			seen[e.Schedule] = true
			if len(schedules) == 0 {
				schedules = append(schedules, e.Schedule)
			}
		}
		keys = append(keys, e.ManifestKey)
		if e.Key != "" {
			keys = append(keys, e.Key)
		}
	}
	if len(keys) == 0 {
		return "", 0, errors.New("no archived unit in that period")
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for _, k := range keys {
		g.Go(func() error { return lh.SetLegalHold(gctx, k, on) })
	}
	if err := g.Wait(); err != nil {
		return "", 0, err
	}
	action := "placed"
	if !on {
		action = "lifted"
	}
	rec := archive.HoldRecord{FormatVersion: archive.FormatVersion, Action: action, By: by, At: now.UTC().Format(time.RFC3339Nano), Reason: reason,
		Schedules: schedules, Keys: keys}
	if !from.IsZero() {
		rec.From = from.UTC().Format(time.RFC3339)
	}
	if !to.IsZero() {
		rec.To = to.UTC().Format(time.RFC3339)
	}
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return "", 0, err
	}
	key := archive.PrefixKey(prefix, archive.HoldsDir, now.UTC().Format("20060102T150405.000000000Z")+"-"+action+".json")
	if _, err := st.Put(ctx, key, bytes.NewReader(append(data, '\n')), archive.PutOptions{ContentType: "application/json"}); err != nil {
		return "", 0, fmt.Errorf("record the hold: %w", err)
	}
	return key, len(keys), nil
}
