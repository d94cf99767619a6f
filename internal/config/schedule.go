package config

import (
	"cmp"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/exportd/exportd/internal/domain"
	"github.com/exportd/exportd/internal/schedule"
)

// checkSchedule resolves a decoded schedule file against cfg and reports
// every problem in it.
func (l *loader) checkSchedule(cfg *Config, f *fileState, raw *scheduleFile) *Schedule {
	d := cfg.Defaults
	s := &Schedule{
		Name:        raw.Name,
		Description: raw.Description,
		File:        f.doc.file,
		Enabled:     raw.Enabled == nil || *raw.Enabled,
		Source:      raw.Source,
		Cron:        raw.Cron,
		DedupeBy:    raw.DedupeBy,
		Recheck:     raw.Recheck,
		doc:         f.doc,
	}

	// The name is the file's base name: `exportd run NAME` then always
	// finds schedules/NAME.yaml, and a copied file that kept its old name
	// is caught here instead of fighting over the same archive keys.
	base := strings.TrimSuffix(filepath.Base(f.doc.file), filepath.Ext(f.doc.file))
	switch {
	case raw.Name == "" && domain.NameRE.MatchString(base):
		l.errorf(f, "name", "missing; set name: %s (the file's base name)", base)
	case raw.Name == "":
		l.errorf(f, "name", "missing; set a name of 1 to 63 characters a-z, 0-9 and '-' and rename the file to match it")
	case !domain.NameRE.MatchString(raw.Name):
		l.errorf(f, "name", "%s is not a valid export name: use 1 to 63 characters a-z, 0-9 and '-', starting with a letter or digit", quoteShort(raw.Name))
	case raw.Name != base && !domain.NameRE.MatchString(base):
		l.errorf(f, "name", "must match the file's base name %q, which is not a valid export name: rename the file to %s%s", base, raw.Name, filepath.Ext(f.doc.file))
	case raw.Name != base:
		l.errorf(f, "name", "must match the file's base name %q: set name: %s or rename the file to %s%s", base, base, raw.Name, filepath.Ext(f.doc.file))
	}

	sources := sortedKeys(cfg.Sources)
	switch src := cfg.Sources[raw.Source]; {
	case src == nil && l.daemonFile.isBad("sources"):
		// The sources could not be read; that error says enough.
	case len(sources) == 0:
		l.errorf(f, "source", "no sources are defined in %s; add one under sources", cfg.File)
	case raw.Source == "":
		l.errorf(f, "source", "missing; defined sources: %s", strings.Join(sources, ", "))
	case src == nil:
		l.errorf(f, "source", "unknown source %q; defined sources: %s", raw.Source, strings.Join(sources, ", "))
	default:
		s.SourceConfig = src
	}

	s.Timezone = cmpOr(raw.Timezone, d.Timezone)
	loc, err := l.location(s.Timezone)
	if err != nil {
		l.errorf(f, "timezone", "%v", err)
	}
	s.Location = loc

	if raw.Cron == "" {
		l.errorf(f, "cron", "missing; set a 5-field cron expression such as \"0 6 * * *\" (minute hour day-of-month month day-of-week) or @daily")
	} else if c, err := schedule.ParseCron(raw.Cron, cmp.Or(loc, time.UTC)); err != nil {
		l.errorf(f, "cron", "%s", strings.TrimPrefix(err.Error(), fmt.Sprintf("cron %q: ", raw.Cron)))
	} else {
		s.Fires = c
	}

	if w := raw.Window; w != nil {
		s.Window = &Window{Every: Period(w.Every), Column: w.Column, Lag: w.Lag}
		if w.Every == "" {
			l.errorf(f, "window.every", "missing; set hour, day, week or month")
		} else {
			l.checkEnum(f, "window.every", w.Every, "window period", periods)
		}
		if w.Column == "" {
			l.errorf(f, "window.column", "missing; name the timestamp column that places a row in a window, e.g. column: Request Time")
		}
		if w.Lag < 0 {
			l.errorf(f, "window.lag", "must not be negative")
		}
		if time.Duration(w.Lag) > MaxWindowLag {
			l.errorf(f, "window.lag", "%s is more than %s: no window would close for that long; use the time the source needs to deliver late rows, e.g. lag: 2h", w.Lag, Duration(MaxWindowLag))
		}
		if w.Start != "" && loc != nil {
			start, err := parseStart(w.Start, loc)
			if err == nil && start.Before(MinWindowStart) {
				err = fmt.Errorf("%s is before %s: no source holds audit rows that old, and every window from it would be exported or recorded as lost; set the date of the first day to archive, e.g. start: 2026-01-01", start.Format(time.DateOnly), MinWindowStart.Format(time.DateOnly))
			}
			if err == nil && slices.Contains(periods, w.Every) {
				err = checkAligned(start, Period(w.Every), loc)
			}
			if err != nil {
				l.errorf(f, "window.start", "%v", err)
			}
			s.Window.Start = start
		}
	}

	// catch_up: all rebuilds past windows; a snapshot cannot be taken for
	// a past time, so an inherited "all" means "latest" for snapshots and
	// an explicit one is an error.
	switch {
	case raw.CatchUp == "":
		s.CatchUp = d.CatchUp
		if s.Window == nil && s.CatchUp == CatchUpAll {
			s.CatchUp = CatchUpLatest
		}
	case l.checkEnum(f, "catch_up", raw.CatchUp, "catch-up policy", catchUps):
		s.CatchUp = CatchUp(raw.CatchUp)
		if s.Window == nil && s.CatchUp == CatchUpAll {
			l.errorf(f, "catch_up", "all needs a window: a snapshot cannot be taken for a past time; use latest or skip, or add a window")
		}
	}
	if s.Window != nil && s.CatchUp == CatchUpAll && s.Window.Start.IsZero() && raw.Window.Start == "" &&
		s.SourceConfig != nil && s.SourceConfig.Retention == 0 && !l.sourceBad[s.Source] {
		l.errorf(f, "window.start", "missing; catch_up: all starts at the oldest window the source retains, and source %q declares no retention: set start (e.g. start: 2026-01-01) or the source's retention", s.Source)
	}

	s.Condition = Condition(cmpOr(raw.Condition, string(d.Condition)))
	if raw.Condition != "" {
		l.checkEnum(f, "condition", raw.Condition, "condition", conditions)
	}
	s.OnSchemaChange = SchemaChange(cmpOr(raw.OnSchemaChange, string(d.OnSchemaChange)))
	if raw.OnSchemaChange != "" {
		l.checkEnum(f, "on_schema_change", raw.OnSchemaChange, "policy", schemaChanges)
	}

	if raw.Recheck < 0 {
		l.errorf(f, "recheck", "must not be negative")
	} else if raw.Recheck > 0 && s.Window == nil {
		l.errorf(f, "recheck", "needs a window: recheck re-counts archived windows, and this schedule exports snapshots")
	}

	s.Retries = l.retries(f, "retries", raw.Retries, d.Retries)
	s.PauseAfterFailures = d.PauseAfterFailures
	if raw.PauseAfterFailures != nil {
		s.PauseAfterFailures = *raw.PauseAfterFailures
		if s.PauseAfterFailures < 0 {
			l.errorf(f, "pause_after_failures", "must not be negative (0 never pauses)")
		}
	}
	s.Notify = d.Notify
	if raw.Notify != nil {
		s.Notify = raw.Notify
		l.checkNotifyRefs(f, cfg, "notify", raw.Notify)
	}
	s.Alerts = raw.Alerts
	for i, a := range raw.Alerts {
		if a.When == "" {
			l.errorf(f, indexPath("alerts", i)+".when", "missing; write a condition over the output columns, e.g. when: [Failure] > 100")
		}
	}

	if raw.Element == nil {
		l.errorf(f, "element", "missing; describe the export: element: {from: {table: AUDIT_LOGS}, columns: [...]}")
	} else {
		s.Element = *raw.Element
		from := s.Element.From
		switch {
		case from.Table == "" && strings.TrimSpace(from.SQL) == "":
			l.errorf(f, "element.from", "missing; set table: NAME or sql: SELECT …")
		case from.Table != "" && from.SQL != "":
			l.errorf(f, "element.from", "set either table or sql, not both")
		}
	}

	seen := map[string]int{}
	for i, col := range raw.DedupeBy {
		switch prev, dup := seen[col]; {
		case strings.TrimSpace(col) == "":
			l.errorf(f, indexPath("dedupe_by", i), "empty; name a column")
		case dup:
			l.errorf(f, indexPath("dedupe_by", i), "%q is already listed as dedupe_by[%d]", col, prev)
		}
		seen[col] = i
	}

	l.checkDestination(cfg, f, s, raw)
	l.checkUnload(f, s, raw)
	return s
}

