package schedule

import (
	"errors"
	"fmt"
	"time"

	"github.com/exportd/exportd/internal/domain"
)

// Every is the size of a schedule's windows.
type Every string

// Window sizes. Day, week and month are local calendar units of the
// schedule's zone; an hour is one real hour.
const (
	EveryHour  Every = "hour"
	EveryDay   Every = "day"
	EveryWeek  Every = "week"
	EveryMonth Every = "month"
)

// Sentinel errors of window computations.
var (
	// ErrInvalidWindowSpec is wrapped by WindowSpec.Validate errors.
	ErrInvalidWindowSpec = errors.New("invalid window spec")
	// ErrMisaligned: the window is not one of the spec's windows.
	ErrMisaligned = errors.New("window is not aligned")
	// ErrNoClosedWindow: no window since Start is closed yet.
	ErrNoClosedWindow = errors.New("no closed window yet")
)

// WindowSpec describes how a windowed schedule cuts source time into
// windows. Windows are half-open [Start, End), tile time without gaps or
// overlaps, and are aligned on the local clock of Location:
//
//   - hour: from one whole local hour (hh:00:00) to the next. Every
//     occurrence of a repeated hour is its own window, so an hour window is
//     one real hour in every zone whose changes are whole hours (all but
//     Australia/Lord_Howe, whose half-hour changes give 90- and 30-minute
//     windows). A Los Angeles fall-back day has 25 of them, a spring-forward
//     day 23.
//   - day: from the first instant of a local date to the first instant of
//     the next (23, 24 or 25 hours in Los Angeles).
//   - week: seven local days from the first instant of a WeekStart day.
//   - month: a local calendar month.
//
// The first instant of a date is its midnight or, where a change skips
// midnight, the end of that gap; a date the zone skips entirely
// (Pacific/Apia, 2011-12-30) has no day window.
type WindowSpec struct {
	Every Every
	// Lag is how long after a window's end its data is complete at the
	// source: a window is closed at T when End+Lag <= T.
	Lag time.Duration
	// Start is the local date and time in Location from which windows
	// exist: its clock fields (year to nanosecond, as read in Start's own
	// location) are taken as a local time in Location, so a date decoded as
	// UTC midnight means local midnight. The first window is the first one
	// starting at or after it. Required.
	Start time.Time
	// Location is the schedule's zone; nil means UTC.
	Location *time.Location
	// WeekStart is the first day of a week window; nil means Monday.
	WeekStart *time.Weekday
}

// Validate reports the first problem with the spec, naming the field.
func (ws *WindowSpec) Validate() error {
	switch {
	case ws == nil:
		return fmt.Errorf("%w: nil", ErrInvalidWindowSpec)
	case ws.Every != EveryHour && ws.Every != EveryDay && ws.Every != EveryWeek && ws.Every != EveryMonth:
		return fmt.Errorf("%w: every: %q is not one of hour, day, week, month", ErrInvalidWindowSpec, ws.Every)
	case ws.Lag < 0:
		return fmt.Errorf("%w: lag: must be >= 0, got %s", ErrInvalidWindowSpec, ws.Lag)
	case ws.Start.IsZero():
		return fmt.Errorf("%w: start: required", ErrInvalidWindowSpec)
	case ws.WeekStart != nil && (*ws.WeekStart < time.Sunday || *ws.WeekStart > time.Saturday):
		return fmt.Errorf("%w: week_start: %d is not a weekday", ErrInvalidWindowSpec, int(*ws.WeekStart))
	}
	return nil
}

func (ws *WindowSpec) loc() *time.Location {
	if ws.Location == nil {
		return time.UTC
	}
	return ws.Location
}

func (ws *WindowSpec) weekStart() time.Weekday {
	if ws.WeekStart == nil {
		return time.Monday
	}
	return *ws.WeekStart
}

// StartInstant is Start read as a local time in Location, resolved by the
// package's DST policy (a time in a gap means the gap's end, a repeated time
// its first occurrence).
func (ws *WindowSpec) StartInstant() time.Time {
	s := ws.Start
	w := time.Date(s.Year(), s.Month(), s.Day(), s.Hour(), s.Minute(), s.Second(), s.Nanosecond(), time.UTC)
	return resolve(w, ws.loc())
}

// Align returns the window that contains t. It does not look at Start: a
// window before Start is still a window of the spec.
func (ws *WindowSpec) Align(t time.Time) (domain.Window, error) {
	if err := ws.Validate(); err != nil {
		return domain.Window{}, err
	}
	return ws.align(t), nil
}

func (ws *WindowSpec) align(t time.Time) domain.Window {
	loc := ws.loc()
	if ws.Every == EveryHour {
		s := hourFloor(t, loc)
		return domain.Window{Start: s.UTC(), End: hourAfter(s, loc).UTC()}
	}
	// Calendar units: start from t's local date; a date that repeats
	// (a fall-back across midnight) or a skipped date can put t in the unit
	// before or after, hence the adjustment loop.
	// Two steps suffice for any real zone; the bound only guards against
	// corrupt zone data.
	u := ws.unitStart(wallOf(t, loc))
	var w domain.Window
	for range 8 {
		nu := ws.unitNext(u)
		s, e := startOfDay(u, loc), startOfDay(nu, loc)
		w = domain.Window{Start: s.UTC(), End: e.UTC()}
		switch {
		case !t.Before(e):
			u = nu
		case t.Before(s):
			u = ws.unitStart(u.AddDate(0, 0, -1))
		default:
			return w
		}
	}
	return w
}

