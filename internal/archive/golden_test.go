package archive_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/archive/folderstore"
	"github.com/exportd/exportd/internal/domain"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s changed: a persisted format must not change without a FormatVersion bump.\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func la(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func tpl(t *testing.T, src string, windowed bool) *domain.FilenameTemplate {
	t.Helper()
	f, err := domain.ParseFilename(src, windowed)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestGoldenProtocolRecords runs the commit protocol on a folder store with
// a fixed clock and compares every record it persists: claims (running and
// done), the head, and a manifest of each kind.
func TestGoldenProtocolRecords(t *testing.T) {
	ctx := t.Context()
	s, err := folderstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2027, 3, 15, 8, 5, 0, 0, time.UTC)
	a := &archive.Archive{Store: s, Instance: "host-a:4242", Lease: 10 * time.Minute, Now: func() time.Time { return now }}
	l := domain.Layout{Prefix: "audit/prod", Schedule: "daily-login-activity", Location: la(t),
		Filename: tpl(t, "", true), Ext: ".csv"}
	day := func(n int) domain.Unit {
		start := time.Date(2027, 3, 14, 0, 0, 0, 0, l.Location).AddDate(0, 0, n)
		end := start.AddDate(0, 0, 1)
		return domain.Unit{Schedule: l.Schedule, Logical: end.Add(time.Hour).UTC(), Window: domain.Window{Start: start.UTC(), End: end.UTC()}}
	}
	read := func(key string) []byte {
		t.Helper()
		data, _, err := s.Read(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		return append(data, '\n')
	}
	retain := archive.PutOptions{ContentType: "application/json", RetainUntil: time.Date(2032, 3, 16, 7, 0, 0, 0, time.UTC)}
	commit := func(name string, u domain.Unit, rev int, m *archive.Manifest, put bool) (key, sum string) {
		t.Helper()
		c, err := a.Claim(ctx, l, u, rev)
		if err != nil {
			t.Fatal(err)
		}
		w := u.Window
		m.Schedule, m.UnitID, m.LogicalTime, m.Window, m.Timezone, m.Revision = l.Schedule, u.ID(), u.Logical, &w, l.Location.String(), rev
		m.Run = archive.RunInfo{StartedAt: now, FinishedAt: now.Add(3 * time.Second), Attempt: 1, Instance: a.Instance, ExportdVersion: "v0.1.0"}
		m.Source = archive.Source{Name: "demo", Dialect: "duckdb"}
		if err := c.Record(ctx, m); err != nil {
			t.Fatal(err)
		}
		if put {
			golden(t, "claim_running.golden.json", read(c.Key()))
		}
		key, sum, err = a.Commit(ctx, c, m, retain)
		if err != nil {
			t.Fatal(err)
		}
		rc, _, err := s.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		_, _ = b.ReadFrom(rc)
		rc.Close()
		golden(t, "manifest_"+name+".golden.json", b.Bytes())
		// Once the manifest is committed the claim is removed: it only
		// coordinated the run.
		if data, _, err := s.Read(t.Context(), c.Key()); !errors.Is(err, archive.ErrNotFound) {
			t.Errorf("claim %s after commit: %s (err %v), want it removed", c.Key(), data, err)
		}
		return key, sum
	}

	u0 := day(0)
	okey, _ := l.ObjectKey(u0, 1)
	exported := &archive.Manifest{
		Kind:    domain.KindExported,
		Query:   &archive.Query{SQL: "SELECT DATE_TRUNC('day', REQUEST_TIME) AS \"Day of Request Time\" FROM AUDIT_LOGS WHERE REQUEST_TIME >= $1 AND REQUEST_TIME < $2 GROUP BY 1", Params: []archive.Param{{Name: "window_start", Type: "TIMESTAMP", Value: "2027-03-14T08:00:00Z"}, {Name: "window_end", Type: "TIMESTAMP", Value: "2027-03-15T07:00:00Z"}}},
		Columns: []archive.Column{{Name: "Day of Request Time", Type: "DATE"}, {Name: "Success", Type: "BIGINT"}, {Name: "Failure", Type: "BIGINT"}},
		Objects: []archive.Object{{Key: okey, Bytes: 58, Rows: 1, SHA256: strings.Repeat("ab", 32), ContentType: "text/csv; charset=utf-8; header=present",
			StoreChecksums: map[string]string{"CRC64NVME": "AAAAAAAAAAA="}}},
	}
	k0, s0 := commit("exported", u0, 1, exported, true)
	commit("skipped", day(1), 1, &archive.Manifest{Kind: domain.KindSkipped, Reason: "condition if_data: the element has 0 rows", Objects: []archive.Object{}}, false)
	commit("lost", day(2), 1, &archive.Manifest{Kind: domain.KindLost, Reason: "the source no longer holds this window (retention 90 days)", Objects: []archive.Object{}}, false)
	okey2, _ := l.ObjectKey(u0, 2)
	superseded := &archive.Manifest{Kind: domain.KindSuperseded, Supersedes: &archive.Link{Key: k0, SHA256: s0},
		Reason:  "re-export after the source backfilled late events",
		Objects: []archive.Object{{Key: okey2, Bytes: 60, Rows: 1, SHA256: strings.Repeat("cd", 32), ContentType: "text/csv; charset=utf-8; header=present"}}}
	commit("superseded", u0, 2, superseded, false)
	golden(t, "head.golden.json", read(l.HeadKey()))

	// What is golden also parses back.
	for _, kind := range []string{"exported", "skipped", "lost", "superseded"} {
		data, err := os.ReadFile(filepath.Join("testdata", "manifest_"+kind+".golden.json"))
		if err != nil {
			t.Fatal(err)
		}
		m, err := archive.ParseManifest(data)
		if err != nil || m.Kind != kind {
			t.Errorf("manifest_%s.golden.json parses to kind %q, err %v", kind, m.Kind, err)
		}
		again, _ := m.Marshal()
		if !bytes.Equal(again, data) {
			t.Errorf("manifest_%s.golden.json does not round-trip byte for byte", kind)
		}
	}
}

// TestGoldenKeys lists every key of windowed, snapshot, adhoc and revision-2
// units around both daylight saving time changes of 2027 in Los Angeles.
func TestGoldenKeys(t *testing.T) {
	loc := la(t)
	var b strings.Builder
	layouts := []struct {
		name     string
		windowed bool
		l        domain.Layout
	}{
		{"daily, default filename", true, domain.Layout{Prefix: "audit/prod", Schedule: "daily-logins", Location: loc, Filename: tpl(t, "", true), Ext: ".csv"}},
		{"hourly, window start in local time", true, domain.Layout{Prefix: "audit", Schedule: "hourly", Location: loc, Filename: tpl(t, "{window_start:2006-01-02_1504}_{schedule}", true), Ext: ".csv.gz"}},
		{"snapshot, Sigma's date-and-time prefix", false, domain.Layout{Schedule: "snap", Location: loc, Filename: tpl(t, "{logical:2006-01-02_150405}_{schedule}", false), Ext: ".csv"}},
	}
	local := func(y int, m time.Month, d, h, min int) time.Time { return time.Date(y, m, d, h, min, 0, 0, loc) }
	var daily, hourly []domain.Window
	for _, d := range []time.Time{local(2027, 3, 13, 0, 0), local(2027, 11, 6, 0, 0)} {
		for i := range 3 {
			daily = append(daily, domain.Window{Start: d.AddDate(0, 0, i).UTC(), End: d.AddDate(0, 0, i+1).UTC()})
		}
	}
	for _, d := range []time.Time{local(2027, 3, 14, 0, 0), local(2027, 11, 7, 0, 0)} {
		for i := range 4 {
			s := d.UTC().Add(time.Duration(i) * time.Hour)
			hourly = append(hourly, domain.Window{Start: s, End: s.Add(time.Hour)})
		}
	}
	snapshots := []time.Time{
		local(2027, 3, 14, 1, 30), local(2027, 3, 14, 3, 30),
		time.Date(2027, 11, 7, 8, 30, 0, 0, time.UTC), // 01:30 PDT
		time.Date(2027, 11, 7, 9, 30, 0, 0, time.UTC), // 01:30 PST
		local(2027, 11, 7, 2, 30),
	}
	line := func(l domain.Layout, u domain.Unit, rev int) {
		ok, err := l.ObjectKey(u, rev)
		if err != nil {
			t.Fatal(err)
		}
		mk, err := l.ManifestKey(u, rev)
		if err != nil {
			t.Fatal(err)
		}
		claim := l.ClaimKey(u)
		if rev > 1 {
			claim += fmt.Sprintf(".r%d", rev)
		}
		fmt.Fprintf(&b, "  unit %s rev %d adhoc=%v\n    object   %s\n    manifest %s\n    claim    %s\n", u.ID(), rev, u.Adhoc, ok, mk, claim)
	}
	seen := map[string]string{}
	for _, c := range layouts {
		fmt.Fprintf(&b, "%s (filename %q, zone %s)\n  head %s\n  dir  %s\n", c.name, c.l.Filename, loc, c.l.HeadKey(), c.l.ScheduleDir())
		var units []domain.Unit
		ws := daily
		if c.l.Schedule == "hourly" {
			ws = hourly
		}
		if c.windowed {
			for _, w := range ws {
				units = append(units, domain.Unit{Schedule: c.l.Schedule, Logical: w.End.Add(15 * time.Minute), Window: w})
			}
		}
		for _, s := range snapshots {
			units = append(units, domain.Unit{Schedule: c.l.Schedule, Logical: s, Adhoc: c.windowed})
		}
		for _, u := range units {
			line(c.l, u, 1)
			ok, _ := c.l.ObjectKey(u, 1)
			if prev, dup := seen[ok]; dup {
				t.Errorf("units %s and %s share the object key %s", prev, u.ID(), ok)
			}
			seen[ok] = u.ID()
		}
		line(c.l, units[1], 2)
	}
	golden(t, "keys.golden.txt", []byte(b.String()))
}

// TestGoldenFilenames records how templates parse and expand, including
// the repeated hour at the end of daylight saving time.
func TestGoldenFilenames(t *testing.T) {
	loc := la(t)
	templates := []string{
		"", "{schedule}_{id}", "{logical:2006-01-02_150405}_{schedule}", "{window_start:2006-01-02_1504}_{schedule}",
		"{window_start}-{window_end}", "{logical}", "{logical:2006-01-02T15:04:05-0700}_{schedule}",
		"{window_start:2006-01-02_03-04PM}", "{logical:Jan_2_2006_3.04.05pm}_x", "export_{id}.part",
		// bad
		"{window_start:2006-01-02}_{schedule}", "{window_start:2006-01-02_03-04}", "{logical:2006-01-02_1504}",
		"{schedule}", "{logical:2006/01/02_150405}", "{id", "id}", "{nope}_{id}", "{schedule:2006}_{id}",
		"_{id}", "{id}\x01", `{id}\x`, "{window_end}",
	}
	pdt := time.Date(2027, 11, 7, 8, 30, 0, 0, time.UTC)
	units := map[bool][]domain.Unit{
		true: {
			{Schedule: "s", Logical: pdt.Add(time.Hour), Window: domain.Window{Start: pdt, End: pdt.Add(time.Hour)}},
			{Schedule: "s", Logical: pdt.Add(2 * time.Hour), Window: domain.Window{Start: pdt.Add(time.Hour), End: pdt.Add(2 * time.Hour)}},
			{Schedule: "s", Logical: pdt.Add(4 * time.Hour), Window: domain.Window{Start: pdt.Add(3 * time.Hour), End: pdt.Add(4 * time.Hour)}},
		},
		false: {{Schedule: "s", Logical: pdt}, {Schedule: "s", Logical: pdt.Add(time.Hour)}, {Schedule: "s", Logical: pdt.Add(3 * time.Hour)}},
	}
	var b strings.Builder
	for _, src := range templates {
		for _, windowed := range []bool{true, false} {
			fmt.Fprintf(&b, "%q windowed=%v\n", src, windowed)
			f, err := domain.ParseFilename(src, windowed)
			if err != nil {
				fmt.Fprintf(&b, "  error: %v\n", err)
				continue
			}
			names := map[string]bool{}
			for _, u := range units[windowed] {
				name, err := f.Execute(u, loc)
				if err != nil {
					t.Fatalf("%q: Execute: %v", src, err)
				}
				if names[name] {
					t.Errorf("%q windowed=%v: two units expand to %q", src, windowed, name)
				}
				names[name] = true
				fmt.Fprintf(&b, "  %s -> %s\n", u.ID(), name)
			}
		}
	}
	golden(t, "filenames.golden.txt", []byte(b.String()))
}

func TestValidateKey(t *testing.T) {
	good := []string{
		"a", "a/b/c.csv", "audit/daily/dt=2027-03-14/2027-03-14_000000_daily.csv", "a/..b", "a/b..", "a/.hidden",
		"_claims/s/20270314T080000Z-20270315T070000Z.r2", "ünïcödé/名前.csv", "a b/c+d=e:f@g", strings.Repeat("k", 1024),
	}
	for _, k := range good {
		if err := domain.ValidateKey(k); err != nil {
			t.Errorf("ValidateKey(%q) = %v, want nil", k, err)
		}
	}
	bad := map[string]string{
		"":                         "empty",
		"/a":                       "absolute",
		"a//b":                     "empty segment",
		"a/":                       "empty segment",
		"..":                       "dot segment",
		"a/../b":                   "dot segment",
		"./a":                      "dot segment",
		`a\b`:                      "backslash",
		"a\x00b":                   "control",
		"a\u0085b":                 "control", // NEL, a C1 control
		"a\xffb":                   "invalid",
		"a\u200bb\x7f":             "control",
		strings.Repeat("k", 1025):  "longer than 1024",
		"a/\ufffd":                 "invalid", // the replacement character itself
		"dest/\r\ncrlf-injection":  "control",
		"dest/x\x1b[31mred\x1b[0m": "control",
	}
	for k, why := range bad {
		err := domain.ValidateKey(k)
		if !errors.Is(err, domain.ErrBadKey) || !strings.Contains(err.Error(), why) {
			t.Errorf("ValidateKey(%q) = %v, want ErrBadKey mentioning %q", k, err, why)
		}
	}
}

func TestValidatePrefix(t *testing.T) {
	for in, want := range map[string]string{"": "", "/": "", "audit": "audit", "audit/prod/": "audit/prod", "a/_b": "a/_b"} {
		got, err := domain.ValidatePrefix(in)
		if err != nil || got != want {
			t.Errorf("ValidatePrefix(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"_claims", "_x/y", "/abs", "a//b", "../a", `a\b`} {
		if _, err := domain.ValidatePrefix(in); !errors.Is(err, domain.ErrBadKey) {
			t.Errorf("ValidatePrefix(%q) = %v, want ErrBadKey", in, err)
		}
	}
}

func TestParseFilenameEdges(t *testing.T) {
	cases := []struct {
		src      string
		windowed bool
		err      string // "" for valid
	}{
		{"{id}", true, ""},
		{"{id}", false, ""},
		{"{window_start}", true, ""},
		{"{window_start}", false, "needs a window"},
		{"{window_end}", true, "must contain {id} or {window_start}"},
		{"{logical}", true, "must contain {id} or {window_start}"},
		{"{logical}", false, ""},
		{"{logical:2006-01-02}", false, "with seconds"},
		{"{logical:2006-01-02_1504}", false, "with seconds"},
		{"{logical:15:04:05}", false, ""}, // the dt= folder carries the date
		{"{window_start:1504}", true, ""},
		{"{window_start:0304}", true, "must contain"}, // 12-hour clock without AM/PM
		{"{window_start:0304PM}", true, ""},           // with it
		{"{logical:03:04:05}", false, "with seconds"}, // 12-hour clock without AM/PM
		{"{logical:03:04:05pm}", false, ""},
		{"{schedule:x}_{id}", true, "takes no layout"},
		{"{id:x}", true, "takes no layout"},
		{"{ID}", true, "unknown placeholder"},
		{"{}", true, "unknown placeholder"},
		{"{{id}}", true, "unknown placeholder"},
		{"{id}}", true, "unmatched '}'"},
		{"{id", true, "unclosed '{'"},
		{"a/{id}", true, "contain '/'"},
		{"{logical:2006/01/02 15:04:05}", false, "contain '/'"},
		{"_{id}", true, "start with '_'"},
		{".", true, "must contain"},
		{"{id}\t", true, "control characters"},
	}
	for _, c := range cases {
		_, err := domain.ParseFilename(c.src, c.windowed)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("ParseFilename(%q, windowed=%v) = %v, want ok", c.src, c.windowed, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("ParseFilename(%q, windowed=%v) = %v, want an error containing %q", c.src, c.windowed, err, c.err)
		}
	}
}

// TestRepeatedHourGetsOffset: the two 01:30s of 2027-11-07 in Los Angeles
// and London's two 01:30s of 2027-10-31 get different names; the hour before
// and after do not change.
func TestRepeatedHourGetsOffset(t *testing.T) {
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	f := tpl(t, "{logical:2006-01-02_150405}_{schedule}", false)
	cases := []struct {
		loc  *time.Location
		at   time.Time
		want string
	}{
		{la(t), time.Date(2027, 11, 7, 7, 30, 0, 0, time.UTC), "2027-11-07_003000_s"},
		{la(t), time.Date(2027, 11, 7, 8, 30, 0, 0, time.UTC), "2027-11-07_013000-0700_s"},
		{la(t), time.Date(2027, 11, 7, 9, 30, 0, 0, time.UTC), "2027-11-07_013000-0800_s"},
		{la(t), time.Date(2027, 11, 7, 10, 30, 0, 0, time.UTC), "2027-11-07_023000_s"},
		{la(t), time.Date(2027, 3, 14, 10, 30, 0, 0, time.UTC), "2027-03-14_033000_s"},
		{london, time.Date(2027, 10, 31, 0, 30, 0, 0, time.UTC), "2027-10-31_013000+0100_s"},
		{london, time.Date(2027, 10, 31, 1, 30, 0, 0, time.UTC), "2027-10-31_013000+0000_s"},
		{time.UTC, time.Date(2027, 11, 7, 9, 30, 0, 0, time.UTC), "2027-11-07_093000_s"},
	}
	for _, c := range cases {
		got, err := f.Execute(domain.Unit{Schedule: "s", Logical: c.at}, c.loc)
		if err != nil || got != c.want {
			t.Errorf("%s in %s: %q %v, want %q", c.at.Format(time.RFC3339), c.loc, got, err, c.want)
		}
	}
	// A layout that prints the zone needs no suffix.
	fz := tpl(t, "{logical:2006-01-02_150405MST}", false)
	got, _ := fz.Execute(domain.Unit{Schedule: "s", Logical: time.Date(2027, 11, 7, 9, 30, 0, 0, time.UTC)}, la(t))
	if got != "2027-11-07_013000PST" {
		t.Errorf("layout with zone: %q", got)
	}
}

func TestWindowID(t *testing.T) {
	w := domain.Window{Start: time.Date(2027, 3, 14, 8, 0, 0, 0, time.UTC), End: time.Date(2027, 3, 15, 7, 0, 0, 0, time.UTC)}
	if w.ID() != "20270314T080000Z-20270315T070000Z" {
		t.Fatalf("ID = %s", w.ID())
	}
	back, err := domain.ParseWindowID(w.ID())
	if err != nil || !back.Start.Equal(w.Start) || !back.End.Equal(w.End) {
		t.Fatalf("ParseWindowID round trip: %v %v", back, err)
	}
	for _, bad := range []string{"", "20270314T080000Z", "20270315T070000Z-20270314T080000Z", "20270314T080000Z-20270314T080000Z",
		"2027-03-14T08:00:00Z-2027-03-15T07:00:00Z", "20270314T080000-20270315T070000Z"} {
		if _, err := domain.ParseWindowID(bad); err == nil {
			t.Errorf("ParseWindowID(%q) succeeded", bad)
		}
	}
	// A snapshot's id is its logical time, whatever the zone it is given in.
	u := domain.Unit{Logical: time.Date(2027, 11, 7, 1, 30, 0, 0, la(t))}
	if u.ID() != "20271107T083000Z" {
		t.Errorf("snapshot id = %s", u.ID())
	}
}

func TestParseManifestStrict(t *testing.T) {
	m := &archive.Manifest{FormatVersion: archive.FormatVersion, Kind: domain.KindSkipped, Schedule: "s", Objects: []archive.Object{}}
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := archive.ParseManifest(data); err != nil {
		t.Fatal(err)
	}
	unknown := bytes.Replace(data, []byte(`"kind"`), []byte(`"surprise": 1, "kind"`), 1)
	if _, err := archive.ParseManifest(unknown); err == nil || !strings.Contains(err.Error(), "surprise") {
		t.Errorf("unknown field: %v", err)
	}
	v2 := bytes.Replace(data, []byte(`"format_version": 1`), []byte(`"format_version": 2`), 1)
	if _, err := archive.ParseManifest(v2); err == nil || !strings.Contains(err.Error(), "format_version 2") {
		t.Errorf("future version: %v", err)
	}
	if !bytes.HasSuffix(data, []byte("}\n")) || bytes.Contains(data, []byte(`\u003c`)) {
		t.Errorf("Marshal is not canonical: %q", data)
	}
}