func (l *loader) checkDestination(cfg *Config, f *fileState, s *Schedule, raw *scheduleFile) {
	rd := raw.Destination
	if rd == nil {
		l.errorf(f, "destination", "missing; set integration and prefix (or uri for an s3 integration)")
		return
	}
	dst := &s.Destination
	dst.Integration = rd.Integration
	dst.Gzip = cfg.Defaults.Gzip
	if rd.Gzip != nil {
		dst.Gzip = *rd.Gzip
	}

	tpl, err := domain.ParseFilename(rd.Filename, s.Window != nil)
	if err != nil {
		msg := err.Error()
		for _, src := range []string{rd.Filename, domain.DefaultFilename} {
			msg = strings.TrimPrefix(msg, fmt.Sprintf("filename %q: ", src))
		}
		l.errorf(f, "destination.filename", "%s", msg)
	} else {
		dst.FilenameTemplate = tpl
		dst.Filename = tpl.String()
	}

	names := sortedKeys(cfg.Integrations)
	ig := cfg.Integrations[rd.Integration]
	switch {
	case ig == nil && l.daemonFile.isBad("integrations"):
		return // the integrations could not be read; that error says enough
	case len(names) == 0:
		l.errorf(f, "destination.integration", "no integrations are defined in %s; add one under integrations", cfg.File)
		return
	case rd.Integration == "":
		l.errorf(f, "destination.integration", "missing; defined integrations: %s", strings.Join(names, ", "))
		return
	case ig == nil:
		l.errorf(f, "destination.integration", "unknown integration %q; defined integrations: %s", rd.Integration, strings.Join(names, ", "))
		return
	}
	dst.IntegrationConfig = ig
	switch ig.Type {
	case IntegrationFolder:
		if rd.URI != "" {
			l.errorf(f, "destination.uri", "uri is for s3 integrations; %q is a folder integration: use prefix", ig.Name)
		}
		p, err := domain.ValidatePrefix(rd.Prefix)
		if err != nil {
			l.errorf(f, "destination.prefix", "invalid prefix %s: %s", quoteShort(rd.Prefix), keyReason(err, rd.Prefix))
		}
		dst.Prefix = p
	case IntegrationS3:
		if rd.Prefix != "" {
			l.errorf(f, "destination.prefix", "s3 integrations take uri: s3://bucket/prefix/ instead of prefix")
		}
		if rd.URI == "" {
			l.errorf(f, "destination.uri", "missing; set uri: s3://bucket/prefix/ inside the allowed_locations of integration %q", ig.Name)
			return
		}
		norm, bucket, prefix, err := parseS3URI(rd.URI)
		if err != nil {
			l.errorf(f, "destination.uri", "%v", err)
			return
		}
		dst.URI, dst.Bucket, dst.Prefix = norm, bucket, prefix
		if !l.integrationBad[ig.Name] {
			l.checkLocation(f, ig, norm)
		}
	}
}

