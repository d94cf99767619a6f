package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/exportd/exportd/internal/cli"
)

// TestFetchToStdoutTakesTheNewestUnit: `archive fetch S --out -` without a
// unit id writes the newest unit's object (by window end or logical time,
// not commit order), checked, and nothing else (a note on which unit goes
// to stderr only on a terminal); with two ids it is a usage error.
func TestFetchToStdoutTakesTheNewestUnit(t *testing.T) {
	cfg := demoConfig(t)
	root := filepath.Join(filepath.Dir(cfg), "..", "archive", "sigma", "audit", "daily-login-activity")
	for _, at := range []string{"2026-10-31T06:00:00Z", "2026-10-30T06:00:00Z"} { // the newest first
		if out, errOut, code := run(t, "--config", cfg, "--now", demoEnd, "run", "daily-login-activity", "--at", at); code != cli.ExitOK {
			t.Fatalf("run --at %s: exit %d\n%s%s", at, code, out, errOut)
		}
	}
	want, err := os.ReadFile(filepath.Join(root, "dt=2026-10-31", "2026-10-31_060000_daily-login-activity.csv"))
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, code := run(t, "--config", cfg, "--now", demoEnd, "archive", "fetch", "daily-login-activity", "--out", "-")
	if code != cli.ExitOK || out != string(want) || errOut != "" {
		t.Fatalf("fetch --out -: exit %d, stderr %q, stdout %d bytes, want the 2026-10-31 object's %d", code, errOut, len(out), len(want))
	}
	// On a terminal it says which unit it wrote.
	term, code := onTerminal(t, "--config", cfg, "--now", demoEnd, "archive", "fetch", "daily-login-activity", "--out", "-")
	if code != cli.ExitOK || !strings.Contains(term, "daily-login-activity 20261031T060000Z (the newest unit") ||
		!strings.Contains(strings.ReplaceAll(term, "\r\n", "\n"), string(want)) {
		t.Errorf("fetch --out - on a terminal: exit %d\n%q", code, term)
	}
	_, errOut, code = run(t, "--config", cfg, "--now", demoEnd, "archive", "fetch", "daily-login-activity", "20261031T060000Z", "20261030T060000Z", "--out", "-")
	if code != cli.ExitUsage || !strings.Contains(errOut, "needs exactly one unit") {
		t.Errorf("fetch of two units to stdout: exit %d, %s", code, errOut)
	}
}
