// Package domain holds exportd's words, defined once: the window and the
// unit a run exports and their ids, the schedule-name rule, the outcomes of a
// run and the kinds of a manifest. It imports nothing of exportd's, so every
// other package (schedule, config, archive, export, metrics, server) can use
// it.
//
// Ids and kinds are persisted in archives for years: change nothing that
// alters one without bumping archive.FormatVersion.
package domain

import (
	"fmt"
	"strings"
	"time"
)

// IDLayout is the UTC layout of the instants in window and run ids.
const IDLayout = "20060102T150405Z"

// Window is a half-open interval [Start, End) of source time, in UTC.
type Window struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// IsZero reports whether w is the zero window (a snapshot run has none).
func (w Window) IsZero() bool { return w.Start.IsZero() && w.End.IsZero() }

// ID is the window id: start and end in UTC, e.g.
// 20240316T070000Z-20240317T070000Z. It is unambiguous across daylight saving
// time changes and across window sizes.
func (w Window) ID() string {
	return w.Start.UTC().Format(IDLayout) + "-" + w.End.UTC().Format(IDLayout)
}

func (w Window) String() string { return w.ID() }

// ParseWindowID parses the output of Window.ID.
func ParseWindowID(s string) (Window, error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return Window{}, fmt.Errorf("window id %q: want START-END, e.g. 20240316T070000Z-20240317T070000Z", s)
	}
	start, err := time.Parse(IDLayout, a)
	if err != nil {
		return Window{}, fmt.Errorf("window id %q: start: %w", s, err)
	}
	end, err := time.Parse(IDLayout, b)
	if err != nil {
		return Window{}, fmt.Errorf("window id %q: end: %w", s, err)
	}
	if !end.After(start) {
		return Window{}, fmt.Errorf("window id %q: end must be after start", s)
	}
	return Window{Start: start, End: end}, nil
}

// Unit is what one run exports: a window of a windowed schedule, or the
// snapshot of a schedule's element at a logical time. Two runs of the same
// Unit land on the same claim, the same keys and the same manifest.
type Unit struct {
	Schedule string
	// Logical is the run's logical time: the scheduled fire instant, or the
	// request instant truncated to the second for run now. A window's unit
	// records its window end (export.WindowLogical).
	Logical time.Time
	// Window is zero for a snapshot.
	Window Window
	// Adhoc marks a one-off snapshot of a windowed schedule; it is stored
	// under adhoc/ and ignored by completeness checks.
	Adhoc bool
}

// ID is the window id for a windowed unit and the logical time
// (IDLayout, UTC) for a snapshot.
func (u Unit) ID() string {
	if !u.Window.IsZero() {
		return u.Window.ID()
	}
	return u.Logical.UTC().Format(IDLayout)
}

// Anchor is the instant whose local date names the unit's dt= folder: the
// window start, or the logical time of a snapshot.
func (u Unit) Anchor() time.Time {
	if !u.Window.IsZero() {
		return u.Window.Start
	}
	return u.Logical
}