// checkLocation applies an s3 integration's allowed and blocked locations
// to a destination URI. Both are normalized to end with '/', so a prefix
// match is a match on '/' boundaries: s3://b/audit/ does not admit
// s3://b/audit-evil/.
func (l *loader) checkLocation(f *fileState, ig *Integration, uri string) {
	allowed := false
	for _, loc := range ig.S3.AllowedLocations {
		if loc == "*" || strings.HasPrefix(uri, loc) {
			allowed = true
		}
	}
	if !allowed && len(ig.S3.AllowedLocations) > 0 {
		l.errorf(f, "destination.uri", "%s is outside the allowed_locations of integration %q (%s); choose a URI under one of them",
			uri, ig.Name, strings.Join(ig.S3.AllowedLocations, ", "))
	}
	for _, loc := range ig.S3.BlockedLocations {
		switch {
		case strings.HasPrefix(uri, loc):
			l.errorf(f, "destination.uri", "%s is inside blocked location %s of integration %q", uri, loc, ig.Name)
		case strings.HasPrefix(loc, uri):
			l.errorf(f, "destination.uri", "%s contains blocked location %s of integration %q; choose a URI beside it", uri, loc, ig.Name)
		}
	}
}

// MaxWindowLag is the longest window.lag accepted.
const MaxWindowLag = 366 * 24 * time.Hour

// MinWindowStart is the earliest window.start accepted (the Unix epoch).
var MinWindowStart = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)

// parseStart parses window.start: a date (midnight in the schedule's zone)
// or an RFC 3339 instant.
func parseStart(v string, loc *time.Location) (time.Time, error) {
	if t, err := time.ParseInLocation(time.DateOnly, v, loc); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.In(loc), nil
	}
	return time.Time{}, fmt.Errorf("%s is not a date (2026-09-01) or an RFC 3339 instant (2026-09-01T00:00:00Z)", quoteShort(v))
}

// windowFloor is the start of the window of the given period that holds t,
// in loc. Weeks start on Monday.
func windowFloor(t time.Time, every Period, loc *time.Location) time.Time {
	t = t.In(loc)
	y, m, d := t.Date()
	switch every {
	case PeriodHour:
		return time.Date(y, m, d, t.Hour(), 0, 0, 0, loc)
	case PeriodWeek:
		return time.Date(y, m, d-(int(t.Weekday())+6)%7, 0, 0, 0, 0, loc)
	case PeriodMonth:
		return time.Date(y, m, 1, 0, 0, 0, 0, loc)
	}
	return time.Date(y, m, d, 0, 0, 0, 0, loc)
}

func checkAligned(t time.Time, every Period, loc *time.Location) error {
	floor := windowFloor(t, every, loc)
	if floor.Equal(t) {
		return nil
	}
	show := func(t time.Time) string {
		if every == PeriodHour || t.Hour() != 0 || t.Minute() != 0 || t.Second() != 0 {
			return t.Format(time.RFC3339)
		}
		return t.Format(time.DateOnly)
	}
	switch every {
	case PeriodHour:
		return fmt.Errorf("%s is not the start of an hour in %s; use %s", t.Format(time.RFC3339), loc, show(floor))
	case PeriodWeek:
		if t.Equal(windowFloor(t, PeriodDay, loc)) {
			return fmt.Errorf("%s is a %s; weekly windows start on Monday: use %s", show(t), t.Weekday(), show(floor))
		}
	}
	return fmt.Errorf("%s is not the start of a %s in %s; use %s", show(t), every, loc, show(floor))
}
