package schedule

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseCron(t *testing.T) {
	la := mustLoc(t, "America/Los_Angeles")
	valid := []string{
		"30 2 * * *", "*/15 * * * *", "0 9 * * mon-fri", "0 0 1 jan,jul *", " 0 0 29 2 * ",
		"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly",
		"0 0 31 * *", "0 0 30 2 1", // day-of-month OR day-of-week: Mondays in February
	}
	for _, expr := range valid {
		c, err := ParseCron(expr, la)
		if err != nil {
			t.Errorf("ParseCron(%q): %v", expr, err)
			continue
		}
		if c.Location() != la {
			t.Errorf("ParseCron(%q).Location() = %v, want %v", expr, c.Location(), la)
		}
	}
	invalid := []struct{ expr, want string }{
		{"", "empty"},
		{"CRON_TZ=UTC 0 0 * * *", "CRON_TZ"},
		{"TZ=Europe/London 0 0 * * *", "TZ="},
		{"@every 1h", "@every"},
		{"@reboot", "unrecognized descriptor"},
		{"0 0 0 * * *", "expected exactly 5 fields"},
		{"* * * *", "expected exactly 5 fields"},
		{"60 * * * *", "above maximum"},
		{"0 24 * * *", "above maximum"},
		{"0 0 * * 7", "above maximum"},
		{"0 0 30 2 *", "never fires"},
		{"0 0 31 4,6,9,11 *", "never fires"},
	}
	for _, tc := range invalid {
		_, err := ParseCron(tc.expr, la)
		if err == nil {
			t.Errorf("ParseCron(%q) = nil error, want one containing %q", tc.expr, tc.want)
			continue
		}
		if !errors.Is(err, ErrInvalidCron) {
			t.Errorf("ParseCron(%q) error %v does not wrap ErrInvalidCron", tc.expr, err)
		}
		if !containsFold(err.Error(), tc.want) {
			t.Errorf("ParseCron(%q) error %q, want it to contain %q", tc.expr, err, tc.want)
		}
	}
	c, err := ParseCron("@daily", nil)
	if err != nil || c.Location() != time.UTC {
		t.Errorf("ParseCron with nil location = %v, %v; want UTC", c, err)
	}
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

// TestNextDST pins the written DST policy on the transitions of 2027:
// America/Los_Angeles 2027-03-14 (02:00 PST -> 03:00 PDT at 10:00Z) and
// 2027-11-07 (02:00 PDT -> 01:00 PST at 09:00Z); Europe/London 2027-03-28
// (01:00 GMT -> 02:00 BST at 01:00Z) and 2027-10-31 (02:00 BST -> 01:00 GMT
// at 01:00Z).
func TestNextDST(t *testing.T) {
	tests := []struct {
		zone, expr, from string
		want             []string
	}{
		// Nonexistent daily time: fires at the end of the gap, the day is not skipped.
		{"America/Los_Angeles", "30 2 * * *", "2027-03-12T00:00:00-08:00",
			[]string{"2027-03-12T10:30:00Z", "2027-03-13T10:30:00Z", "2027-03-14T10:00:00Z", "2027-03-15T09:30:00Z"}},
		{"Europe/London", "30 1 * * *", "2027-03-27T00:00:00Z",
			[]string{"2027-03-27T01:30:00Z", "2027-03-28T01:00:00Z", "2027-03-29T00:30:00Z"}},
		// A whole-hour nonexistent time, and one that lands on an existing one: one fire.
		{"America/Los_Angeles", "0 2,3 * * *", "2027-03-14T00:00:00-08:00",
			[]string{"2027-03-14T10:00:00Z", "2027-03-15T09:00:00Z", "2027-03-15T10:00:00Z"}},
		// Repeated daily time: once, at the first (daylight) occurrence.
		{"America/Los_Angeles", "30 1 * * *", "2027-11-05T00:00:00-07:00",
			[]string{"2027-11-05T08:30:00Z", "2027-11-06T08:30:00Z", "2027-11-07T08:30:00Z", "2027-11-08T09:30:00Z"}},
		{"Europe/London", "30 1 * * *", "2027-10-30T00:00:00+01:00",
			[]string{"2027-10-30T00:30:00Z", "2027-10-31T00:30:00Z", "2027-11-01T01:30:00Z"}},
		// 02:30 exists once on the fall-back day (after the repeat).
		{"America/Los_Angeles", "30 2 * * *", "2027-11-06T00:00:00-07:00",
			[]string{"2027-11-06T09:30:00Z", "2027-11-07T10:30:00Z", "2027-11-08T10:30:00Z"}},
		// Starting inside the second occurrence of the repeated hour: already fired.
		{"America/Los_Angeles", "30 1 * * *", "2027-11-07T09:15:00Z",
			[]string{"2027-11-08T09:30:00Z"}},
		{"America/Los_Angeles", "*/15 * * * *", "2027-11-07T09:15:00Z",
			[]string{"2027-11-07T10:00:00Z", "2027-11-07T10:15:00Z"}},
		// Hourly across the gap: 01:00 PST, then 03:00 PDT (02:00 lands there too).
		{"America/Los_Angeles", "0 * * * *", "2027-03-14T00:30:00-08:00",
			[]string{"2027-03-14T09:00:00Z", "2027-03-14T10:00:00Z", "2027-03-14T11:00:00Z"}},
		{"Europe/London", "0 * * * *", "2027-03-28T00:30:00Z",
			[]string{"2027-03-28T01:00:00Z", "2027-03-28T02:00:00Z"}},
		// Hourly across the repeat: 01:00 PDT fires, 01:00 PST does not.
		{"America/Los_Angeles", "0 * * * *", "2027-11-07T00:30:00-07:00",
			[]string{"2027-11-07T08:00:00Z", "2027-11-07T10:00:00Z", "2027-11-07T11:00:00Z"}},
		{"Europe/London", "0 * * * *", "2027-10-31T00:30:00+01:00",
			[]string{"2027-10-31T00:00:00Z", "2027-10-31T02:00:00Z"}},
		// Every 15 minutes: 02:00-02:45 collapse onto 03:00 PDT.
		{"America/Los_Angeles", "*/15 * * * *", "2027-03-14T01:30:00-08:00",
			[]string{"2027-03-14T09:45:00Z", "2027-03-14T10:00:00Z", "2027-03-14T10:15:00Z"}},
		{"America/Los_Angeles", "*/15 * * * *", "2027-11-07T01:30:00-07:00",
			[]string{"2027-11-07T08:45:00Z", "2027-11-07T10:00:00Z", "2027-11-07T10:15:00Z"}},
		// From exactly the gap's end.
		{"America/Los_Angeles", "*/15 * * * *", "2027-03-14T10:00:00Z",
			[]string{"2027-03-14T10:15:00Z"}},
		// Specs whose only time in the year falls in the gap still fire that year.
		{"America/Los_Angeles", "30 2 14 3 *", "2027-01-01T00:00:00-08:00",
			[]string{"2027-03-14T10:00:00Z", "2028-03-14T09:30:00Z"}},
		{"Europe/London", "30 1 28 3 *", "2027-01-01T00:00:00Z",
			[]string{"2027-03-28T01:00:00Z", "2028-03-28T00:30:00Z"}},
		{"America/Los_Angeles", "45 2 * 3 0", "2027-03-01T00:00:00-08:00", // Sundays in March
			[]string{"2027-03-07T10:45:00Z", "2027-03-14T10:00:00Z", "2027-03-21T09:45:00Z"}},
		// Feb 29 waits eight years across 2100.
		{"UTC", "0 0 29 2 *", "2096-03-01T00:00:00Z",
			[]string{"2104-02-29T00:00:00Z"}},
	}
	for _, tc := range tests {
		t.Run(tc.zone+" "+tc.expr+" from "+tc.from, func(t *testing.T) {
			loc := mustLoc(t, tc.zone)
			c := mustCron(t, tc.expr, loc)
			at := ts(t, tc.from)
			var got []time.Time
			for range tc.want {
				at = c.Next(at)
				got = append(got, at)
			}
			if g := utcStrings(got); !slices.Equal(g, tc.want) {
				t.Errorf("fires\n got %v\nwant %v", g, tc.want)
			}
			for _, f := range got {
				if f.Location() != loc {
					t.Errorf("fire %v is not in %v", f, loc)
				}
			}
		})
	}
}

// TestFiresPerDay counts fires per local day on transition days.
func TestFiresPerDay(t *testing.T) {
	tests := []struct {
		zone, day, expr string
		want            int
	}{
		{"America/Los_Angeles", "2027-03-13", "0 * * * *", 24},
		{"America/Los_Angeles", "2027-03-14", "0 * * * *", 23},
		{"America/Los_Angeles", "2027-11-07", "0 * * * *", 24},
		{"Europe/London", "2027-03-28", "0 * * * *", 23},
		{"Europe/London", "2027-10-31", "0 * * * *", 24},
		{"America/Los_Angeles", "2027-03-14", "*/15 * * * *", 92},
		{"America/Los_Angeles", "2027-11-07", "*/15 * * * *", 96},
		{"Europe/London", "2027-03-28", "*/15 * * * *", 92},
		{"Europe/London", "2027-10-31", "*/15 * * * *", 96},
		{"America/Los_Angeles", "2027-03-14", "* 2 * * *", 1},
		{"America/Los_Angeles", "2027-11-07", "* 1 * * *", 60},
		{"America/Los_Angeles", "2027-03-14", "30 2 * * *", 1},
		{"America/Los_Angeles", "2027-11-07", "30 1 * * *", 1},
	}
	for _, tc := range tests {
		t.Run(tc.zone+" "+tc.day+" "+tc.expr, func(t *testing.T) {
			loc := mustLoc(t, tc.zone)
			c := mustCron(t, tc.expr, loc)
			d, err := time.ParseInLocation("2006-01-02", tc.day, loc)
			if err != nil {
				t.Fatal(err)
			}
			end := time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, loc)
			n := 0
			for f := c.Next(d.Add(-time.Nanosecond)); f.Before(end); f = c.Next(f) {
				n++
			}
			if n != tc.want {
				t.Errorf("%d fires, want %d", n, tc.want)
			}
		})
	}
}

