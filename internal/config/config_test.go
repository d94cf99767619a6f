package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/domain"
)

// loadTree loads dir/exportd.yaml with the test environment.
func loadTree(t *testing.T, dir string, opts LoadOptions) (*Config, []string) {
	t.Helper()
	if opts.LookupEnv == nil {
		opts.LookupEnv = lookupIn(testEnv)
	}
	cfg, err := Load(filepath.Join(dir, "exportd.yaml"), opts)
	if err == nil {
		return cfg, nil
	}
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("Load: %v (%T), want Errors", err, err)
	}
	var lines []string
	for _, e := range errs {
		lines = append(lines, strings.ReplaceAll(e.Error(), dir+string(filepath.Separator), ""))
	}
	return nil, lines
}

func mustLoad(t *testing.T, dir string, opts LoadOptions) *Config {
	t.Helper()
	cfg, errs := loadTree(t, dir, opts)
	if errs != nil {
		t.Fatalf("Load failed:\n%s", strings.Join(errs, "\n"))
	}
	return cfg
}

func TestLoadGood(t *testing.T) {
	dir := baseTree(t)
	overlay(t, "testdata/good", dir)
	cfg := mustLoad(t, dir, LoadOptions{})

	if want := filepath.Join(dir, "state"); cfg.StateDir != want {
		t.Errorf("StateDir = %q, want %q", cfg.StateDir, want)
	}
	if want := filepath.Join(dir, "schedules"); cfg.SchedulesDir != want {
		t.Errorf("SchedulesDir = %q, want %q", cfg.SchedulesDir, want)
	}
	if cfg.InstanceID != domain.DefaultInstance() {
		t.Errorf("InstanceID = %q, want host:pid %q", cfg.InstanceID, domain.DefaultInstance())
	}

	demo := cfg.Sources["demo"]
	if demo.Name != "demo" || demo.DuckDB.Path != DuckDBMemory || demo.Location != time.UTC || demo.Retention != 90*Duration(Day) {
		t.Errorf("demo source = %+v", demo)
	}
	if want := filepath.Join(dir, "demo", "audit_logs.sql"); len(demo.DuckDB.Init) != 1 || demo.DuckDB.Init[0] != want {
		t.Errorf("demo init = %q, want [%q]", demo.DuckDB.Init, want)
	}
	if c := demo.Columns["AUDIT_LOGS"]["REQUEST_TIME"]; c == nil || c.Type != "TIMESTAMP" || c.Location != time.UTC {
		t.Errorf("demo columns = %+v", demo.Columns)
	}
	wh := cfg.Sources["warehouse"]
	if wh.Snowflake.Protocol != "https" || wh.Snowflake.Password.Reveal() != testEnv["SNOWFLAKE_PASSWORD"] || wh.Snowflake.Password.Ref() != "${SNOWFLAKE_PASSWORD}" {
		t.Errorf("warehouse source: protocol %q, password ref %q, resolved %v", wh.Snowflake.Protocol, wh.Snowflake.Password.Ref(), wh.Snowflake.Password.IsSet())
	}
	if p := cfg.Integrations["local"].Folder.Path; p != filepath.Join(dir, "archive") {
		t.Errorf("local integration path = %q", p)
	}
	s3 := cfg.Integrations["audit_archive"].S3
	if s3.PartSize != 16<<20 || s3.Concurrency != 4 || s3.AllowedLocations[0] != "s3://acme-audit/audit/" ||
		s3.ObjectLock.Mode != "COMPLIANCE" || s3.ObjectLock.Retain != 5*Duration(Year) || s3.ExternalID.Reveal() != testEnv["EXT_ID"] {
		t.Errorf("audit_archive = %+v", s3)
	}
	if cfg.Server.Listen != DefaultListen || cfg.Server.ShutdownTimeout != DefaultShutdownTimeout || cfg.Server.Token.Reveal() != testEnv["EXPORTD_TOKEN"] {
		t.Errorf("server = %+v", cfg.Server)
	}
	if cfg.Runs.MaxConcurrent != 4 || cfg.Runs.Lease != DefaultLease {
		t.Errorf("runs = %+v", cfg.Runs)
	}
	wantDefaults := Defaults{Timezone: "UTC", Location: time.UTC, CatchUp: CatchUpAll, Condition: ConditionAlways,
		OnSchemaChange: SchemaChangeFail, Retries: Retries{3, DefaultRetryInitial, DefaultRetryMax}, PauseAfterFailures: 10}
	if !reflect.DeepEqual(cfg.Defaults, wantDefaults) {
		t.Errorf("defaults = %+v, want %+v", cfg.Defaults, wantDefaults)
	}

	// Sorted by name; README.md and the hidden file are not schedules.
	var names []string
	for _, s := range cfg.Schedules {
		names = append(names, s.Name)
	}
	if got := strings.Join(names, " "); got != "audit-rows daily-logins login-snapshot" {
		t.Fatalf("schedules = %s", got)
	}

	daily := cfg.Schedule("daily-logins")
	la, _ := time.LoadLocation("America/Los_Angeles")
	if daily.File != filepath.Join(dir, "schedules", "daily-logins.yaml") || !daily.Enabled || daily.SourceConfig != demo ||
		daily.Location.String() != "America/Los_Angeles" || daily.CatchUp != CatchUpAll || daily.Condition != ConditionAlways {
		t.Errorf("daily-logins = %+v", daily)
	}
	if w := daily.Window; w == nil || w.Every != PeriodDay || w.Column != "Request Time" || w.Lag != Duration(2*time.Hour) ||
		!w.Start.Equal(time.Date(2026, 9, 1, 0, 0, 0, 0, la)) {
		t.Errorf("daily-logins window = %+v", daily.Window)
	}
	// attempts from the file, initial and max inherited.
	if want := (Retries{5, DefaultRetryInitial, DefaultRetryMax}); daily.Retries != want {
		t.Errorf("daily-logins retries = %+v, want %+v", daily.Retries, want)
	}
	if d := daily.Destination; d.IntegrationConfig != cfg.Integrations["local"] || d.Prefix != "sigma/audit" || d.Gzip ||
		d.FilenameTemplate == nil || d.Filename != "{window_start:2006-01-02_1504}_{schedule}" {
		t.Errorf("daily-logins destination = %+v", d)
	}
	if len(daily.Element.Columns) != 2 || daily.Element.Columns[1].Name != "Failure" || daily.Element.GroupBy[0].Truncate != "day" {
		t.Errorf("daily-logins element = %+v", daily.Element)
	}
	u := domain.Unit{Schedule: daily.Name, Window: domain.Window{
		Start: time.Date(2026, 9, 1, 0, 0, 0, 0, la), End: time.Date(2026, 9, 2, 0, 0, 0, 0, la)}}
	if key, err := daily.Layout().ObjectKey(u, 1); err != nil || key != "sigma/audit/daily-logins/dt=2026-09-01/2026-09-01_0000_daily-logins.csv" {
		t.Errorf("daily-logins object key = %q, %v", key, err)
	}

	rows := cfg.Schedule("audit-rows")
	if d := rows.Destination; d.URI != "s3://acme-audit/audit/rows/" || d.Bucket != "acme-audit" || d.Prefix != "audit/rows" ||
		!d.Gzip || d.Filename != domain.DefaultFilename {
		t.Errorf("audit-rows destination = %+v", d)
	}
	if rows.Location != time.UTC || rows.Recheck != 3*Duration(Day) || rows.OnSchemaChange != SchemaChangeWarn ||
		rows.Window.Start != (time.Time{}) || rows.Layout().Ext != ".csv.gz" || strings.Join(rows.DedupeBy, ",") != "Request Id" {
		t.Errorf("audit-rows = %+v", rows)
	}

	snap := cfg.Schedule("login-snapshot")
	if snap.Enabled || snap.Window != nil || snap.CatchUp != CatchUpLatest || snap.Condition != ConditionIfData ||
		snap.PauseAfterFailures != 0 || snap.Destination.Prefix != "" || !strings.HasSuffix(snap.File, ".yml") {
		t.Errorf("login-snapshot = %+v", snap)
	}
}