// unitStart returns the naive local date starting the calendar unit that
// holds the naive date d.
func (ws *WindowSpec) unitStart(d time.Time) time.Time {
	d = time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC)
	switch ws.Every {
	case EveryWeek:
		back := (int(d.Weekday()) - int(ws.weekStart()) + 7) % 7
		return d.AddDate(0, 0, -back)
	case EveryMonth:
		return time.Date(d.Year(), d.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	return d
}

func (ws *WindowSpec) unitNext(u time.Time) time.Time {
	switch ws.Every {
	case EveryWeek:
		return u.AddDate(0, 0, 7)
	case EveryMonth:
		return u.AddDate(0, 1, 0)
	}
	return u.AddDate(0, 0, 1)
}

// IsAligned reports whether w is one of the spec's windows (in any zone's
// representation of the same instants).
func (ws *WindowSpec) IsAligned(w domain.Window) bool {
	a, err := ws.Align(w.Start)
	return err == nil && a.Start.Equal(w.Start) && a.End.Equal(w.End)
}

// Next returns the window that follows the aligned window w.
func (ws *WindowSpec) Next(w domain.Window) (domain.Window, error) {
	if !ws.IsAligned(w) {
		if err := ws.Validate(); err != nil {
			return domain.Window{}, err
		}
		return domain.Window{}, fmt.Errorf("next window after %s: %w", w, ErrMisaligned)
	}
	return ws.next(w), nil
}

func (ws *WindowSpec) next(w domain.Window) domain.Window {
	if ws.Every == EveryHour {
		return domain.Window{Start: w.End, End: hourAfter(w.End, ws.loc()).UTC()}
	}
	return ws.align(w.End)
}

// prev returns the window before the aligned window w.
func (ws *WindowSpec) prev(w domain.Window) domain.Window {
	return ws.align(w.Start.Add(-time.Nanosecond))
}

// first returns the first window that starts at or after StartInstant.
func (ws *WindowSpec) first() domain.Window {
	start := ws.StartInstant()
	w := ws.align(start)
	if w.Start.Before(start) {
		w = ws.next(w)
	}
	return w
}

// Closed returns, oldest first, every window w with w.Start >= StartInstant
// and w.End+Lag <= T.
func (ws *WindowSpec) Closed(T time.Time) ([]domain.Window, error) {
	if err := ws.Validate(); err != nil {
		return nil, err
	}
	return ws.closedBetween(time.Time{}, T), nil
}

// closedBetween returns, oldest first, the windows since StartInstant that
// became closed in (after, T]: after < End+Lag <= T. A zero after means
// since the first window.
func (ws *WindowSpec) closedBetween(after, T time.Time) []domain.Window {
	w := ws.first()
	if !after.IsZero() {
		// The window holding after-Lag is the first whose End+Lag > after.
		if a := ws.align(after.Add(-ws.Lag)); a.Start.After(w.Start) {
			w = a
		}
	}
	var out []domain.Window
	for !w.End.Add(ws.Lag).After(T) {
		out = append(out, w)
		w = ws.next(w)
	}
	return out
}

// Latest returns the most recent window closed at T (End+Lag <= T), or
// ErrNoClosedWindow if no window since StartInstant is closed yet.
func (ws *WindowSpec) Latest(T time.Time) (domain.Window, error) {
	if err := ws.Validate(); err != nil {
		return domain.Window{}, err
	}
	w := ws.prev(ws.align(T.Add(-ws.Lag)))
	if w.Start.Before(ws.StartInstant()) {
		return domain.Window{}, fmt.Errorf("latest window at %s: %w", T.UTC().Format(time.RFC3339), ErrNoClosedWindow)
	}
	return w, nil
}

// ErrNotRunnable marks a window that a run now must not export: it lies
// before the spec's Start, or wholly before the source's retention cutoff.
var ErrNotRunnable = errors.New("window cannot be exported")

// Runnable reports why w must not be exported on request, or nil. A window
// before Start is not one of the schedule's windows; a window that ends at
// or before sourceNow-retention (retention > 0) is no longer held by the
// source, so exporting it would archive an empty unit that claims to be
// complete (the catch-up records such windows as lost instead).
func (ws *WindowSpec) Runnable(w domain.Window, retention time.Duration, sourceNow time.Time) error {
	if first := ws.StartInstant(); w.Start.Before(first) {
		return fmt.Errorf("%w: window %s starts before the schedule's window.start %s: it is not one of the schedule's windows",
			ErrNotRunnable, w.ID(), first.In(ws.loc()).Format(time.RFC3339))
	}
	if retention > 0 {
		if cutoff := sourceNow.Add(-retention); !w.End.After(cutoff) {
			return fmt.Errorf("%w: window %s ended at %s, before the source's retention (%s) began at %s: the source no longer holds its rows, so an export would archive an empty unit as complete; the catch-up records such windows as lost",
				ErrNotRunnable, w.ID(), w.End.Format(time.RFC3339), retention, cutoff.Format(time.RFC3339))
		}
	}
	return nil
}