// transitions returns the zone changes of loc in [from, to).
func transitions(loc *time.Location, from, to time.Time) []time.Time {
	var out []time.Time
	for t := from; t.Before(to); {
		_, e := t.In(loc).ZoneBounds()
		if e.IsZero() || !e.Before(to) {
			break
		}
		out = append(out, e)
		t = e
	}
	return out
}

// oracleFires applies the DST policy by brute force: it walks real time
// minute by minute and watches the wall clock. An instant fires when its
// reading matches and the clock shows it for the first time, or when the
// clock has just jumped over a matching reading.
func oracleFires(c *Cron, from, to time.Time) []time.Time {
	matches := func(w time.Time) bool { return c.wall.Next(w.Add(-time.Second)).Equal(w) }
	var out []time.Time
	prev := wallOf(from.Add(-time.Minute), c.loc)
	highest := prev
	for t := from; t.Before(to); t = t.Add(time.Minute) {
		w := wallOf(t, c.loc)
		fire := w.After(highest) && matches(w)
		for g := prev.Add(time.Minute); !fire && g.Before(w); g = g.Add(time.Minute) {
			fire = g.After(highest) && matches(g)
		}
		if fire {
			out = append(out, t)
		}
		if w.After(highest) {
			highest = w
		}
		prev = w
	}
	return out
}

