package cli_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/archive/folderstore"
	"github.com/exportd/exportd/internal/cli"
	"github.com/exportd/exportd/internal/domain"
)

// demoEnd pins the demo data: it covers the 90 days before this instant.
const demoEnd = "2026-11-01T00:00:00Z"

// demoConfig copies the shipped config and schedules into a fresh folder,
// with the demo data pinned to demoEnd, and returns the config path.
func demoConfig(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, sub := range []string{"config", "schedules"} {
		if err := os.CopyFS(filepath.Join(dir, sub), os.DirFS(filepath.Join("..", "..", sub))); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(dir, "config", "exportd.yaml")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	pinned := bytes.Replace(data, []byte(`demo_seed: "42"`), []byte(`demo_seed: "42"`+"\n      demo_end: \""+demoEnd+"\""), 1)
	if bytes.Equal(pinned, data) {
		t.Fatal("config/exportd.yaml: no demo_seed line to pin demo_end after")
	}
	if err := os.WriteFile(p, pinned, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// run runs the exportd command line in this process, as main does.
func run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var o, e bytes.Buffer
	code = cli.Main(context.Background(), "test", append([]string{"--log-level", "error"}, args...), &o, &e)
	return o.String(), e.String(), code
}

func TestExitCodes(t *testing.T) {
	cfg := demoConfig(t)
	// A bad config: exit 1, every problem located.
	bad := filepath.Join(filepath.Dir(cfg), "bad.yaml")
	if err := os.WriteFile(bad, []byte("state_dir: ../state\nsources: {}\nnot_a_key: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		args     []string
		code     int
		contains string
	}{
		{"unknown flag", []string{"--config", cfg, "validate", "--no-such-flag"}, cli.ExitUsage, "unknown flag"},
		{"unknown command", []string{"--config", cfg, "frobnicate"}, cli.ExitUsage, "unknown command"},
		{"missing argument", []string{"--config", cfg, "run"}, cli.ExitUsage, "accepts 1 arg"},
		{"bad --now", []string{"--config", cfg, "--now", "yesterday", "validate"}, cli.ExitUsage, "--now"},
		{"bad --at", []string{"--config", cfg, "run", "daily-login-activity", "--at", "noon"}, cli.ExitUsage, "--at"},
		{"bad log level", []string{"--config", cfg, "--log-level", "loud", "validate"}, cli.ExitUsage, "--log-level"},
		{"--at with --server", []string{"--config", cfg, "run", "x", "--server", "http://127.0.0.1:1", "--at", "2026-10-01"}, cli.ExitUsage, "--at cannot be used with --server"},
		{"unknown schedule", []string{"--config", cfg, "--now", demoEnd, "run", "no-such-schedule"}, cli.ExitUsage, "unknown schedule"},
		{"window of a snapshot schedule", []string{"--config", cfg, "--now", demoEnd, "run", "daily-login-activity", "--window", "2026-10-01"}, cli.ExitUsage, "no windows to pick"},
		{"zero-time window", []string{"--config", cfg, "--now", demoEnd, "run", "audit-log-rows", "--window", "0001-01-01T00:00:00Z"}, cli.ExitUsage, "zero time"},
		{"1970 window", []string{"--config", cfg, "--now", demoEnd, "run", "audit-log-rows", "--window", "1970-01-01"}, cli.ExitUsage, "window cannot be exported"},
		{"2020 window", []string{"--config", cfg, "--now", demoEnd, "run", "audit-log-rows", "--window", "2020-01-01"}, cli.ExitUsage, "window cannot be exported"},
		{"invalid configuration", []string{"--config", bad, "validate"}, cli.ExitFailure, "not_a_key"},
		{"missing configuration", []string{"--config", filepath.Join(t.TempDir(), "none.yaml"), "validate"}, cli.ExitFailure, "none.yaml"},
		{"valid configuration", []string{"--config", cfg, "validate"}, cli.ExitOK, "ok (2 schedules"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, errOut, code := run(t, c.args...)
			if code != c.code || !strings.Contains(out+errOut, c.contains) {
				t.Errorf("exit %d, want %d; output %q, want it to contain %q", code, c.code, out+errOut, c.contains)
			}
		})
	}
}

// TestRunExportsOnceAndTempFailsOnAHeldClaim: run exports a unit (exit 0),
// a second run of it says already archived (exit 0), and a unit whose claim
// another live run holds exits 75 (EX_TEMPFAIL), writing nothing.
func TestRunExportsOnceAndTempFailsOnAHeldClaim(t *testing.T) {
	cfg := demoConfig(t)
	at := "2026-10-31T06:00:00Z"
	out, errOut, code := run(t, "--config", cfg, "--now", demoEnd, "run", "daily-login-activity", "--at", at)
	if code != cli.ExitOK || !strings.HasPrefix(out, "exported") || !strings.Contains(out, "sha256") {
		t.Fatalf("first run: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = run(t, "--config", cfg, "--now", demoEnd, "run", "daily-login-activity", "--at", at)
	if code != cli.ExitOK || !strings.HasPrefix(out, "already archived") {
		t.Fatalf("second run: exit %d\n%s%s", code, out, errOut)
	}

	// Another run, on another host, holds the claim of the next day's unit.
	root := filepath.Join(filepath.Dir(cfg), "..", "archive")
	st, err := folderstore.New(root)
	if err != nil {
		t.Fatal(err)
	}
	next := time.Date(2026, 10, 30, 6, 0, 0, 0, time.UTC)
	tpl, err := domain.ParseFilename("{logical:2006-01-02_150405}_{schedule}", false)
	if err != nil {
		t.Fatal(err)
	}
	l := domain.Layout{Prefix: "sigma/audit", Schedule: "daily-login-activity", Location: time.UTC, Filename: tpl, Ext: ".csv"}
	other := &archive.Archive{Store: st, Instance: "elsewhere:1", Lease: time.Hour}
	if _, err := other.Claim(context.Background(), l, domain.Unit{Schedule: l.Schedule, Logical: next}, 1); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = run(t, "--config", cfg, "--now", demoEnd, "run", "daily-login-activity", "--at", next.Format(time.RFC3339))
	if code != cli.ExitTempFail || !strings.Contains(errOut, "claimed by another run") {
		t.Fatalf("held claim: exit %d, want %d\n%s%s", code, cli.ExitTempFail, out, errOut)
	}
	objs, _ := filepath.Glob(filepath.Join(root, "sigma", "audit", "daily-login-activity", "dt=2026-10-30", "*"))
	if len(objs) != 0 {
		t.Errorf("a run that did not hold the claim wrote %v", objs)
	}
}
