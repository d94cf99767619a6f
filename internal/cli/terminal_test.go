package cli_test

import (
	"bytes"
	"context"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/creack/pty"

	"github.com/exportd/exportd/internal/cli"
)

// onTerminal runs the command line in this process with stdout and stderr
// on the terminal end of a new pseudo-terminal, and returns everything the
// terminal showed.
func onTerminal(t *testing.T, args ...string) (string, int) {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 40, Cols: 160}); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		// The master reads until the terminal end is closed (EIO on Linux).
		_, _ = io.Copy(&out, ptmx)
	}()
	t.Setenv("TERM", "xterm")
	code := cli.Main(context.Background(), "test", append([]string{"--log-level", "error"}, args...), tty, tty)
	tty.Close()
	wg.Wait()
	return out.String(), code
}

// controls matches terminal control sequences and carriage returns.
var controls = regexp.MustCompile("\x1b\\[[0-9;?]*[A-Za-z]|\r")

// summaryLine is the one line that ends an export:
// "exported NAME UNIT: 2,191 rows, 61.2 KiB in 40ms (54,775 rows/s, 1.5 MiB/s)".
var summaryLine = regexp.MustCompile(`(?m)^exported (\S+) (\S+): ([0-9,]+) rows, ([0-9.]+ (?:B|[KMG]iB)) in (\S+) \(([0-9,]+) rows/s, ([0-9.]+ (?:B|[KMG]iB))/s\)$`)

func atoiCommas(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(strings.ReplaceAll(s, ",", ""), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// resultField is a field of run's result block ("rows  2191").
func resultField(t *testing.T, out, name string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + name + `\s+(\S+)\s*$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no %s in the result:\n%s", name, out)
	}
	return m[1]
}

// TestRunShowsProgressOnATerminal: on a terminal, `exportd run` draws a
// live line (rows, bytes, rate, elapsed) redrawn in place, clears it and
// prints the one summary line, whose figures are the export's.
func TestRunShowsProgressOnATerminal(t *testing.T) {
	cfg := demoConfig(t)
	out, code := onTerminal(t, "--config", cfg, "--now", demoEnd, "run", "audit-log-rows", "--window", "2026-10-20")
	if code != cli.ExitOK {
		t.Fatalf("exit %d:\n%q", code, out)
	}
	// The live line: redrawn after a carriage return, with the schedule,
	// rows, the rate, bytes in binary units and the elapsed time.
	frame := regexp.MustCompile(`\r\S*\s*audit-log-rows: ([0-9,]+) rows \(([0-9,]+) rows/s\) \(([0-9.]+) ((?:B|[KMG]iB))(?:, [0-9.]+ (?:B|[KMG]iB)/s)?\) \[([0-9]+s|[0-9]+m[0-9]+s)\]`)
	frames := frame.FindAllStringSubmatch(out, -1)
	if len(frames) == 0 {
		t.Fatalf("no live progress line on the terminal:\n%q", out)
	}
	if !strings.Contains(out, "audit-log-rows: starting") {
		t.Errorf("the live line did not start before the export's first bytes:\n%q", out)
	}
	plain := controls.ReplaceAllString(out, "\n")
	m := summaryLine.FindStringSubmatch(plain)
	if m == nil {
		t.Fatalf("no summary line on the terminal:\n%q", out)
	}
	rows := resultField(t, plain, "rows")
	if m[1] != "audit-log-rows" || m[2] != "20261020T000000Z-20261021T000000Z" || strconv.FormatInt(atoiCommas(t, m[3]), 10) != rows {
		t.Errorf("summary %q: want audit-log-rows, the window 2026-10-20 and the result's %s rows", m[0], rows)
	}
	last := frames[len(frames)-1]
	lastBytes, _ := strconv.ParseFloat(last[3], 64)
	sumBytes, _ := strconv.ParseFloat(strings.Fields(m[4])[0], 64)
	if atoiCommas(t, last[1]) != atoiCommas(t, m[3]) || last[4] != strings.Fields(m[4])[1] || lastBytes < sumBytes*0.99 || lastBytes > sumBytes*1.01 {
		t.Errorf("the live line's last figures %q differ from the summary %q", last[0], m[0])
	}
	for i := 1; i < len(frames); i++ {
		if atoiCommas(t, frames[i][1]) < atoiCommas(t, frames[i-1][1]) {
			t.Errorf("the rows went back: %q then %q", frames[i-1][0], frames[i][0])
		}
	}
	if atoiCommas(t, rows) < 1000 {
		t.Errorf("a demo day has thousands of rows, the export %s", rows)
	}
}

// TestRunWithoutATerminalPrintsOneSummaryLine: with stderr not a
// terminal, or with --json, there is no live line and no control
// character: stderr is the summary line alone.
func TestRunWithoutATerminalPrintsOneSummaryLine(t *testing.T) {
	cfg := demoConfig(t)
	out, errOut, code := run(t, "--config", cfg, "--now", demoEnd, "run", "audit-log-rows", "--window", "2026-10-20")
	if code != cli.ExitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if strings.Count(errOut, "\n") != 1 || !summaryLine.MatchString(errOut) || strings.ContainsAny(errOut, "\r\x1b") {
		t.Errorf("stderr %q: want exactly one summary line, no control characters", errOut)
	}
	if m := summaryLine.FindStringSubmatch(errOut); m != nil && strconv.FormatInt(atoiCommas(t, m[3]), 10) != resultField(t, out, "rows") {
		t.Errorf("summary %q and result %q disagree on rows", errOut, out)
	}

	// --json on a terminal: the JSON answer, the summary, no live line.
	term, code := onTerminal(t, "--config", cfg, "--now", demoEnd, "run", "audit-log-rows", "--window", "2026-10-21", "--json")
	if code != cli.ExitOK || strings.Contains(term, "starting") || strings.Contains(term, "\x1b[") ||
		!strings.Contains(term, `"status": "exported"`) || !summaryLine.MatchString(strings.ReplaceAll(term, "\r", "")) {
		t.Errorf("run --json on a terminal: exit %d\n%q", code, term)
	}
	// --quiet: the summary line only.
	out, errOut, code = run(t, "--config", cfg, "--now", demoEnd, "run", "audit-log-rows", "--window", "2026-10-22", "-q")
	if code != cli.ExitOK || out != "" || !summaryLine.MatchString(errOut) {
		t.Errorf("run -q: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
