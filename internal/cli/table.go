package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"golang.org/x/term"
)

// table is a list the status commands print: tab-separated columns through
// text/tabwriter when the output is a file or a pipe (the form scripts and
// tests read, unchanged), and for a person on a terminal an aligned table
// with a bold header and a rule under it, numbers right-aligned, that fits
// the terminal's width by shortening its last column.
type table struct {
	header []string
	// right marks the columns aligned right (numbers).
	right map[int]bool
	rows  [][]string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

// write prints the plain form; writeTTY the terminal's.
func (t *table) write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(t.header, "\t"))
	for _, r := range t.rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

func (t *table) writeTTY(w io.Writer, width int) error {
	n := len(t.header)
	widths := make([]int, n)
	for i, h := range t.header {
		widths[i] = utf8.RuneCountInString(h)
	}
	for _, r := range t.rows {
		for i, c := range r {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	// The last column takes what the others leave of the width (at least
	// its header, or 12 characters).
	if width > 0 {
		used := 0
		for i := 0; i < n-1; i++ {
			used += widths[i] + 2
		}
		widths[n-1] = max(min(widths[n-1], width-used), utf8.RuneCountInString(t.header[n-1]), 12)
	}
	line := func(cells []string, bold bool) string {
		var b strings.Builder
		for i, c := range cells {
			c = truncate(c, widths[i])
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c))
			if bold {
				c = "\x1b[1m" + c + "\x1b[0m"
			}
			if t.right[i] {
				c = pad + c
			} else if i < n-1 {
				c += pad
			}
			b.WriteString(c)
			if i < n-1 {
				b.WriteString("  ")
			}
		}
		return b.String()
	}
	var b strings.Builder
	b.WriteString(line(t.header, true) + "\n")
	total := 0
	for i, wd := range widths {
		total += wd
		if i < n-1 {
			total += 2
		}
	}
	b.WriteString(strings.Repeat("─", total) + "\n")
	for _, r := range t.rows {
		b.WriteString(line(r, false) + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// truncate shortens s to n characters, ending in "…" when cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	if n <= 1 {
		return "…"
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// print writes the table in the form that suits w.
func (t *table) print(w io.Writer) error {
	if !isTerminal(w) {
		return t.write(w)
	}
	width := 0
	if f, ok := w.(*os.File); ok {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil {
			width = cols
		}
	}
	return t.writeTTY(w, width)
}

// ago says how far t is from now for a person: "in 3h12m", "5m ago",
// "2d4h ago"; "" for the zero time.
func ago(t, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := t.Sub(now)
	future := d > 0
	if !future {
		d = -d
	}
	var s string
	switch {
	case d < time.Minute:
		s = fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		s = fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		s = fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	default:
		s = fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

// when is a time for a person: "2026-11-25 06:00Z (in 3h12m)".
func when(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04Z") + " (" + ago(t, now) + ")"
}
