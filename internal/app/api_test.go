package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/exportd/exportd/internal/app"
)

// TestAPIAgainstTheWholeDaemon starts `serve` in-process on 127.0.0.1:0 and
// drives it over HTTP as an operator would.
func TestAPIAgainstTheWholeDaemon(t *testing.T) {
	const token = "test-token-8d1f"
	t.Setenv("EXPORTD_TOKEN", token)
	cfg := demoDir(t)
	sched := filepath.Join(filepath.Dir(cfg), "..", "schedules", "audit-log-rows.yaml")
	data, _ := os.ReadFile(sched)
	if err := os.WriteFile(sched, []byte(strings.Replace(string(data), "catch_up: all", "catch_up: latest", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC)
	a, err := app.Load(context.Background(), app.Options{ConfigPath: cfg, Logger: zap.NewNop(), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
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

	call := func(method, path, tok, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var m map[string]any
		_ = json.Unmarshal(raw, &m)
		if m == nil {
			m = map[string]any{"raw": string(raw)}
		}
		return resp.StatusCode, m
	}

	// Wait for the catch-up at start: both schedules have a last run.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		code, m := call("GET", "/api/v1/schedules", "", "")
		if code != 200 {
			t.Fatalf("schedules: %d %v", code, m)
		}
		ready := 0
		for _, s := range m["schedules"].([]any) {
			s := s.(map[string]any)
			if s["last_run"] != nil && s["status"] == "idle" {
				ready++
			}
		}
		if ready == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("catch-up did not finish: %v", m)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code, _ := call("GET", "/healthz", "", ""); code != 200 {
		t.Fatalf("healthz %d", code)
	}

	// Mutating calls need the token.
	if code, _ := call("POST", "/api/v1/schedules/audit-log-rows/run?wait=true", "", ""); code != 401 {
		t.Fatalf("run without token: %d, want 401", code)
	}
	if code, _ := call("POST", "/api/v1/schedules/audit-log-rows/run?wait=true", "wrong", ""); code != 401 {
		t.Fatalf("run with a wrong token: %d, want 401", code)
	}
	// The latest closed window (Oct 31, closed at 02:00) was caught up.
	code, m := call("POST", "/api/v1/schedules/audit-log-rows/run?wait=true", token, "")
	if code != 200 || m["status"] != "already_archived" || !strings.HasSuffix(m["manifest"].(string), "20261031T000000Z-20261101T000000Z.manifest.json") {
		t.Fatalf("run now of the latest window: %d %v", code, m)
	}
	// An earlier window by its start.
	code, m = call("POST", "/api/v1/schedules/audit-log-rows/run?wait=true", token, `{"window_start":"2026-10-20T00:00:00Z"}`)
	if code != 200 || m["status"] != "exported" {
		t.Fatalf("run now of 2026-10-20: %d %v", code, m)
	}
	run := m["run"].(map[string]any)
	if run["rows"].(float64) == 0 || !strings.Contains(run["key"].(string), "dt=2026-10-20") {
		t.Fatalf("run record: %v", run)
	}
	// Misaligned and open windows are 400s with the reason.
	code, m = call("POST", "/api/v1/schedules/audit-log-rows/run?wait=true", token, `{"window_start":"2026-10-20T05:00:00Z"}`)
	if code != 400 || !strings.Contains(m["error"].(string), "not the start") {
		t.Fatalf("misaligned: %d %v", code, m)
	}
	code, m = call("POST", "/api/v1/schedules/audit-log-rows/run?wait=true", token, `{"window_start":"2026-11-01T00:00:00Z"}`)
	if code != 400 || !strings.Contains(m["error"].(string), "not closed yet") {
		t.Fatalf("open window: %d %v", code, m)
	}
	if code, _ := call("POST", "/api/v1/schedules/nope/run", token, ""); code != 404 {
		t.Fatalf("unknown schedule: %d", code)
	}
	// Pause and resume.
	if code, m := call("POST", "/api/v1/schedules/daily-login-activity/pause", token, ""); code != 200 || m["paused"] != true {
		t.Fatalf("pause: %d %v", code, m)
	}
	if code, m := call("POST", "/api/v1/schedules/daily-login-activity/resume", token, ""); code != 200 || m["paused"] != false {
		t.Fatalf("resume: %d %v", code, m)
	}
	// Run history, newest first.
	code, m = call("GET", "/api/v1/runs?schedule=audit-log-rows&limit=10", "", "")
	if code != 200 {
		t.Fatalf("runs: %d %v", code, m)
	}
	runs := m["runs"].([]any)
	if len(runs) < 2 || runs[0].(map[string]any)["unit"] != "20261020T000000Z-20261021T000000Z" {
		t.Fatalf("runs: %v", runs)
	}
	// Metrics count what happened.
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`exportd_runs_total{outcome="exported",schedule="audit-log-rows"} 2`,
		`exportd_runs_total{outcome="exported",schedule="daily-login-activity"} 1`,
		`exportd_last_success_window_end_timestamp_seconds{schedule="audit-log-rows"} 1.7934912e+09`,
		`exportd_config_last_reload_successful 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	// The CLI triggers the running daemon.
	out, code2 := runCLI(t, cfg, "run", "audit-log-rows", "--server", base, "--window", "2026-10-20")
	if code2 != 0 || !strings.Contains(out, "already archived") {
		t.Fatalf("run --server: exit %d: %s", code2, out)
	}

	// The CLI watches and steers it: status, runs, pause, resume.
	t.Setenv("EXPORTD_SERVER", base)
	cli := func(want int, args ...string) string {
		t.Helper()
		out, code := runCLI(t, cfg, args...)
		if code != want {
			t.Fatalf("exportd %s: exit %d, want %d: %s", strings.Join(args, " "), code, want, out)
		}
		return out
	}
	row := func(out, name string) string {
		for _, l := range strings.Split(out, "\n") {
			if f := strings.Fields(l); len(f) > 0 && f[0] == name {
				return l
			}
		}
		t.Fatalf("no row for %s in:\n%s", name, out)
		return ""
	}
	out = cli(0, "status")
	if r := row(out, "audit-log-rows"); !strings.Contains(r, "idle") || !strings.Contains(r, "2026-11-01T00:00:00Z") ||
		!strings.Contains(r, "exported 20261020T000000Z-20261021T000000Z") {
		t.Errorf("status row of audit-log-rows (idle, freshness 2026-11-01, last run the API's export of 10-20): %q", r)
	}
	if out = cli(0, "pause", "daily-login-activity"); !strings.Contains(out, "daily-login-activity paused") {
		t.Errorf("pause: %s", out)
	}
	if r := row(cli(0, "status", "daily-login-activity"), "daily-login-activity"); !strings.Contains(r, "paused") {
		t.Errorf("status after pause: %q", r)
	}
	if out = cli(0, "resume", "daily-login-activity"); !strings.Contains(out, "daily-login-activity idle") {
		t.Errorf("resume: %s", out)
	}
	out = cli(0, "runs", "--schedule", "audit-log-rows", "--limit", "2")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 3 || !strings.Contains(lines[1], "20261020T000000Z") ||
		!strings.Contains(lines[2], "catch-up") {
		t.Errorf("runs --limit 2 (header, the API's run of 10-20, the catch-up's): %s", out)
	}
	cli(2, "status", "nope")
	t.Setenv("EXPORTD_TOKEN", "wrong-token")
	if out = cli(1, "pause", "daily-login-activity"); !strings.Contains(out, "HTTP 401") {
		t.Errorf("pause with a wrong token: %s", out)
	}
}
