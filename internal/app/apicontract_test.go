package app_test

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/app"
	"github.com/exportd/exportd/internal/testenv"
)

// TestAPIContract fuzzes the whole daemon's HTTP API on the demo with
// schemathesis against docs/openapi.yaml: no 5xx, every status, content
// type and body as the spec says. A first pass without the token must
// change nothing (no run, no pause, no archived file); a second pass with
// it also checks that every operation needing the token refuses a call
// without it.
func TestAPIContract(t *testing.T) {
	st, err := testenv.InstallSchemathesis()
	if err != nil {
		t.Fatal(err)
	}
	const token = "contract-token-71b0"
	t.Setenv("EXPORTD_TOKEN", token)
	cfg := demoDir(t)
	dir := filepath.Dir(filepath.Dir(cfg))
	edit(t, filepath.Join(dir, "schedules", "audit-log-rows.yaml"), "catch_up: all", "catch_up: latest")
	url := runningDaemon(t, cfg, time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC))

	type state struct {
		Runs   int
		Paused []string
		Files  int
	}
	snapshot := func() state {
		t.Helper()
		var s state
		var schedules struct {
			Schedules []app.ScheduleStatus `json:"schedules"`
		}
		var runs struct {
			Runs []app.RunRecord `json:"runs"`
		}
		get := func(path string, v any) {
			resp, err := http.Get(url + path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
		}
		get("/api/v1/schedules", &schedules)
		get("/api/v1/runs?limit=1000", &runs)
		s.Runs = len(runs.Runs)
		for _, sc := range schedules.Schedules {
			if sc.Paused {
				s.Paused = append(s.Paused, sc.Name)
			}
			if sc.Status == "running" {
				s.Runs = -1 // not settled
			}
		}
		_ = filepath.WalkDir(filepath.Join(dir, "archive"), func(p string, e fs.DirEntry, err error) error {
			if err == nil && !e.IsDir() && !strings.Contains(p, "_claims") {
				s.Files++
			}
			return nil
		})
		return s
	}
	var before state
	waitFor(t, "the catch-up at start", func() bool {
		before = snapshot()
		return before.Runs >= 2
	})

	spec := filepath.Join(repoRoot(t), "docs", "openapi.yaml")
	const checks = "not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance"
	schemathesis := func(name, checks string, extra ...string) {
		t.Helper()
		start := time.Now()
		args := append([]string{"run", spec, "--url", url, "--checks", checks,
			"--phases", "examples,coverage,fuzzing", "--max-examples", "5", "--seed", "20261201",
			"--workers", "1", "--max-redirects", "0", "--request-timeout", "30",
			"--suppress-health-check", "all"}, extra...)
		cmd := exec.Command(st, args...)
		// schemathesis keeps its example database in the working directory.
		cmd.Dir = t.TempDir()
		cmd.Env = append(cmd.Environ(), "NO_COLOR=1", "SCHEMATHESIS_HOOKS=")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("schemathesis (%s) found problems: %v\n%s", name, err, out)
		}
		t.Logf("schemathesis (%s), %s:\n%s", name, time.Since(start).Round(time.Second), lastLines(string(out), 25))
	}

	schemathesis("without the token", checks, "--include-method", "POST")
	if after := snapshot(); after.Runs != before.Runs || strings.Join(after.Paused, ",") != strings.Join(before.Paused, ",") || after.Files != before.Files {
		t.Fatalf("calls without the token changed the daemon: before %+v, after %+v", before, after)
	}
	schemathesis("with the token", checks+",ignored_auth", "--header", "Authorization: Bearer "+token)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