// TestNextMatchesOracle compares Next with the brute-force oracle around
// every zone change of a year, in zones with unusual changes: half-hour
// (Lord Howe), midnight skipped (Sao Paulo 2018, Santiago), midnight repeated
// (Santiago, Sao Paulo), a whole day skipped (Apia 2011).
func TestNextMatchesOracle(t *testing.T) {
	zones := []struct {
		name string
		year int
	}{
		{"America/Los_Angeles", 2027}, {"Europe/London", 2027}, {"Australia/Lord_Howe", 2027},
		{"Australia/Sydney", 2027}, {"America/Santiago", 2027}, {"America/Sao_Paulo", 2018},
		{"Pacific/Apia", 2011}, {"Asia/Kolkata", 2027}, {"UTC", 2027},
	}
	specs := []string{
		"30 2 * * *", "30 1 * * *", "0 * * * *", "*/15 * * * *", "0 0 * * *", "59 23 * * *",
		"30 0 * * *", "*/7 1-3 * * *", "0 0 * * 0", "* 2 * * *", "15,45 0,1,2 * * *",
	}
	for _, z := range zones {
		t.Run(z.name, func(t *testing.T) {
			t.Parallel()
			loc := mustLoc(t, z.name)
			from := time.Date(z.year, 1, 1, 0, 0, 0, 0, time.UTC)
			changes := transitions(loc, from, from.AddDate(1, 0, 0))
			if len(changes) == 0 {
				// No change: check two plain days.
				changes = []time.Time{from.AddDate(0, 6, 0)}
			}
			for _, expr := range specs {
				c := mustCron(t, expr, loc)
				for _, ch := range changes {
					lo, hi := ch.Add(-50*time.Hour).Truncate(time.Hour), ch.Add(50*time.Hour)
					want := oracleFires(c, lo, hi)
					var got []time.Time
					for f := c.Next(lo.Add(-time.Nanosecond)); !f.IsZero() && f.Before(hi); f = c.Next(f) {
						got = append(got, f)
					}
					if g, w := utcStrings(got), utcStrings(want); !slices.Equal(g, w) {
						t.Errorf("%q around %s:\n got %v\nwant %v", expr, ch.UTC(), g, w)
					}
				}
			}
		})
	}
}

