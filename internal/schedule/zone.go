package schedule

import "time"

// Wall-clock readings are carried as zone-free time.Time values in UTC whose
// fields are the local fields ("naive" times). UTC has no daylight saving
// time, so arithmetic and robfig's Schedule.Next are exact on them.

// wallOf returns the local wall-clock reading of t in loc, as a naive time.
func wallOf(t time.Time, loc *time.Location) time.Time {
	_, off := t.In(loc).Zone()
	return t.Add(time.Duration(off) * time.Second).UTC()
}

// offsetSpan bounds how far apart two instants with the same wall-clock
// reading can be: UTC offsets lie within [-12h, +14h], and Pacific/Apia once
// moved by a whole day. Far enough from a zone change, a wall-clock reading
// occurs exactly once.
const offsetSpan = 27 * time.Hour

// resolve maps a naive wall-clock reading w to an instant in loc by the
// package's DST policy: the first instant at which the clock reads w, or, if
// the clock never reads w (it jumped over it), the instant of that jump.
func resolve(w time.Time, loc *time.Location) time.Time {
	t := time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), w.Nanosecond(), loc)
	// time.Date picks one of two occurrences without saying which, and
	// normalises a gap forward by its length; both only matter near a change.
	start, end := t.ZoneBounds()
	if wallOf(t, loc).Equal(w) &&
		(start.IsZero() || t.Sub(start) > offsetSpan) &&
		(end.IsZero() || end.Sub(t) > offsetSpan) {
		return t
	}
	return resolveNearChange(w, loc, t)
}

type zonePeriod struct {
	start, end time.Time // zero: unbounded
	off        time.Duration
}

func (p zonePeriod) contains(t time.Time) bool {
	return (p.start.IsZero() || !t.Before(p.start)) && (p.end.IsZero() || t.Before(p.end))
}

// resolveNearChange walks every zone period that could hold an instant
// reading w and applies the policy exactly.
func resolveNearChange(w time.Time, loc *time.Location, fallback time.Time) time.Time {
	// Instants reading w lie in [w-14h, w+12h]; so does a jump over w.
	lo, hi := w.Add(-15*time.Hour), w.Add(13*time.Hour)
	var periods []zonePeriod
	for p := lo; len(periods) < 16; {
		l := p.In(loc)
		_, off := l.Zone()
		s, e := l.ZoneBounds()
		periods = append(periods, zonePeriod{start: s, end: e, off: time.Duration(off) * time.Second})
		if e.IsZero() || e.After(hi) {
			break
		}
		p = e
	}
	var first time.Time
	for _, p := range periods {
		if c := w.Add(-p.off); p.contains(c) && (first.IsZero() || c.Before(first)) {
			first = c
		}
	}
	if !first.IsZero() {
		return first.In(loc)
	}
	for i := 1; i < len(periods); i++ {
		change, before, after := periods[i].start, periods[i-1].off, periods[i].off
		if after > before && !w.Before(change.Add(before)) && w.Before(change.Add(after)) {
			return change.In(loc)
		}
	}
	return fallback // unreachable with consistent zone data
}

// startOfDay is the first instant of the local date of the naive time d:
// midnight, or the end of a gap that swallowed midnight.
func startOfDay(d time.Time, loc *time.Location) time.Time {
	return resolve(time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC), loc)
}

// sinceWholeHour is how long ago, on t's own clock, the local clock last read
// a whole hour.
func sinceWholeHour(l time.Time) time.Duration {
	return time.Duration(l.Minute())*time.Minute + time.Duration(l.Second())*time.Second + time.Duration(l.Nanosecond())
}

// hourFloor returns the latest instant <= t at which the local clock reads
// a whole hour (hh:00:00). Every occurrence counts, so a repeated hour is two
// hour windows.
func hourFloor(t time.Time, loc *time.Location) time.Time {
	for range 8 {
		l := t.In(loc)
		s := t.Add(-sinceWholeHour(l))
		ps, _ := l.ZoneBounds()
		if ps.IsZero() || !s.Before(ps) {
			return s
		}
		// No whole hour since this zone period began: look in the previous one.
		t = ps.Add(-time.Nanosecond)
	}
	return t
}

// hourAfter returns the earliest instant > t at which the local clock reads a
// whole hour.
func hourAfter(t time.Time, loc *time.Location) time.Time {
	for range 8 {
		l := t.In(loc)
		e := t.Add(time.Hour - sinceWholeHour(l))
		_, pe := l.ZoneBounds()
		if pe.IsZero() || e.Before(pe) {
			return e
		}
		if lp := pe.In(loc); sinceWholeHour(lp) == 0 {
			return pe
		}
		t = pe
	}
	return t
}
