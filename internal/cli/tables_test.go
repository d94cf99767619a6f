package cli_test

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/cli"
)

// startDaemon runs `exportd serve` on the demo config in this process, on a
// free port of 127.0.0.1, until the test ends; it returns the API's URL
// once the daemon answers /readyz.
func startDaemon(t *testing.T, cfg string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	data, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	moved := bytes.Replace(data, []byte("listen: 127.0.0.1:8080"), []byte("listen: "+addr), 1)
	if bytes.Equal(moved, data) {
		t.Fatal("config/exportd.yaml: no listen: 127.0.0.1:8080 line")
	}
	if err := os.WriteFile(cfg, moved, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("EXPORTD_TOKEN", "")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var logs bytes.Buffer
	go func() {
		var out bytes.Buffer
		done <- cli.Main(ctx, "test", []string{"--log-level", "error", "--config", cfg, "--now", demoEnd, "serve"}, &out, &logs)
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != cli.ExitOK {
			t.Errorf("serve exited %d: %s", code, logs.String())
		}
	})
	base := "http://" + addr
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get(base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the daemon did not get ready on %s", addr)
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited %d: %s", code, logs.String())
		default:
		}
	}
}

var escape = regexp.MustCompile("\x1b\\[[0-9;]*m")

// column is where a header's column starts (left) or ends (right) in the
// header line of a terminal table.
func column(t *testing.T, header, name string, right bool) int {
	t.Helper()
	i := strings.Index(header, name)
	if i < 0 {
		t.Fatalf("no column %s in %q", name, header)
	}
	if right {
		return len([]rune(header[:i])) + len([]rune(name))
	}
	return len([]rune(header[:i]))
}

// TestStatusAndRunsTables: status and runs print the API's answer as
// tab-aligned plain text when the output is not a terminal (what scripts
// read, as before), and on a terminal as an aligned table with a bold
// header and a rule, relative times, numbers right-aligned.
func TestStatusAndRunsTables(t *testing.T) {
	cfg := demoConfig(t)
	base := startDaemon(t, cfg)
	t.Setenv("EXPORTD_SERVER", base)

	// Wait for the catch-up's first runs.
	var plainRuns string
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		out, errOut, code := run(t, "runs", "--limit", "5")
		if code != cli.ExitOK {
			t.Fatalf("runs: exit %d\n%s%s", code, out, errOut)
		}
		if strings.Count(out, "\n") >= 3 && strings.Contains(out, "exported") {
			plainRuns = out
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no exported runs yet:\n%s", out)
		}
	}

	// Not a terminal: plain text, as it always was.
	plain, errOut, code := run(t, "status")
	if code != cli.ExitOK {
		t.Fatalf("status: exit %d\n%s%s", code, plain, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(plain, "\n"), "\n")
	if len(lines) != 3 || !regexp.MustCompile(`^SCHEDULE\s+STATUS\s+NEXT FIRE\s+FRESHNESS\s+LAST RUN\s+FAILURES\s+LOST$`).MatchString(lines[0]) ||
		!strings.HasPrefix(lines[1], "audit-log-rows ") || !strings.HasPrefix(lines[2], "daily-login-activity ") ||
		!regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`).MatchString(lines[1]) || strings.ContainsAny(plain, "\x1b─") {
		t.Errorf("plain status:\n%s", plain)
	}
	if strings.ContainsAny(plainRuns, "\x1b─") || !strings.HasPrefix(plainRuns, "ID ") {
		t.Errorf("plain runs:\n%s", plainRuns)
	}

	// On a terminal.
	term, code := onTerminal(t, "status")
	if code != cli.ExitOK {
		t.Fatalf("status on a terminal: exit %d\n%q", code, term)
	}
	if !strings.Contains(term, "\x1b[1mSCHEDULE\x1b[0m") || !strings.Contains(term, "────") {
		t.Errorf("status on a terminal: no bold header and rule:\n%q", term)
	}
	tl := strings.Split(strings.TrimSuffix(escape.ReplaceAllString(strings.ReplaceAll(term, "\r", ""), ""), "\n"), "\n")
	if len(tl) != 4 {
		t.Fatalf("status on a terminal: want header, rule and two schedules:\n%s", strings.Join(tl, "\n"))
	}
	for _, r := range tl[2:] {
		next := column(t, tl[0], "NEXT FIRE", false)
		if got := string([]rune(r)[next:]); !regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\dZ \(in [0-9hmds]+\)`).MatchString(got) {
			t.Errorf("NEXT FIRE column of %q: %q, want a time and how far ahead it is", r, got)
		}
		status := column(t, tl[0], "STATUS", false)
		if got := strings.Fields(string([]rune(r)[status:]))[0]; got != "idle" && got != "running" {
			t.Errorf("STATUS column of %q: %q", r, got)
		}
		if end := column(t, tl[0], "LOST", true); len([]rune(r)) != end {
			t.Errorf("LOST is not right-aligned under its header:\n%s\n%s", tl[0], r)
		}
	}

	term, code = onTerminal(t, "runs", "--limit", "5")
	if code != cli.ExitOK {
		t.Fatalf("runs on a terminal: exit %d\n%q", code, term)
	}
	tl = strings.Split(strings.TrimSuffix(escape.ReplaceAllString(strings.ReplaceAll(term, "\r", ""), ""), "\n"), "\n")
	if len(tl) < 3 || !strings.HasPrefix(tl[1], "────") {
		t.Fatalf("runs on a terminal:\n%s", strings.Join(tl, "\n"))
	}
	rowsEnd, bytesEnd := column(t, tl[0], "ROWS", true), column(t, tl[0], "BYTES", true)
	seen := false
	for _, r := range tl[2:] {
		rr := []rune(r)
		if !strings.Contains(r, " exported ") {
			continue
		}
		seen = true
		if !regexp.MustCompile(`[0-9,]+$`).MatchString(string(rr[:rowsEnd])) || !regexp.MustCompile(`[0-9.]+ (B|[KMG]iB)$`).MatchString(string(rr[:bytesEnd])) {
			t.Errorf("ROWS and BYTES not right-aligned under their headers:\n%s\n%s", tl[0], r)
		}
		if len(rr) > 160 {
			t.Errorf("a row wider than the terminal (160): %d", len(rr))
		}
	}
	if !seen {
		t.Errorf("no exported run in:\n%s", strings.Join(tl, "\n"))
	}
	t.Logf("runs on a terminal:\n%s", strings.Join(tl, "\n"))
}
