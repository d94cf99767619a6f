package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/exportd/exportd/internal/app"
	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/archive/folderstore"
	"github.com/exportd/exportd/internal/domain"
	"github.com/exportd/exportd/internal/server"
	"github.com/exportd/exportd/internal/testenv"
)

// TestStateComesFromTheArchive archives the demo with `serve --once` in
// another process, then starts a daemon with a state_dir of its own on the
// same archive: its API, status page, metric and run list show what the
// archive holds (last run, freshness, windows), which it can only have read
// from the archive. Then a second daemon commits a window, and the first
// shows it after its next refresh.
func TestStateComesFromTheArchive(t *testing.T) {
	stateFromArchive(t, demoDir(t), "audit-log-rows")
}

// TestStateComesFromTheArchiveOnS3 is the same on a real S3 server.
func TestStateComesFromTheArchiveOnS3(t *testing.T) {
	srv := testenv.VersityGW(t)
	stateFromArchive(t, s3Config(t, srv, srv.Bucket(t, false), 30, false), "hourly-rows")
}

// stateFromArchive is the test of the schedule name of the config at cfg.
func stateFromArchive(t *testing.T, cfg, name string) {
	if out, code := runCLI(t, cfg, "--now", demoEnd, "serve", "--once"); code != 0 {
		t.Fatalf("serve --once: exit %d: %s", code, out)
	}
	// And a local `exportd run` of a snapshot, the newest commit.
	if out, code := runCLI(t, cfg, "--now", demoEnd, "run", name, "--adhoc"); code != 0 {
		t.Fatalf("run --adhoc: exit %d: %s", code, out)
	}
	// Fresh state_dirs for the daemons: no history of what serve --once did.
	edit(t, cfg, "state_dir: ../state", "state_dir: ../state-a")
	edit(t, cfg, "status_page: signed_in", "status_page: anyone")
	// Read the heads again every second (the default is a minute).
	edit(t, cfg, "  lease: 10m", "  lease: 10m\n  archive_refresh_every: 1s")
	data, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfgB := filepath.Join(filepath.Dir(cfg), "exportd-b.yaml")
	if err := os.WriteFile(cfgB, []byte(strings.Replace(string(data), "state_dir: ../state-a", "state_dir: ../state-b", 1)), 0o644); err != nil {
		t.Fatal(err)
	}

	// What the archive says, read here with the archive package alone.
	now, _ := time.Parse(time.RFC3339, demoEnd)
	a, err := app.Load(context.Background(), app.Options{ConfigPath: cfg, Logger: zap.NewNop(), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	sc := a.Config().Schedule(name)
	store, _, err := a.Store(context.Background(), sc.Destination.Integration, sc.Destination.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	layout := sc.Layout()
	chainOf := func() []archive.ChainEntry {
		t.Helper()
		var rep archive.Report
		chain, err := archive.Chain(context.Background(), store, layout, &rep)
		if err != nil || !rep.OK() || len(chain) == 0 {
			t.Fatalf("chain of %s: %d entries, %v %v", name, len(chain), rep.Problems, err)
		}
		return chain
	}
	// The catch-up commits windows a few at a time, so the newest window
	// is not always the newest commit: freshness is the latest end of an
	// archived window, the last run the commit that finished last.
	chain := chainOf()
	var wantFresh time.Time
	head := chain[len(chain)-1]
	for _, e := range chain {
		if w := e.Manifest.Window; w != nil && !e.Manifest.Adhoc && e.Manifest.Kind != domain.KindLost && w.End.After(wantFresh) {
			wantFresh = w.End.UTC()
		}
		if e.Manifest.Run.FinishedAt.After(head.Manifest.Run.FinishedAt) {
			head = e
		}
	}

	d := serving(t, a, app.DaemonOptions{WatchInterval: -1})
	base := "http://" + d.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("daemon: %v", err)
		}
	}()
	get := func(path string) string {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
		}
		return string(body)
	}
	status := func() server.ScheduleStatus {
		t.Helper()
		var s server.ScheduleStatus
		if err := json.Unmarshal([]byte(get("/api/v1/schedules/"+name)), &s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	waitFor(t, "the schedule's state read from the archive", func() bool { return !status().ArchiveRead.IsZero() })

	// The API: last run and freshness as the archive has them.
	s := status()
	if !s.Freshness.Equal(wantFresh) {
		t.Errorf("freshness %s, want %s (the end of the newest archived window)", s.Freshness, wantFresh)
	}
	if s.LastRun == nil || s.LastRun.ManifestKey != head.Key || s.LastRun.Unit != head.Manifest.UnitID ||
		s.LastRun.Outcome != head.Manifest.Kind || s.LastRun.Instance != head.Manifest.Run.Instance {
		t.Errorf("last run %+v, want the commit %s by %s", s.LastRun, head.Key, head.Manifest.Run.Instance)
	}
	lost := 0
	for _, e := range chain[max(0, len(chain)-25):] {
		if e.Manifest.Kind == domain.KindLost {
			lost++
		}
	}
	if s.LostWindows != int64(lost) {
		t.Errorf("lost windows %d, want %d", s.LostWindows, lost)
	}

	// The status page shows them.
	page := get("/")
	row := regexp.MustCompile(`(?s)<tr data-schedule="` + name + `">.*?</tr>`).FindString(page)
	for _, want := range []string{wantFresh.Format(time.RFC3339), "<code>" + head.Manifest.UnitID + "</code>"} {
		if !strings.Contains(row, want) {
			t.Errorf("status page row of %s lacks %q:\n%s", name, want, row)
		}
	}

	// The freshness metric is the end of the last archived window.
	metric := func() float64 {
		t.Helper()
		m := regexp.MustCompile(`(?m)^exportd_last_success_window_end_timestamp_seconds\{schedule="` + name + `"\} (\S+)$`).FindStringSubmatch(get("/metrics"))
		if m == nil {
			return 0
		}
		v, _ := strconv.ParseFloat(m[1], 64)
		return v
	}
	if got := metric(); got != float64(wantFresh.Unix()) {
		t.Errorf("exportd_last_success_window_end_timestamp_seconds %v, want %d", got, wantFresh.Unix())
	}

	// The runs: the newest commits, newest first, as `exportd runs` lists
	// them.
	var runs struct{ Runs []server.RunRecord }
	if err := json.Unmarshal([]byte(get("/api/v1/runs?schedule="+name+"&limit=10")), &runs); err != nil {
		t.Fatal(err)
	}
	if len(runs.Runs) != min(10, len(chain)) {
		t.Fatalf("%d runs, want %d", len(runs.Runs), min(10, len(chain)))
	}
	// Each a commit of the archive, once, newest first, the head's among
	// them.
	byKey := map[string]archive.ChainEntry{}
	for _, e := range chain {
		byKey[e.Key] = e
	}
	listed := map[string]bool{}
	for i, r := range runs.Runs {
		e, ok := byKey[r.ManifestKey]
		if !ok || listed[r.ManifestKey] || r.Unit != e.Manifest.UnitID || !r.Finished.Equal(e.Manifest.Run.FinishedAt) ||
			r.Instance != e.Manifest.Run.Instance || r.ID == "" || (i > 0 && r.Finished.After(runs.Runs[i-1].Finished)) {
			t.Errorf("run %d: %+v: not the next commit of the archive (newest first)", i, r)
		}
		listed[r.ManifestKey] = true
	}
	if last := chain[len(chain)-1]; !listed[last.Key] || !last.Manifest.Adhoc {
		t.Errorf("runs lack the chain head's commit %s, the local run's snapshot", last.Key)
	}
	out, code := runCLI(t, cfg, "runs", "--server", base, "--schedule", name, "--limit", "3")
	if code != 0 || !strings.Contains(out, head.Manifest.UnitID) || !strings.Contains(out, runs.Runs[2].Unit) {
		t.Errorf("exportd runs: exit %d:\n%s", code, out)
	}
	// The windows come from the same state: each as the archive has it.
	var ws struct{ Windows []server.WindowStatus }
	if err := json.Unmarshal([]byte(get("/api/v1/schedules/"+name+"/windows")), &ws); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]string{}
	for _, e := range chain {
		if !e.Manifest.Adhoc {
			kinds[e.Manifest.UnitID] = e.Manifest.Kind
		}
	}
	for _, w := range ws.Windows {
		want := map[string]string{"": server.WindowMissing, domain.KindExported: server.WindowArchived,
			domain.KindSkipped: server.WindowSkipped, domain.KindLost: server.WindowLost}[kinds[w.ID]]
		if w.State != want {
			t.Errorf("window %s: %s, want %s", w.ID, w.State, want)
		}
	}

	// Asked again, the windows come from memory, not from one manifest
	// read per window: in a folder archive, with the schedule's folder
	// (objects and manifests) moved away, they are still what they were.
	if fs, ok := store.(*folderstore.Store); ok {
		dir := filepath.Join(fs.Root(), filepath.FromSlash(layout.ScheduleDir()))
		if err := os.Rename(dir, dir+".away"); err != nil {
			t.Fatal(err)
		}
		var again struct{ Windows []server.WindowStatus }
		if err := json.Unmarshal([]byte(get("/api/v1/schedules/"+name+"/windows")), &again); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(again.Windows, ws.Windows) {
			t.Errorf("windows asked again differ:\n%+v\nwant\n%+v", again.Windows, ws.Windows)
		}
		if err := os.Rename(dir+".away", dir); err != nil {
			t.Fatal(err)
		}
	}

	// A second daemon on the same archive commits the next window; the
	// first shows it after a refresh.
	next := now.Add(27 * time.Hour)
	b := daemonAt(t, cfgB, next)
	rec, err := b.RunNow(context.Background(), app.RunNowRequest{Schedule: name, Wait: true})
	if err != nil || (rec.Outcome != domain.OutcomeExported && rec.Outcome != domain.OutcomeSkipped) || rec.Window == nil {
		t.Fatalf("second daemon's run now: %+v %v", rec, err)
	}
	if !rec.Window.End.After(wantFresh) {
		t.Fatalf("second daemon exported %s, not a window after %s", rec.Unit, wantFresh)
	}
	waitFor(t, "the second daemon's commit", func() bool {
		s := status()
		return s.LastRun != nil && s.LastRun.ManifestKey == rec.ManifestKey
	})
	s = status()
	if !s.Freshness.Equal(rec.Window.End) {
		t.Errorf("freshness after the second daemon's commit: %s, want %s", s.Freshness, rec.Window.End)
	}
	if got := metric(); got != float64(rec.Window.End.Unix()) {
		t.Errorf("metric after the second daemon's commit: %v, want %d", got, rec.Window.End.Unix())
	}
	if err := json.Unmarshal([]byte(get("/api/v1/runs?schedule="+name+"&limit=2")), &runs); err != nil {
		t.Fatal(err)
	}
	if len(runs.Runs) != 2 || runs.Runs[0].ManifestKey != rec.ManifestKey || runs.Runs[1].ManifestKey != head.Key || runs.Runs[0].Instance == "" {
		t.Errorf("runs after the second daemon's commit: %+v", runs.Runs)
	}
	if newest := chainOf(); newest[len(newest)-1].Manifest.Run.Instance != runs.Runs[0].Instance {
		t.Errorf("run's instance %q, the manifest's %q", runs.Runs[0].Instance, newest[len(newest)-1].Manifest.Run.Instance)
	}
}