// baseSchedule is the valid schedule the mutation cases start from.
const baseSchedule = `name: logins
source: demo
cron: "0 6 * * *"
timezone: Europe/London
window: {every: day, column: Request Time, lag: 2h, start: 2026-09-01}
element:
  from: {table: AUDIT_LOGS}
  group_by:
    - {formula: "[Request Time]", truncate: day}
  columns:
    - {name: Success, formula: 'CountIf([Event Type] = "LOGIN", [Event Status] = "SUCCESS")'}
destination: {integration: local, prefix: audit}
`

// tree is a config tree being mutated: file name → content.
type tree struct {
	t     *testing.T
	files map[string]string
}

func newTree(t *testing.T) *tree {
	base, err := os.ReadFile("testdata/base/exportd.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return &tree{t: t, files: map[string]string{"exportd.yaml": string(base), "schedules/logins.yaml": baseSchedule}}
}

// edit replaces old by new in file; old must be there, so that a case
// cannot silently test the baseline.
func (tr *tree) edit(file, old, new string) {
	tr.t.Helper()
	if !strings.Contains(tr.files[file], old) {
		tr.t.Fatalf("%s does not contain %q", file, old)
	}
	tr.files[file] = strings.Replace(tr.files[file], old, new, 1)
}

func (tr *tree) cfg(old, new string)      { tr.t.Helper(); tr.edit("exportd.yaml", old, new) }
func (tr *tree) schedule(old, new string) { tr.t.Helper(); tr.edit("schedules/logins.yaml", old, new) }

func (tr *tree) write() string {
	dir := baseTree(tr.t)
	for name, content := range tr.files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tr.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			tr.t.Fatal(err)
		}
	}
	return dir
}

