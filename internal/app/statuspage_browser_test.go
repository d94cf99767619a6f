package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"go.uber.org/zap"

	"github.com/exportd/exportd/internal/app"
)

// chromiumPath is Debian's chromium (.ci/run installs it).
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{os.Getenv("EXPORTD_CHROMIUM"), "chromium", "chromium-browser", "/usr/bin/chromium"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("the status page test needs a headless Chromium: apt-get install -y chromium (.ci/run does), or set EXPORTD_CHROMIUM")
	return ""
}

// artifactDir is where the test keeps its screenshots: under
// $EXPORTD_ARTIFACTS (scripts/test.sh sets it) or the test's artifact
// directory (go test -artifacts -outputdir DIR).
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := t.ArtifactDir()
	if root := os.Getenv("EXPORTD_ARTIFACTS"); root != "" {
		dir = filepath.Join(root, t.Name())
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("screenshots in %s", dir)
	return dir
}

// TestStatusPageInBrowser drives the status pages of the whole daemon on the
// demo in a real headless Chromium, with JavaScript off as far as the pages
// go: sign in with the token, see the schedules, Run now and see the new
// run with its key, pause and resume, and a form post without its CSRF
// token refused.
func TestStatusPageInBrowser(t *testing.T) {
	const token = "browser-token-5c2e9a"
	t.Setenv("EXPORTD_TOKEN", token)
	cfg := demoDir(t)
	dir := filepath.Dir(filepath.Dir(cfg))
	// A short history with every window state the timeline draws: the
	// source keeps 20 days, so the first windows after window.start are
	// lost; the others are archived by the catch-up at start.
	edit(t, filepath.Join(dir, "schedules", "audit-log-rows.yaml"), "  every: day\n", "  every: day\n  start: 2026-10-07T00:00:00Z\n")
	edit(t, cfg, "retention: 90d", "retention: 20d")
	url := runningDaemon(t, cfg, time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC))
	api := func(path string, v any) {
		t.Helper()
		req, _ := http.NewRequest("GET", url+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatal(err)
		}
	}
	schedule := func(name string) app.ScheduleStatus {
		var s app.ScheduleStatus
		api("/api/v1/schedules/"+name, &s)
		return s
	}
	waitFor(t, "the catch-up at start", func() bool {
		a, b := schedule("audit-log-rows"), schedule("daily-login-activity")
		return a.LastRun != nil && a.Status == "idle" && b.LastRun != nil && b.Status == "idle"
	})

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	bctx, cancelTimeout := context.WithTimeout(bctx, 3*time.Minute)
	defer cancelTimeout()
	art := artifactDir(t)
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Errorf("screenshot %s: %v", name, err)
			return
		}
		if err := os.WriteFile(filepath.Join(art, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(bctx, steps...); err != nil {
			shot("failed.png")
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			shot("failed.png")
			t.Fatalf("read %s: %v", sel, err)
		}
		return s
	}
	count := func(sel string) int {
		t.Helper()
		n, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll(`+strconv.Quote(sel)+`).length`))
		if err != nil {
			t.Fatalf("count %s: %v", sel, err)
		}
		return n
	}
	visible := func(sel string) chromedp.Action[chromedp.Void] { return chromedp.WaitVisible(chromedp.CSS(sel)) }
	click := func(sel string) chromedp.Action[chromedp.Void] { return chromedp.Click(chromedp.CSS(sel)) }

	// The pages need no script: the browser runs them with JavaScript off.
	if _, err := chromedp.Call(bctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatalf("JavaScript off: %v", err)
	}

	// Signed out, / sends the browser to the sign-in form.
	do("open /", chromedp.Navigate(url+"/"), visible(`input[name="token"]`))
	shot("01-sign-in.png")
	do("sign in",
		chromedp.SendKeys(chromedp.CSS(`input[name="token"]`), token),
		click(`form[action="/login"] button[type="submit"]`),
		visible(`#schedules`))
	overview := text("#schedules")
	for _, want := range []string{"audit-log-rows", "daily-login-activity", "30 * * * *", "UTC", "ok", "behind"} {
		if !strings.Contains(overview, want) {
			t.Errorf("overview lacks %q:\n%s", want, overview)
		}
	}
	shot("02-schedules.png")

	// The timeline of audit-log-rows: lost windows, then archived ones.
	do("open audit-log-rows", chromedp.Navigate(url+"/schedules/audit-log-rows"), visible(`#timeline svg`))
	lost, archived := count(`#timeline rect[data-state="lost"]`), count(`#timeline rect[data-state="archived"]`)
	if lost == 0 || archived == 0 {
		t.Errorf("timeline: %d lost and %d archived windows, want some of each", lost, archived)
	}
	shot("03-audit-log-rows.png")
	// The README's picture: what a browser window shows of it.
	if png, err := chromedp.Run(bctx, chromedp.CaptureScreenshot()); err != nil {
		t.Errorf("screenshot: %v", err)
	} else if err := os.WriteFile(filepath.Join(art, "status-page.png"), png, 0o644); err != nil {
		t.Fatal(err)
	}

	// Run now on the snapshot schedule: the new run appears with its key.
	do("open daily-login-activity", chromedp.Navigate(url+"/schedules/daily-login-activity"), visible(`#runs`))
	before := count(`#runs tbody tr`)
	do("run now", click(`button[value="run"]`), visible(`.flash`))
	if f := text(".flash"); !strings.Contains(f, "Run started") {
		t.Errorf("after Run now: %q", f)
	}
	var runs struct {
		Runs []app.RunRecord `json:"runs"`
	}
	waitFor(t, "the run started from the page", func() bool {
		api("/api/v1/runs?schedule=daily-login-activity&limit=1", &runs)
		return len(runs.Runs) == 1 && runs.Runs[0].Trigger == "api" && runs.Runs[0].Outcome == "exported"
	})
	newRun := runs.Runs[0]
	if _, err := os.Stat(filepath.Join(dir, "archive", filepath.FromSlash(newRun.Key))); err != nil {
		t.Errorf("the run's object: %v", err)
	}
	do("reload", chromedp.Navigate(url+"/schedules/daily-login-activity"), visible(`#runs`))
	after := count(`#runs tbody tr`)
	first := text(`#runs tbody tr:first-child`)
	if after != before+1 || !strings.Contains(first, newRun.Key) || !strings.Contains(first, "api") || !strings.Contains(first, "exported") {
		t.Errorf("runs table: %d rows (was %d), first row %q, want the new run with key %s", after, before, first, newRun.Key)
	}
	shot("04-run-now.png")

	// Pause and resume.
	do("pause", click(`button[value="pause"]`), visible(`button[value="resume"]`))
	if s := schedule("daily-login-activity"); !s.Paused || s.Pause == nil || s.Pause.Reason != "operator" {
		t.Errorf("after Pause: %+v", s)
	}
	if h := text("h2"); !strings.Contains(h, "paused") {
		t.Errorf("heading after Pause: %q", h)
	}
	shot("05-paused.png")
	do("resume", click(`button[value="resume"]`), visible(`button[value="pause"]`))
	if s := schedule("daily-login-activity"); s.Paused {
		t.Errorf("after Resume: %+v", s)
	}

	// A form post without its CSRF token, from the signed-in browser, is
	// refused and changes nothing. (The page's own scripts stay off; the
	// test edits the form through the DevTools protocol.)
	do("strip the CSRF token", chromedp.Evaluate[chromedp.Void](`document.querySelector('form[action$="/pause"] input[name="csrf"]').remove()`))
	resp, err := chromedp.RunResponse(bctx, click(`button[value="pause"]`))
	if err != nil {
		t.Fatalf("CSRF-less post: %v", err)
	}
	if resp.Status != http.StatusForbidden {
		t.Errorf("CSRF-less post: status %d, want 403", resp.Status)
	}
	if e := text(".error"); !strings.Contains(e, "CSRF") {
		t.Errorf("CSRF-less post: %q", e)
	}
	if s := schedule("daily-login-activity"); s.Paused {
		t.Error("a post without the CSRF token paused the schedule")
	}
	shot("06-csrf-refused.png")
}

// runningDaemon loads cfg with a clock that starts at base and runs with
// the wall clock, serves the daemon on a free loopback port, and stops it
// (checking its error) when the test ends. It returns the API's base URL.
func runningDaemon(t *testing.T, cfg string, base time.Time) string {
	t.Helper()
	started := time.Now()
	a, err := app.Load(context.Background(), app.Options{ConfigPath: cfg, Logger: zap.NewNop(),
		Now: func() time.Time { return base.Add(time.Since(started)) }})
	if err != nil {
		t.Fatal(err)
	}
	d := serving(t, a, app.DaemonOptions{WatchInterval: -1})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("daemon: %v", err)
		}
		a.Close()
	})
	return "http://" + d.Addr().String()
}

// edit replaces old by new in file, once; the test fails if old is not there.
func edit(t *testing.T, file, old, new string) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), old) {
		t.Fatalf("%s: no %q to replace", file, old)
	}
	if err := os.WriteFile(file, []byte(strings.Replace(string(data), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}
