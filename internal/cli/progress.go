package cli

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// isTerminal says whether w is a terminal a person watches: an *os.File on
// a TTY, and TERM is not "dumb".
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("TERM") == "dumb" {
		return false
	}
	return term.IsTerminal(int(f.Fd()))
}

// runProgress is what `exportd run` shows while an export streams: on a
// terminal a live line (rows, bytes, rate, elapsed) redrawn in place, and
// in any case one plain summary line at the end. It implements
// export.Progress; the figures are the export stream's own.
type runProgress struct {
	w     io.Writer
	name  string
	bar   *progressbar.ProgressBar // nil: no live line
	start time.Time

	mu    sync.Mutex
	rows  int64
	bytes int64
	drawn time.Time
}

// newRunProgress starts the live line on w when live is set.
func newRunProgress(w io.Writer, name string, live bool) *runProgress {
	p := &runProgress{w: w, name: name, start: time.Now()}
	if live {
		p.bar = progressbar.NewOptions64(-1,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription(name+": starting"),
			progressbar.OptionShowBytes(true),
			progressbar.OptionShowCount(),
			progressbar.OptionUseIECUnits(true),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionSpinnerType(14),
			progressbar.OptionClearOnFinish(),
			progressbar.OptionSetRenderBlankState(true),
		)
	}
	return p
}

// Update takes the export's rows and stored bytes so far; the live line is
// redrawn at most every 100 ms (the spinner and elapsed time tick on
// their own in between).
func (p *runProgress) Update(rows, bytes int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rows, p.bytes = rows, bytes
	if p.bar == nil {
		return
	}
	if now := time.Now(); now.Sub(p.drawn) >= 100*time.Millisecond {
		p.drawn = now
		p.draw(now)
	}
}

func (p *runProgress) draw(now time.Time) {
	_ = p.bar.Set64(p.bytes)
	p.bar.Describe(fmt.Sprintf("%s: %s rows (%s rows/s)", p.name, thousands(p.rows),
		thousands(int64(rate(p.rows, now.Sub(p.start))))))
}

// finish draws the final figures once, then clears the live line: the
// summary line takes its place.
func (p *runProgress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		p.draw(time.Now())
		_ = p.bar.Finish()
		_ = p.bar.Exit()
	}
}

// summary is the one plain line of a finished export:
// "exported NAME UNIT: 89 rows, 2.3 KiB in 120ms (741 rows/s, 19.4 KiB/s)".
func (p *runProgress) summary(kind, unit string, rows, bytes int64, d time.Duration) string {
	return fmt.Sprintf("%s %s %s: %s rows, %s in %s (%s rows/s, %s/s)", kind, p.name, unit, thousands(rows),
		iec(float64(bytes)), d.Round(time.Millisecond), thousands(int64(rate(rows, d))), iec(rate(bytes, d)))
}

func rate(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// thousands prints n with comma separators: 1,234,567.
func thousands(n int64) string {
	s := fmt.Sprint(n)
	neg := ""
	if n < 0 {
		neg, s = "-", s[1:]
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return neg + s
}

// iec prints a byte count in binary units: 512 B, 2.3 KiB, 4.1 MiB.
func iec(b float64) string {
	const unit = 1024
	if b < unit {
		return fmt.Sprintf("%.0f B", b)
	}
	div, exp := float64(unit), 0
	for n := b / unit; n >= unit && exp < 5; n /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", b/div, "KMGTPE"[exp])
}