// TestMutations starts from a valid baseline and changes one thing per case:
// either the exact errors are expected, or a check of what loaded.
func TestMutations(t *testing.T) {
	const sched = `schedules/logins.yaml`
	cases := []struct {
		name   string
		mutate func(tr *tree)
		want   []string
		check  func(t *testing.T, cfg *Config)
	}{
		{name: "baseline", mutate: func(tr *tree) {}, check: func(t *testing.T, cfg *Config) {
			s := cfg.Schedule("logins")
			if s == nil || s.Location.String() != "Europe/London" || s.CatchUp != CatchUpAll {
				t.Errorf("logins = %+v", s)
			}
		}},
		{name: "negative lag", mutate: func(tr *tree) { tr.schedule("lag: 2h", "lag: -2h") },
			want: []string{sched + `:5:49: export "logins": window.lag: must not be negative`}},
		{name: "lag in days", mutate: func(tr *tree) { tr.schedule("lag: 2h", "lag: 1d12h") }, check: func(t *testing.T, cfg *Config) {
			if got := cfg.Schedule("logins").Window.Lag; got != Duration(36*time.Hour) {
				t.Errorf("lag = %v", got)
			}
		}},
		{name: "timezone inherited", mutate: func(tr *tree) {
			tr.schedule("timezone: Europe/London\n", "")
			tr.cfg("server:", "defaults: {timezone: Asia/Tokyo}\nserver:")
		}, check: func(t *testing.T, cfg *Config) {
			if s := cfg.Schedule("logins"); s.Timezone != "Asia/Tokyo" || s.Location.String() != "Asia/Tokyo" {
				t.Errorf("timezone = %q", s.Timezone)
			}
		}},
		{name: "unknown timezone", mutate: func(tr *tree) { tr.schedule("Europe/London", "Europe/Londn") },
			want: []string{sched + `:4:11: export "logins": timezone: unknown time zone "Europe/Londn"; use an IANA name such as UTC, Europe/London or America/Los_Angeles`}},
		{name: "Local timezone", mutate: func(tr *tree) { tr.schedule("Europe/London", "Local") },
			want: []string{sched + `:4:11: export "logins": timezone: "Local" is not an IANA time zone; use a name such as UTC or Europe/London`}},
		{name: "snapshot inherits latest", mutate: func(tr *tree) {
			tr.schedule("window: {every: day, column: Request Time, lag: 2h, start: 2026-09-01}\n", "")
		}, check: func(t *testing.T, cfg *Config) {
			if s := cfg.Schedule("logins"); s.Windowed() || s.CatchUp != CatchUpLatest || s.Destination.Filename != "{schedule}_{id}" {
				t.Errorf("logins = %+v", s)
			}
		}},
		{name: "snapshot with catch_up all", mutate: func(tr *tree) {
			tr.schedule("window: {every: day, column: Request Time, lag: 2h, start: 2026-09-01}", "catch_up: all")
		}, want: []string{sched + `:5:11: export "logins": catch_up: all needs a window: a snapshot cannot be taken for a past time; use latest or skip, or add a window`}},
		{name: "windowed catch_up skip", mutate: func(tr *tree) { tr.schedule("cron:", "catch_up: skip\ncron:") }, check: func(t *testing.T, cfg *Config) {
			if got := cfg.Schedule("logins").CatchUp; got != CatchUpSkip {
				t.Errorf("catch_up = %q", got)
			}
		}},
		{name: "unknown source", mutate: func(tr *tree) { tr.schedule("source: demo", "source: dem") },
			want: []string{sched + `:2:9: export "logins": source: unknown source "dem"; defined sources: demo, warehouse`}},
		{name: "source removed from config", mutate: func(tr *tree) { tr.cfg("  demo:\n", "  demo_old:\n") },
			want: []string{sched + `:2:9: export "logins": source: unknown source "demo"; defined sources: demo_old, warehouse`}},
		{name: "no sources at all", mutate: func(tr *tree) { tr.cfg("sources:", "sources: {}\nold_sources:") },
			want: []string{
				`exportd.yaml:4:1: unknown field "old_sources"; valid fields: state_dir, schedules_dir, instance_id, sources, integrations, server, runs, signing, notify, defaults`,
				sched + `:2:9: export "logins": source: no sources are defined in exportd.yaml; add one under sources`,
			}},
		{name: "unknown integration", mutate: func(tr *tree) { tr.schedule("integration: local", "integration: loca") },
			want: []string{sched + `:12:28: export "logins": destination.integration: unknown integration "loca"; defined integrations: audit_archive, local`}},
		{name: "cron out of range", mutate: func(tr *tree) { tr.schedule(`"0 6 * * *"`, `"61 6 * * *"`) },
			want: []string{sched + `:3:7: export "logins": cron: invalid cron expression: end of range (61) above maximum (59): 61`}},
		{name: "cron with seconds", mutate: func(tr *tree) { tr.schedule(`"0 6 * * *"`, `"0 0 6 * * *"`) },
			want: []string{sched + `:3:7: export "logins": cron: invalid cron expression: expected exactly 5 fields, found 6: [0 0 6 * * *]`}},
		{name: "cron @every", mutate: func(tr *tree) { tr.schedule(`"0 6 * * *"`, `"@every 1h"`) },
			want: []string{sched + `:3:7: export "logins": cron: invalid cron expression: @every is not supported (an interval has no wall-clock anchor); use fields such as "*/15 * * * *"`}},
		{name: "cron TZ prefix", mutate: func(tr *tree) { tr.schedule(`"0 6 * * *"`, `"TZ=UTC 0 6 * * *"`) },
			want: []string{sched + `:3:7: export "logins": cron: invalid cron expression: a CRON_TZ=/TZ= prefix is not allowed, set the schedule's timezone instead`}},
		{name: "cron descriptor", mutate: func(tr *tree) { tr.schedule(`"0 6 * * *"`, `"@hourly"`) }, check: func(t *testing.T, cfg *Config) {
			if got := cfg.Schedule("logins").Cron; got != "@hourly" {
				t.Errorf("cron = %q", got)
			}
		}},
		{name: "dedupe_by with group_by", mutate: func(tr *tree) { tr.schedule("element:", "dedupe_by: [Request Id]\nelement:") },
			check: func(t *testing.T, cfg *Config) {
				// De-duplicated, then aggregated (the compiler does both).
				if got := cfg.Schedule("logins").DedupeBy; len(got) != 1 || got[0] != "Request Id" {
					t.Errorf("dedupe_by = %q", got)
				}
			}},
		{name: "window every fortnight", mutate: func(tr *tree) { tr.schedule("every: day", "every: fortnight") },
			want: []string{sched + `:5:17: export "logins": window.every: unknown window period "fortnight"; use hour, day, week or month`}},
		{name: "window without column", mutate: func(tr *tree) { tr.schedule("column: Request Time, ", "") },
			want: []string{sched + `:5:1: export "logins": window.column: missing; name the timestamp column that places a row in a window, e.g. column: Request Time`}},
		{name: "window start not midnight", mutate: func(tr *tree) { tr.schedule("start: 2026-09-01", "start: 2026-09-01T06:00:00Z") },
			want: []string{sched + `:5:60: export "logins": window.start: 2026-09-01T07:00:00+01:00 is not the start of a day in Europe/London; use 2026-09-01`}},
		{name: "window start midnight UTC is not London midnight", mutate: func(tr *tree) { tr.schedule("start: 2026-09-01", "start: 2026-09-01T00:00:00Z") },
			want: []string{sched + `:5:60: export "logins": window.start: 2026-09-01T01:00:00+01:00 is not the start of a day in Europe/London; use 2026-09-01`}},
		{name: "window start London midnight as instant", mutate: func(tr *tree) { tr.schedule("start: 2026-09-01", "start: 2026-08-31T23:00:00Z") },
			check: func(t *testing.T, cfg *Config) {
				if got := cfg.Schedule("logins").Window.Start; !got.Equal(time.Date(2026, 8, 31, 23, 0, 0, 0, time.UTC)) {
					t.Errorf("start = %v", got)
				}
			}},
		{name: "window start not a date", mutate: func(tr *tree) { tr.schedule("start: 2026-09-01", "start: yesterday") },
			want: []string{sched + `:5:60: export "logins": window.start: "yesterday" is not a date (2026-09-01) or an RFC 3339 instant (2026-09-01T00:00:00Z)`}},
		{name: "monthly window mid-month", mutate: func(tr *tree) {
			tr.schedule("every: day", "every: month")
			tr.schedule("2026-09-01", "2026-09-15")
		}, want: []string{sched + `:5:62: export "logins": window.start: 2026-09-15 is not the start of a month in Europe/London; use 2026-09-01`}},
		{name: "hourly window at half past", mutate: func(tr *tree) {
			tr.schedule("every: day", "every: hour")
			tr.schedule("2026-09-01", "2026-09-01T10:30:00+01:00")
		}, want: []string{sched + `:5:61: export "logins": window.start: 2026-09-01T10:30:00+01:00 is not the start of an hour in Europe/London; use 2026-09-01T10:00:00+01:00`}},
		{name: "recheck on a snapshot", mutate: func(tr *tree) {
			tr.schedule("window: {every: day, column: Request Time, lag: 2h, start: 2026-09-01}", "recheck: 3d")
		}, want: []string{sched + `:5:10: export "logins": recheck: needs a window: recheck re-counts archived windows, and this schedule exports snapshots`}},
		{name: "filename without window start", mutate: func(tr *tree) { tr.schedule("prefix: audit", `prefix: audit, filename: "{window_end}"`) },
			want: []string{sched + `:12:60: export "logins": destination.filename: must contain {id} or {window_start} so that each window gets its own object`}},
		{name: "absolute prefix", mutate: func(tr *tree) { tr.schedule("prefix: audit", "prefix: /srv/audit") },
			want: []string{sched + `:12:43: export "logins": destination.prefix: invalid prefix "/srv/audit": absolute`}},
		{name: "gzip from defaults", mutate: func(tr *tree) { tr.cfg("server:", "defaults: {gzip: true}\nserver:") }, check: func(t *testing.T, cfg *Config) {
			if s := cfg.Schedule("logins"); !s.Destination.Gzip || s.Layout().Ext != ".csv.gz" {
				t.Errorf("destination = %+v", s.Destination)
			}
		}},
		{name: "gzip false overrides defaults", mutate: func(tr *tree) {
			tr.cfg("server:", "defaults: {gzip: true}\nserver:")
			tr.schedule("prefix: audit", "prefix: audit, gzip: false")
		}, check: func(t *testing.T, cfg *Config) {
			if s := cfg.Schedule("logins"); s.Destination.Gzip {
				t.Errorf("destination = %+v", s.Destination)
			}
		}},
		{name: "archive refresh default", mutate: func(tr *tree) {}, check: func(t *testing.T, cfg *Config) {
			if cfg.Runs.ArchiveRefreshEvery != DefaultArchiveRefreshEvery {
				t.Errorf("runs.archive_refresh_every = %s, want %s", cfg.Runs.ArchiveRefreshEvery, DefaultArchiveRefreshEvery)
			}
		}},
		{name: "archive refresh set", mutate: func(tr *tree) { tr.cfg("server:", "runs: {archive_refresh_every: 5m}\nserver:") }, check: func(t *testing.T, cfg *Config) {
			if cfg.Runs.ArchiveRefreshEvery != Duration(5*time.Minute) {
				t.Errorf("runs.archive_refresh_every = %s, want 5m", cfg.Runs.ArchiveRefreshEvery)
			}
		}},
		{name: "archive refresh too often", mutate: func(tr *tree) { tr.cfg("server:", "runs: {archive_refresh_every: 10ms}\nserver:") },
			want: []string{`exportd.yaml:34:31: runs.archive_refresh_every: must be at least 1s`}},
		{name: "retries attempts zero", mutate: func(tr *tree) { tr.schedule("element:", "retries: {attempts: 0}\nelement:") },
			want: []string{sched + `:6:21: export "logins": retries.attempts: must be at least 1 (1 means no retry)`}},
		{name: "retries max below inherited initial", mutate: func(tr *tree) { tr.schedule("element:", "retries: {max: 10s}\nelement:") },
			want: []string{sched + `:6:16: export "logins": retries.max: must be at least initial (30s)`}},
		{name: "name differs from file", mutate: func(tr *tree) { tr.schedule("name: logins", "name: logins-v2") },
			want: []string{sched + `:1:7: export "logins-v2": name: must match the file's base name "logins": set name: logins or rename the file to logins-v2.yaml`}},
		{name: "from table and sql", mutate: func(tr *tree) { tr.schedule("{table: AUDIT_LOGS}", "{table: AUDIT_LOGS, sql: SELECT 1}") },
			want: []string{sched + `:7:3: export "logins": element.from: set either table or sql, not both`}},
		{name: "misspelt window key", mutate: func(tr *tree) { tr.schedule("column: Request Time", "colunm: Request Time") },
			want: []string{sched + `:5:22: export "logins": window: unknown field "colunm"; did you mean "column"?`}},
		{name: "misspelt element key", mutate: func(tr *tree) { tr.schedule("group_by:", "groupby:") },
			want: []string{sched + `:8:3: export "logins": element: unknown field "groupby"; did you mean "group_by"?`}},
		{name: "non-loopback with token", mutate: func(tr *tree) { tr.cfg("listen: 127.0.0.1:8080", "listen: 0.0.0.0:8080") },
			check: func(t *testing.T, cfg *Config) {
				if !cfg.Server.Token.IsSet() {
					t.Error("token not resolved")
				}
			}},
		{name: "IPv6 loopback without token", mutate: func(tr *tree) {
			tr.cfg("listen: 127.0.0.1:8080", `listen: "[::1]:8080"`)
			tr.cfg("  token: ${EXPORTD_TOKEN}\n", "")
		}, check: func(t *testing.T, cfg *Config) {
			if !cfg.Server.Token.IsZero() {
				t.Error("token set")
			}
		}},
		{name: "host name without token", mutate: func(tr *tree) {
			tr.cfg("listen: 127.0.0.1:8080", "listen: exportd.internal:8080")
			tr.cfg("  token: ${EXPORTD_TOKEN}\n", "")
		}, want: []string{`exportd.yaml:35:11: server.listen: exportd.internal:8080 is not a loopback address, so the API needs a token: set server.token: ${EXPORTD_TOKEN} (or file:/path)`}},
		{name: "loopback token variable unset", mutate: func(tr *tree) { tr.cfg("${EXPORTD_TOKEN}", "${EXPORTD_TOKEN_UNSET}") },
			check: func(t *testing.T, cfg *Config) {
				if tok := cfg.Server.Token; tok.IsSet() || tok.Ref() != "${EXPORTD_TOKEN_UNSET}" {
					t.Errorf("token set %v, ref %q", tok.IsSet(), tok.Ref())
				}
			}},
		{name: "loopback token file missing", mutate: func(tr *tree) { tr.cfg("${EXPORTD_TOKEN}", "file:token.txt") },
			want: []string{`exportd.yaml:36:10: server.token: cannot read secret file token.txt: no such file or directory`}},
		{name: "password from file", mutate: func(tr *tree) {
			tr.cfg("password: ${SNOWFLAKE_PASSWORD}", "password: file:secrets/sf-password")
			tr.files["secrets/sf-password"] = "file-pw-Qe5rT8u2\n"
		}, check: func(t *testing.T, cfg *Config) {
			if got := cfg.Sources["warehouse"].Snowflake.Password.Reveal(); got != "file-pw-Qe5rT8u2" {
				t.Errorf("password = %q", got)
			}
		}},
		{name: "empty secret file", mutate: func(tr *tree) {
			tr.cfg("password: ${SNOWFLAKE_PASSWORD}", "password: file:secrets/sf-password")
			tr.files["secrets/sf-password"] = "\n"
		}, want: []string{`exportd.yaml:16:15: sources.warehouse.password: secret file secrets/sf-password is empty`}},
		{name: "empty environment variable", mutate: func(tr *tree) { tr.cfg("${SNOWFLAKE_PASSWORD}", "${EMPTY_VAR}") },
			want: []string{`exportd.yaml:16:15: sources.warehouse.password: environment variable EMPTY_VAR is set but empty`}},
		{name: "partial reference", mutate: func(tr *tree) { tr.cfg("${SNOWFLAKE_PASSWORD}", "pre-${SNOWFLAKE_PASSWORD}") },
			want: []string{`exportd.yaml:16:15: sources.warehouse.password: must be a reference like ${ENV_VAR} or file:/path/to/secret, not a literal value; move the value into an environment variable or a file`}},
		{name: "s3 destination inside allowed", mutate: func(tr *tree) {
			tr.schedule("{integration: local, prefix: audit}", "{integration: audit_archive, uri: s3://acme-audit/audit/logins}")
		}, check: func(t *testing.T, cfg *Config) {
			if d := cfg.Schedule("logins").Destination; d.URI != "s3://acme-audit/audit/logins/" || d.Prefix != "audit/logins" {
				t.Errorf("destination = %+v", d)
			}
		}},
		{name: "s3 destination at allowed root", mutate: func(tr *tree) {
			tr.schedule("{integration: local, prefix: audit}", "{integration: audit_archive, uri: s3://acme-audit/audit}")
			tr.cfg(`    blocked_locations: ["s3://acme-audit/audit/legal-hold/"]`+"\n", "")
		}, check: func(t *testing.T, cfg *Config) {
			if d := cfg.Schedule("logins").Destination; d.URI != "s3://acme-audit/audit/" {
				t.Errorf("destination = %+v", d)
			}
		}},
		{name: "s3 sibling with shared prefix", mutate: func(tr *tree) {
			tr.schedule("{integration: local, prefix: audit}", "{integration: audit_archive, uri: s3://acme-audit/audit-evil/}")
		}, want: []string{sched + `:12:48: export "logins": destination.uri: s3://acme-audit/audit-evil/ is outside the allowed_locations of integration "audit_archive" (s3://acme-audit/audit/); choose a URI under one of them`}},
		{name: "s3 any location", mutate: func(tr *tree) {
			tr.schedule("{integration: local, prefix: audit}", "{integration: audit_archive, uri: s3://elsewhere/x/}")
			tr.cfg(`allowed_locations: ["s3://acme-audit/audit/"]`, `allowed_locations: ["*"]`)
		}, check: func(t *testing.T, cfg *Config) {
			if d := cfg.Schedule("logins").Destination; d.Bucket != "elsewhere" {
				t.Errorf("destination = %+v", d)
			}
		}},
		{name: "schedules_dir is a file", mutate: func(tr *tree) { tr.cfg("state_dir: state", "state_dir: state\nschedules_dir: demo/audit_logs.sql") },
			want: []string{`exportd.yaml:3:16: schedules_dir: demo/audit_logs.sql is not a folder`}},
		{name: "errors in both files, config first", mutate: func(tr *tree) {
			tr.cfg("retention: 90d", "retention: 90")
			tr.schedule(`"0 6 * * *"`, `"0 6 * *"`)
		}, want: []string{
			`exportd.yaml:8:16: sources.demo.retention: invalid duration "90": missing unit; use a number with a unit, e.g. 90d, 5y, 2h, 30m`,
			sched + `:3:7: export "logins": cron: invalid cron expression: expected exactly 5 fields, found 4: [0 6 * *]`,
		}},
		{name: "sources unreadable, schedules quiet", mutate: func(tr *tree) { tr.cfg("sources:", "sources: [demo]\nold_sources:") },
			want: []string{
				`exportd.yaml:3:10: sources: must be a mapping, not a list`,
				`exportd.yaml:4:1: unknown field "old_sources"; valid fields: state_dir, schedules_dir, instance_id, sources, integrations, server, runs, signing, notify, defaults`,
			}},
		{name: "defaults timezone invalid, schedules quiet", mutate: func(tr *tree) {
			tr.cfg("server:", "defaults: {timezone: Mars/Base}\nserver:")
			tr.schedule("timezone: Europe/London\n", "")
		}, want: []string{`exportd.yaml:34:22: defaults.timezone: unknown time zone "Mars/Base"; use an IANA name such as UTC, Europe/London or America/Los_Angeles`}},
		{name: "defaults retries invalid, schedules quiet", mutate: func(tr *tree) {
			tr.cfg("server:", "defaults: {retries: {attempts: 0, max: 1s}}\nserver:")
		}, want: []string{
			`exportd.yaml:34:32: defaults.retries.attempts: must be at least 1 (1 means no retry)`,
			`exportd.yaml:34:40: defaults.retries.max: must be at least initial (30s)`,
		}},
		{name: "allowed location invalid, destinations quiet", mutate: func(tr *tree) {
			tr.schedule("{integration: local, prefix: audit}", "{integration: audit_archive, uri: s3://acme-audit/audit/x/}")
			tr.cfg(`allowed_locations: ["s3://acme-audit/audit/"]`, `allowed_locations: ["acme-audit/audit/"]`)
		}, want: []string{`exportd.yaml:31:25: integrations.audit_archive.allowed_locations[0]: "acme-audit/audit/" is not an s3:// URI; write s3://bucket/prefix/`}},
		{name: "disabled", mutate: func(tr *tree) { tr.schedule("source:", "enabled: false\nsource:") }, check: func(t *testing.T, cfg *Config) {
			if cfg.Schedule("logins").Enabled {
				t.Error("enabled")
			}
		}},
		{name: "pause_after_failures negative", mutate: func(tr *tree) { tr.schedule("source:", "pause_after_failures: -1\nsource:") },
			want: []string{sched + `:2:23: export "logins": pause_after_failures: must not be negative (0 never pauses)`}},
		{name: "enabled yes", mutate: func(tr *tree) { tr.schedule("source:", "enabled: yes\nsource:") },
			want: []string{sched + `:2:10: export "logins": enabled: must be true or false, not "yes"`}},
		{name: "memory limit", mutate: func(tr *tree) { tr.cfg("retention: 90d", "retention: 90d\n    memory_limit: 2GiB\n    threads: 2") },
			check: func(t *testing.T, cfg *Config) {
				if d := cfg.Sources["demo"].DuckDB; d.MemoryLimit != 2<<30 || d.Threads != 2 {
					t.Errorf("duckdb = %+v", d)
				}
			}},
		{name: "duckdb file resolved", mutate: func(tr *tree) { tr.cfg("    type: duckdb", "    type: duckdb\n    path: data/audit.duckdb") },
			check: func(t *testing.T, cfg *Config) {
				if p := cfg.Sources["demo"].DuckDB.Path; !filepath.IsAbs(p) || !strings.HasSuffix(p, filepath.Join("data", "audit.duckdb")) {
					t.Errorf("path = %q", p)
				}
			}},
	}
	// Each case runs on a cold load, and again with every schedule file
	// that decodes taken from a DecodedCache: the errors, their positions
	// and the loaded config are the same.
	for _, c := range cases {
		for _, cached := range []bool{false, true} {
			name := c.name
			if cached {
				name += " (cached)"
			}
			t.Run(name, func(t *testing.T) {
				tr := newTree(t)
				c.mutate(tr)
				dir := tr.write()
				opts := LoadOptions{LookupEnv: lookupIn(map[string]string{
					"SNOWFLAKE_PASSWORD": testEnv["SNOWFLAKE_PASSWORD"], "EXT_ID": testEnv["EXT_ID"],
					"EXPORTD_TOKEN": testEnv["EXPORTD_TOKEN"], "EMPTY_VAR": "",
				})}
				cache := decodeAll(t, dir)
				if cached {
					opts.DecodedCache = func(*Config) *DecodedCache { return cache }
				}
				cfg, errs := loadTree(t, dir, opts)
				if cached && cfg != nil && cfg.DecodedHits() != cache.Len() {
					t.Errorf("%d schedule files from the cache, want %d", cfg.DecodedHits(), cache.Len())
				}
				if c.want != nil {
					if got, want := strings.Join(errs, "\n"), strings.Join(c.want, "\n"); got != want {
						t.Errorf("errors:\ngot:\n%s\nwant:\n%s", got, want)
					}
					return
				}
				if errs != nil {
					t.Fatalf("Load failed:\n%s", strings.Join(errs, "\n"))
				}
				c.check(t, cfg)
			})
		}
	}
}