// TestPrev checks Prev against Next: the previous fire is a fire, before the
// given instant, with no fire in between.
func TestPrev(t *testing.T) {
	for _, zone := range []string{"America/Los_Angeles", "Europe/London", "Australia/Lord_Howe"} {
		loc := mustLoc(t, zone)
		for _, expr := range []string{"30 2 * * *", "30 1 * * *", "0 * * * *", "*/15 * * * *", "0 0 1 * *", "0 0 29 2 *"} {
			c := mustCron(t, expr, loc)
			for _, ch := range transitions(loc, ts(t, "2027-01-01T00:00:00Z"), ts(t, "2028-01-01T00:00:00Z")) {
				for d := -3 * time.Hour; d <= 3*time.Hour; d += 7 * time.Minute {
					at := ch.Add(d)
					p := c.Prev(at)
					if p.IsZero() || !p.Before(at) {
						t.Fatalf("%s %q: Prev(%s) = %s, want a fire before it", zone, expr, at.UTC(), p.UTC())
					}
					if n := c.Next(p); n.Before(at) {
						t.Fatalf("%s %q: Prev(%s) = %s, but %s fires in between", zone, expr, at.UTC(), p.UTC(), n.UTC())
					}
					if back := c.Next(p.Add(-time.Nanosecond)); !back.Equal(p) {
						t.Fatalf("%s %q: Prev(%s) = %s is not a fire (Next before it is %s)", zone, expr, at.UTC(), p.UTC(), back.UTC())
					}
				}
			}
		}
	}
}

func ExampleCron_Next() {
	la, _ := time.LoadLocation("America/Los_Angeles")
	c, _ := ParseCron("30 2 * * *", la)
	at := time.Date(2027, 3, 13, 12, 0, 0, 0, la)
	for range 3 {
		at = c.Next(at)
		fmt.Println(at.Format("2006-01-02 15:04 MST"), at.UTC().Format(time.RFC3339))
	}
	// Output:
	// 2027-03-14 03:00 PDT 2027-03-14T10:00:00Z
	// 2027-03-15 02:30 PDT 2027-03-15T09:30:00Z
	// 2027-03-16 02:30 PDT 2027-03-16T09:30:00Z
}
