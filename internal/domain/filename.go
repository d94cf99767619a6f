package domain

import (
	"fmt"
	"strings"
	"time"
)

// FilenameTemplate names a unit's object (without extension). Placeholders:
//
//	{schedule}            the schedule name
//	{id}                  the unit id (window id, or logical time for a snapshot)
//	{window_start}        window start, UTC, IDLayout (windowed schedules only;
//	                      the logical time for an adhoc snapshot)
//	{window_end}          window end, UTC, IDLayout (windowed schedules only;
//	                      the logical time for an adhoc snapshot)
//	{logical}             logical time, UTC, IDLayout
//	{logical:LAYOUT}      logical time in the schedule's zone, Go layout
//	{window_start:LAYOUT} window start in the schedule's zone, Go layout
//
// Sigma's "prefix the file name with the current date and time" is
// "{logical:2006-01-02_150405}_{schedule}". A template must make the name
// unique per unit: windowed schedules need {id}, {window_start} or
// {window_start:...} with at least minute resolution; snapshots need {id} or
// {logical...}. A local layout whose wall clock happens twice (the hour
// repeated when daylight saving time ends) is followed by the UTC offset,
// e.g. "01:30-0700" and "01:30-0800", unless the layout prints the zone.
type FilenameTemplate struct {
	src   string
	parts []tplPart
}

type tplPart struct {
	lit    string
	field  string // "" for a literal
	layout string
}

var tplFields = map[string]bool{
	"schedule": true, "id": true, "window_start": true, "window_end": true, "logical": true,
}

// ParseFilename parses and checks a template. windowed says whether the
// schedule exports windows.
func ParseFilename(src string, windowed bool) (*FilenameTemplate, error) {
	if src == "" {
		src = DefaultFilename
	}
	t := &FilenameTemplate{src: src}
	rest := src
	for rest != "" {
		i := strings.IndexAny(rest, "{}")
		if i < 0 {
			t.parts = append(t.parts, tplPart{lit: rest})
			break
		}
		if rest[i] == '}' {
			return nil, fmt.Errorf("filename %q: unmatched '}'", src)
		}
		if i > 0 {
			t.parts = append(t.parts, tplPart{lit: rest[:i]})
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return nil, fmt.Errorf("filename %q: unclosed '{'", src)
		}
		body := rest[i+1 : i+j]
		name, layout, _ := strings.Cut(body, ":")
		if !tplFields[name] {
			return nil, fmt.Errorf("filename %q: unknown placeholder {%s}; use {schedule}, {id}, {window_start}, {window_end} or {logical}", src, name)
		}
		if layout != "" && name != "logical" && name != "window_start" {
			return nil, fmt.Errorf("filename %q: {%s} takes no layout", src, name)
		}
		if !windowed && (name == "window_start" || name == "window_end") {
			return nil, fmt.Errorf("filename %q: {%s} needs a window; this schedule exports snapshots", src, name)
		}
		t.parts = append(t.parts, tplPart{field: name, layout: layout})
		rest = rest[i+j+1:]
	}
	unique := false
	for _, p := range t.parts {
		switch {
		case p.field == "id":
			unique = true
		case windowed && p.field == "window_start":
			unique = unique || p.layout == "" || minuteResolution(p.layout)
		case !windowed && p.field == "logical":
			unique = unique || p.layout == "" || secondResolution(p.layout)
		}
	}
	if !unique {
		if windowed {
			return nil, fmt.Errorf("filename %q: must contain {id} or {window_start} so that each window gets its own object", src)
		}
		return nil, fmt.Errorf("filename %q: must contain {id} or {logical} (with seconds) so that each run gets its own object", src)
	}
	// A trial expansion catches separators and other bad characters early.
	ref := time.Date(2024, 3, 16, 7, 0, 0, 0, time.UTC)
	u := Unit{Schedule: "x", Logical: ref}
	if windowed {
		u.Window = Window{Start: ref, End: ref.Add(time.Hour)}
	}
	if _, err := t.Execute(u, time.UTC); err != nil {
		return nil, err
	}
	return t, nil
}

func minuteResolution(layout string) bool {
	// A 12-hour clock needs its AM/PM marker, or 01:00 and 13:00 of one
	// day get the same name.
	hour := strings.Contains(layout, "15") ||
		strings.Contains(layout, "3") && (strings.Contains(layout, "PM") || strings.Contains(layout, "pm"))
	return strings.Contains(layout, "04") && hour
}

// hasClock reports whether a layout prints the hour.
func hasClock(layout string) bool {
	return strings.Contains(layout, "15") || strings.Contains(layout, "3")
}

// hasZone reports whether a layout prints the zone or its offset.
func hasZone(layout string) bool {
	return strings.Contains(layout, "-07") || strings.Contains(layout, "Z07") || strings.Contains(layout, "MST")
}

// repeatedWallClock reports whether t's wall clock in loc also names another
// instant: the hour repeated when daylight saving time ends (01:30 happens
// twice in America/Los_Angeles on 2027-11-07).
func repeatedWallClock(t time.Time, loc *time.Location) bool {
	_, off := t.In(loc).Zone()
	for d := 15 * time.Minute; d <= 3*time.Hour; d += 15 * time.Minute {
		for _, u := range []time.Time{t.Add(-d), t.Add(d)} {
			// u shows the same wall clock as t when its offset differs from
			// t's by exactly the distance between them.
			if _, o := u.In(loc).Zone(); time.Duration(o-off)*time.Second == t.Sub(u) {
				return true
			}
		}
	}
	return false
}

func secondResolution(layout string) bool {
	return minuteResolution(layout) && strings.Contains(layout, "05")
}

// String returns the template source.
func (t *FilenameTemplate) String() string { return t.src }

// Execute expands the template for u; layouts are formatted in loc.
func (t *FilenameTemplate) Execute(u Unit, loc *time.Location) (string, error) {
	if loc == nil {
		loc = time.UTC
	}
	var b strings.Builder
	for _, p := range t.parts {
		switch p.field {
		case "":
			b.WriteString(p.lit)
		case "schedule":
			b.WriteString(u.Schedule)
		case "id":
			b.WriteString(u.ID())
		case "window_start", "window_end", "logical":
			// A snapshot of a windowed schedule (adhoc) has no window: its
			// window placeholders name its logical time, or every adhoc
			// run of a day would get the same name (year 0000).
			ts := u.Logical
			if p.field == "window_start" && !u.Window.IsZero() {
				ts = u.Window.Start
			} else if p.field == "window_end" && !u.Window.IsZero() {
				ts = u.Window.End
			}
			if p.layout == "" {
				b.WriteString(ts.UTC().Format(IDLayout))
			} else {
				b.WriteString(ts.In(loc).Format(p.layout))
				// A local time that happens twice (the repeated hour when
				// daylight saving time ends) is followed by its UTC offset,
				// so that the two instants never share an object name.
				if hasClock(p.layout) && !hasZone(p.layout) && repeatedWallClock(ts, loc) {
					b.WriteString(ts.In(loc).Format("-0700"))
				}
			}
		}
	}
	name := b.String()
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, "_") {
		return "", fmt.Errorf("filename %q expands to %q: a file name cannot be empty, start with '_' or contain '/' or '\\'", t.src, name)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return "", fmt.Errorf("filename %q expands to %q: control characters are not allowed", t.src, name)
		}
	}
	return name, nil
}