func TestLoadMissingConfig(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"), LoadOptions{})
	if !errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrInvalid) {
		t.Errorf("err = %v; want a not-exist error, not ErrInvalid", err)
	}
}

func TestSkipSecrets(t *testing.T) {
	dir := baseTree(t)
	overlay(t, "testdata/good", dir)
	cfg := mustLoad(t, dir, LoadOptions{SkipSecrets: true, LookupEnv: lookupIn(nil)})
	pw := cfg.Sources["warehouse"].Snowflake.Password
	if pw.IsSet() || pw.Reveal() != "" || pw.Ref() != "${SNOWFLAKE_PASSWORD}" {
		t.Errorf("password: set %v, ref %q", pw.IsSet(), pw.Ref())
	}
	// Without SkipSecrets the same environment fails, naming the variables.
	_, errs := loadTree(t, dir, LoadOptions{LookupEnv: lookupIn(nil)})
	want := []string{
		`exportd.yaml:16:15: sources.warehouse.password: environment variable SNOWFLAKE_PASSWORD is not set; export it before starting exportd`,
		`exportd.yaml:30:18: integrations.audit_archive.external_id: environment variable EXT_ID is not set; export it before starting exportd`,
	}
	if got := strings.Join(errs, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}

// TestCronResolved: Load parses a schedule's cron once, in the schedule's
// zone, and hands it out; a bad one is an error at cron:.
func TestCronResolved(t *testing.T) {
	tr := newTree(t)
	dir := tr.write()
	cfg, errs := loadTree(t, dir, LoadOptions{})
	if errs != nil {
		t.Fatal(errs)
	}
	c := cfg.Schedule("logins").Fires
	if c == nil || c.String() != "0 6 * * *" || c.Location().String() != "Europe/London" {
		t.Fatalf("Fires = %v", c)
	}
	// 06:00 in London in summer time is 05:00 UTC.
	if got, want := c.Next(time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)), time.Date(2026, 7, 1, 5, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("Next = %v, want %v", got, want)
	}
	tr.files["schedules/logins.yaml"] = strings.Replace(baseSchedule, `cron: "0 6 * * *"`, `cron: "0 6 30 2 *"`, 1)
	dir = tr.write()
	_, errs = loadTree(t, dir, LoadOptions{})
	want := `schedules/logins.yaml:3:7: export "logins": cron: invalid cron expression: no month has the day of month it names, so it never fires`
	if len(errs) != 1 || errs[0] != want {
		t.Errorf("errors = %q, want %q", errs, want)
	}
}

func TestCheckElement(t *testing.T) {
	tr := newTree(t)
	// A second schedule with its own problem is not handed to the checker.
	tr.files["schedules/broken.yaml"] = strings.ReplaceAll(baseSchedule, "name: logins", "name: broken") + "condition: sometimes\n"
	dir := tr.write()
	var called []string
	_, errs := loadTree(t, dir, LoadOptions{CheckElement: func(_ *Config, s *Schedule) []ElementError {
		called = append(called, s.Name)
		if s.SourceConfig == nil || s.Location == nil || s.Element.From.Table != "AUDIT_LOGS" {
			t.Errorf("schedule not resolved: %+v", s)
		}
		return []ElementError{
			{Field: "columns[0].formula", Msg: "column 31: unknown column [Event Stauts]; did you mean [Event Status]?"},
			{Field: "group_by[0].truncate", Msg: `unknown unit "dya"`},
			{Field: "order_by[2].column", Msg: "falls back to element"},
			{Field: "", Msg: "the element as a whole"},
		}
	}})
	if strings.Join(called, ",") != "logins" {
		t.Errorf("CheckElement called for %q, want only logins", called)
	}
	want := []string{
		`schedules/broken.yaml:13:12: export "broken": condition: unknown condition "sometimes"; use always, if_data or if_no_data`,
		`schedules/logins.yaml:6:1: export "logins": element: the element as a whole`,
		`schedules/logins.yaml:6:1: export "logins": element.order_by[2].column: falls back to element`,
		`schedules/logins.yaml:9:45: export "logins": element.group_by[0].truncate: unknown unit "dya"`,
		`schedules/logins.yaml:11:32: export "logins": element.columns[0].formula: column 31: unknown column [Event Stauts]; did you mean [Event Status]?`,
	}
	if got := strings.Join(errs, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}

func TestCheckElementSkipsBadSource(t *testing.T) {
	tr := newTree(t)
	tr.cfg("    type: duckdb", "    type: duckdb\n    threads: -1")
	dir := tr.write()
	called := false
	_, errs := loadTree(t, dir, LoadOptions{CheckElement: func(_ *Config, s *Schedule) []ElementError {
		called = true
		return nil
	}})
	if called || len(errs) != 1 {
		t.Errorf("CheckElement called: %v; errors %q", called, errs)
	}
}

func TestPos(t *testing.T) {
	tr := newTree(t)
	dir := tr.write()
	cfg := mustLoad(t, dir, LoadOptions{})
	s := cfg.Schedule("logins")
	for _, c := range []struct {
		path      string
		line, col int
	}{
		{"", 1, 1},
		{"name", 1, 7},
		{"window", 5, 1},              // a mapping: its key
		{"window.lag", 5, 49},         // a scalar: its value
		{"window.nothing", 5, 1},      // missing: nearest ancestor
		{"element.columns", 10, 3},    // a list: its key
		{"element.columns[0]", 11, 7}, // a list item: the item
		{"element.columns[0].formula", 11, 32},
		{"element.columns[5].formula", 10, 3},
		{"element.group_by[0].truncate", 9, 45},
		{"destination.integration", 12, 28},
		{"missing.deeply[3].x", 1, 1},
	} {
		if line, col := s.Pos(c.path); line != c.line || col != c.col {
			t.Errorf("Pos(%q) = %d:%d, want %d:%d", c.path, line, col, c.line, c.col)
		}
	}
	if line, col := cfg.Pos("sources.warehouse.password"); line != 16 || col != 15 {
		t.Errorf("Config.Pos(sources.warehouse.password) = %d:%d, want 16:15", line, col)
	}
}

// TestShippedExamples loads the repository's config/exportd.yaml and
// schedules/ as shipped, in a copy of their layout.
func TestShippedExamples(t *testing.T) {
	dir := t.TempDir()
	copyFile(t, "../../config/exportd.yaml", filepath.Join(dir, "config", "exportd.yaml"))
	files, err := filepath.Glob("../../schedules/*.yaml")
	if err != nil || len(files) < 2 {
		t.Fatalf("shipped schedules: %v, %v", files, err)
	}
	for _, f := range files {
		copyFile(t, f, filepath.Join(dir, "schedules", filepath.Base(f)))
	}
	// Config checks only that init files exist; the demo SQL is not its
	// business.
	if err := os.MkdirAll(filepath.Join(dir, "config", "demo"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config", "demo", "audit_logs.sql"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// No EXPORTD_TOKEN: optional on loopback.
	cfg, err := Load(filepath.Join(dir, "config", "exportd.yaml"), LoadOptions{LookupEnv: lookupIn(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.StateDir != filepath.Join(dir, "state") || cfg.Integrations["local"].Folder.Path != filepath.Join(dir, "archive") {
		t.Errorf("paths: state %q, archive %q", cfg.StateDir, cfg.Integrations["local"].Folder.Path)
	}
	daily := cfg.Schedule("daily-login-activity")
	if daily == nil || daily.Windowed() || daily.CatchUp != CatchUpLatest || len(daily.Element.Columns) != 2 {
		t.Errorf("daily-login-activity = %+v", daily)
	}
	rows := cfg.Schedule("audit-log-rows")
	if rows == nil || !rows.Windowed() || rows.CatchUp != CatchUpAll || rows.Window.Lag != Duration(2*time.Hour) || !rows.Destination.Gzip {
		t.Errorf("audit-log-rows = %+v", rows)
	}
	if cfg.Sources["demo"].DuckDB.Vars["demo_seed"] != "42" || cfg.Sources["demo"].Retention != 90*Duration(Day) {
		t.Errorf("demo = %+v", cfg.Sources["demo"])
	}
}
