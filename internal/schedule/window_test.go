package schedule

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/domain"
)

func win(t testing.TB, start, end string) domain.Window {
	t.Helper()
	return domain.Window{Start: ts(t, start), End: ts(t, end)}
}

func weekday(d time.Weekday) *time.Weekday { return &d }

func TestWindowSpecValidate(t *testing.T) {
	base := func() WindowSpec {
		return WindowSpec{Every: EveryDay, Lag: 2 * time.Hour, Start: ts(t, "2027-01-01T00:00:00Z")}
	}
	if err := (&WindowSpec{Every: EveryHour, Start: ts(t, "2027-01-01T00:00:00Z")}).Validate(); err != nil {
		t.Fatalf("minimal spec: %v", err)
	}
	ws := base()
	if err := ws.Validate(); err != nil {
		t.Fatalf("baseline: %v", err)
	}
	tests := []struct {
		name   string
		mutate func(*WindowSpec)
		want   string
	}{
		{"bad every", func(ws *WindowSpec) { ws.Every = "fortnight" }, "every"},
		{"empty every", func(ws *WindowSpec) { ws.Every = "" }, "every"},
		{"negative lag", func(ws *WindowSpec) { ws.Lag = -time.Second }, "lag"},
		{"no start", func(ws *WindowSpec) { ws.Start = time.Time{} }, "start"},
		{"bad week start", func(ws *WindowSpec) { ws.WeekStart = weekday(7) }, "week_start"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ws := base()
			tc.mutate(&ws)
			err := ws.Validate()
			if !errors.Is(err, ErrInvalidWindowSpec) || !containsFold(err.Error(), tc.want) {
				t.Errorf("Validate() = %v, want ErrInvalidWindowSpec naming %q", err, tc.want)
			}
			if _, err := ws.Align(time.Now()); !errors.Is(err, ErrInvalidWindowSpec) {
				t.Errorf("Align on invalid spec = %v, want ErrInvalidWindowSpec", err)
			}
		})
	}
	var nilSpec *WindowSpec
	if err := nilSpec.Validate(); !errors.Is(err, ErrInvalidWindowSpec) {
		t.Errorf("nil spec: %v", err)
	}
}

func TestAlign(t *testing.T) {
	la, london := mustLoc(t, "America/Los_Angeles"), mustLoc(t, "Europe/London")
	start := ts(t, "2020-01-01T00:00:00Z")
	tests := []struct {
		name  string
		ws    WindowSpec
		at    string
		want  domain.Window
		hours float64
	}{
		{"LA day before spring", WindowSpec{Every: EveryDay, Location: la}, "2027-03-13T12:00:00-08:00",
			win(t, "2027-03-13T08:00:00Z", "2027-03-14T08:00:00Z"), 24},
		{"LA spring day is 23h", WindowSpec{Every: EveryDay, Location: la}, "2027-03-14T12:00:00-07:00",
			win(t, "2027-03-14T08:00:00Z", "2027-03-15T07:00:00Z"), 23},
		{"LA fall day is 25h", WindowSpec{Every: EveryDay, Location: la}, "2027-11-07T01:30:00-08:00",
			win(t, "2027-11-07T07:00:00Z", "2027-11-08T08:00:00Z"), 25},
		{"LA day at its first instant", WindowSpec{Every: EveryDay, Location: la}, "2027-11-07T07:00:00Z",
			win(t, "2027-11-07T07:00:00Z", "2027-11-08T08:00:00Z"), 25},
		{"LA day at its last instant", WindowSpec{Every: EveryDay, Location: la}, "2027-11-08T07:59:59.999999999Z",
			win(t, "2027-11-07T07:00:00Z", "2027-11-08T08:00:00Z"), 25},
		{"London spring day is 23h", WindowSpec{Every: EveryDay, Location: london}, "2027-03-28T12:00:00Z",
			win(t, "2027-03-28T00:00:00Z", "2027-03-28T23:00:00Z"), 23},
		{"London fall day is 25h", WindowSpec{Every: EveryDay, Location: london}, "2027-10-31T12:00:00Z",
			win(t, "2027-10-30T23:00:00Z", "2027-11-01T00:00:00Z"), 25},
		{"LA first 01:00 hour (PDT)", WindowSpec{Every: EveryHour, Location: la}, "2027-11-07T08:30:00Z",
			win(t, "2027-11-07T08:00:00Z", "2027-11-07T09:00:00Z"), 1},
		{"LA second 01:00 hour (PST)", WindowSpec{Every: EveryHour, Location: la}, "2027-11-07T09:30:00Z",
			win(t, "2027-11-07T09:00:00Z", "2027-11-07T10:00:00Z"), 1},
		{"LA hour before the gap", WindowSpec{Every: EveryHour, Location: la}, "2027-03-14T09:59:59Z",
			win(t, "2027-03-14T09:00:00Z", "2027-03-14T10:00:00Z"), 1},
		{"LA hour after the gap", WindowSpec{Every: EveryHour, Location: la}, "2027-03-14T10:00:00Z",
			win(t, "2027-03-14T10:00:00Z", "2027-03-14T11:00:00Z"), 1},
		{"Kolkata hour is on the half UTC hour", WindowSpec{Every: EveryHour, Location: mustLoc(t, "Asia/Kolkata")}, "2027-03-14T10:00:00Z",
			win(t, "2027-03-14T09:30:00Z", "2027-03-14T10:30:00Z"), 1},
		{"LA week from Monday", WindowSpec{Every: EveryWeek, Location: la}, "2027-03-14T12:00:00-07:00",
			win(t, "2027-03-08T08:00:00Z", "2027-03-15T07:00:00Z"), 167},
		{"LA week from Sunday", WindowSpec{Every: EveryWeek, Location: la, WeekStart: weekday(time.Sunday)}, "2027-03-14T12:00:00-07:00",
			win(t, "2027-03-14T08:00:00Z", "2027-03-21T07:00:00Z"), 167},
		{"LA week with fall back", WindowSpec{Every: EveryWeek, Location: la}, "2027-11-07T12:00:00-08:00",
			win(t, "2027-11-01T07:00:00Z", "2027-11-08T08:00:00Z"), 169},
		{"LA March", WindowSpec{Every: EveryMonth, Location: la}, "2027-03-31T23:59:00-07:00",
			win(t, "2027-03-01T08:00:00Z", "2027-04-01T07:00:00Z"), 31*24 - 1},
		{"LA November", WindowSpec{Every: EveryMonth, Location: la}, "2027-11-01T00:00:00-07:00",
			win(t, "2027-11-01T07:00:00Z", "2027-12-01T08:00:00Z"), 30*24 + 1},
		{"UTC default", WindowSpec{Every: EveryDay}, "2027-03-14T23:00:00-07:00",
			win(t, "2027-03-15T00:00:00Z", "2027-03-16T00:00:00Z"), 24},
		{"Sao Paulo day with midnight in the gap", WindowSpec{Every: EveryDay, Location: mustLoc(t, "America/Sao_Paulo")}, "2018-11-04T12:00:00-02:00",
			win(t, "2018-11-04T03:00:00Z", "2018-11-05T02:00:00Z"), 23},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.ws.Start = start
			got, err := tc.ws.Align(ts(t, tc.at))
			if err != nil {
				t.Fatal(err)
			}
			if !got.Start.Equal(tc.want.Start) || !got.End.Equal(tc.want.End) {
				t.Errorf("Align = %s, want %s", got, tc.want)
			}
			if h := got.End.Sub(got.Start).Hours(); h != tc.hours {
				t.Errorf("window is %vh, want %vh", h, tc.hours)
			}
			if got.Start.Location() != time.UTC || got.End.Location() != time.UTC {
				t.Errorf("window %v is not in UTC", got)
			}
			if !tc.ws.IsAligned(tc.want) {
				t.Errorf("IsAligned(%s) = false", tc.want)
			}
		})
	}
}

func TestIsAlignedRejects(t *testing.T) {
	la := mustLoc(t, "America/Los_Angeles")
	day := WindowSpec{Every: EveryDay, Location: la, Start: ts(t, "2027-01-01T00:00:00Z")}
	hour := WindowSpec{Every: EveryHour, Location: la, Start: ts(t, "2027-01-01T00:00:00Z")}
	for _, tc := range []struct {
		name string
		ws   WindowSpec
		w    domain.Window
	}{
		{"UTC day on an LA schedule", day, win(t, "2027-03-13T00:00:00Z", "2027-03-14T00:00:00Z")},
		{"24h on the 23h day", day, win(t, "2027-03-14T08:00:00Z", "2027-03-15T08:00:00Z")},
		{"two days", day, win(t, "2027-03-12T08:00:00Z", "2027-03-14T08:00:00Z")},
		{"local 01:00-02:00 on the fall day as one 2h window", hour, win(t, "2027-11-07T08:00:00Z", "2027-11-07T10:00:00Z")},
		{"half hour", hour, win(t, "2027-11-07T08:30:00Z", "2027-11-07T09:30:00Z")},
		{"reversed", day, win(t, "2027-03-14T08:00:00Z", "2027-03-13T08:00:00Z")},
	} {
		if tc.ws.IsAligned(tc.w) {
			t.Errorf("%s: IsAligned(%s) = true", tc.name, tc.w)
		}
		if _, err := tc.ws.Next(tc.w); !errors.Is(err, ErrMisaligned) {
			t.Errorf("%s: Next = %v, want ErrMisaligned", tc.name, err)
		}
	}
}

// TestHourWindowsOnTransitionDays: an hour window is one real hour; the LA
// fall-back day has 25, the spring day 23.
func TestHourWindowsOnTransitionDays(t *testing.T) {
	la := mustLoc(t, "America/Los_Angeles")
	hour := &WindowSpec{Every: EveryHour, Location: la, Start: ts(t, "2027-01-01T00:00:00Z")}
	day := &WindowSpec{Every: EveryDay, Location: la, Start: ts(t, "2027-01-01T00:00:00Z")}
	for at, want := range map[string]int{"2027-03-14T12:00:00-07:00": 23, "2027-11-07T12:00:00-08:00": 25, "2027-06-01T12:00:00-07:00": 24} {
		d, _ := day.Align(ts(t, at))
		w, _ := hour.Align(d.Start)
		n := 0
		for w.Start.Before(d.End) {
			if w.End.Sub(w.Start) != time.Hour {
				t.Errorf("%s: hour window %s is %s long", at, w, w.End.Sub(w.Start))
			}
			n++
			var err error
			if w, err = hour.Next(w); err != nil {
				t.Fatal(err)
			}
		}
		if n != want {
			t.Errorf("day of %s has %d hour windows, want %d", at, n, want)
		}
	}
}

// TestWindowsTile walks windows across a year in zones with unusual changes
// and checks they tile time: no gap, no overlap, every instant aligned to the
// window that holds it.
func TestWindowsTile(t *testing.T) {
	zones := []struct {
		name      string
		year      int
		realHours bool
	}{
		{"America/Los_Angeles", 2027, true}, {"Europe/London", 2027, true}, {"Australia/Lord_Howe", 2027, false},
		{"America/Santiago", 2027, true}, {"America/Sao_Paulo", 2018, true}, {"Pacific/Apia", 2011, true},
		{"Asia/Kolkata", 2027, true}, {"UTC", 2027, true},
	}
	for _, z := range zones {
		for _, every := range []Every{EveryHour, EveryDay, EveryWeek, EveryMonth} {
			t.Run(z.name+"/"+string(every), func(t *testing.T) {
				t.Parallel()
				loc := mustLoc(t, z.name)
				ws := &WindowSpec{Every: every, Location: loc, Start: time.Date(z.year, 1, 1, 0, 0, 0, 0, time.UTC)}
				end := time.Date(z.year+1, 1, 1, 0, 0, 0, 0, loc)
				w, err := ws.Align(ws.StartInstant())
				if err != nil {
					t.Fatal(err)
				}
				if every != EveryWeek && !w.Start.Equal(ws.StartInstant()) {
					t.Fatalf("first window %s does not start at %s", w, ws.StartInstant())
				}
				for w.Start.Before(end) {
					if !w.Start.Before(w.End) {
						t.Fatalf("empty or reversed window %s", w)
					}
					for _, at := range []time.Time{w.Start, w.Start.Add(w.End.Sub(w.Start) / 2), w.End.Add(-time.Nanosecond)} {
						if a, _ := ws.Align(at); a != w {
							t.Fatalf("Align(%s) = %s, want %s", at, a, w)
						}
					}
					if every == EveryHour && z.realHours && w.End.Sub(w.Start) != time.Hour {
						t.Fatalf("hour window %s is %s long", w, w.End.Sub(w.Start))
					}
					if every != EveryHour {
						// Calendar windows start on the first instant of a local date.
						if l := w.Start.In(loc); l.Add(-time.Nanosecond).Day() == l.Day() {
							t.Fatalf("window %s does not start a local date (%s)", w, l)
						}
					}
					next, err := ws.Next(w)
					if err != nil {
						t.Fatal(err)
					}
					if !next.Start.Equal(w.End) {
						t.Fatalf("gap or overlap: %s then %s", w, next)
					}
					w = next
				}
			})
		}
	}
}

func TestApiaSkipsDecember30(t *testing.T) {
	apia := mustLoc(t, "Pacific/Apia")
	ws := &WindowSpec{Every: EveryDay, Location: apia, Start: ts(t, "2011-12-01T00:00:00Z")}
	w, _ := ws.Align(time.Date(2011, 12, 29, 12, 0, 0, 0, apia))
	next, err := ws.Next(w)
	if err != nil {
		t.Fatal(err)
	}
	if got := next.Start.In(apia).Format("2006-01-02"); got != "2011-12-31" {
		t.Errorf("day after 2011-12-29 in Apia starts on %s, want 2011-12-31", got)
	}
}

func TestStartInstant(t *testing.T) {
	la := mustLoc(t, "America/Los_Angeles")
	for _, tc := range []struct {
		name  string
		start time.Time
		want  string
	}{
		{"date decoded as UTC midnight", time.Date(2027, 3, 12, 0, 0, 0, 0, time.UTC), "2027-03-12T08:00:00Z"},
		{"same date in the zone", time.Date(2027, 3, 12, 0, 0, 0, 0, la), "2027-03-12T08:00:00Z"},
		{"time in the spring gap", time.Date(2027, 3, 14, 2, 30, 0, 0, time.UTC), "2027-03-14T10:00:00Z"},
		{"repeated time", time.Date(2027, 11, 7, 1, 30, 0, 0, time.UTC), "2027-11-07T08:30:00Z"},
	} {
		ws := &WindowSpec{Every: EveryDay, Location: la, Start: tc.start}
		if got := ws.StartInstant().UTC().Format(time.RFC3339); got != tc.want {
			t.Errorf("%s: StartInstant = %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestClosedAndLatest(t *testing.T) {
	la := mustLoc(t, "America/Los_Angeles")
	ws := &WindowSpec{Every: EveryDay, Lag: 2 * time.Hour, Location: la, Start: time.Date(2027, 3, 12, 0, 0, 0, 0, time.UTC)}
	days := []domain.Window{
		win(t, "2027-03-12T08:00:00Z", "2027-03-13T08:00:00Z"),
		win(t, "2027-03-13T08:00:00Z", "2027-03-14T08:00:00Z"),
		win(t, "2027-03-14T08:00:00Z", "2027-03-15T07:00:00Z"),
	}
	tests := []struct {
		at   string
		want []domain.Window
	}{
		{"2027-03-13T09:59:59Z", nil},      // first day ends 08:00Z, closes 10:00Z
		{"2027-03-13T10:00:00Z", days[:1]}, // End+Lag <= T is inclusive
		{"2027-03-15T08:59:00Z", days[:2]}, // the 23h day ends 07:00Z, closes 09:00Z
		{"2027-03-15T09:00:00Z", days},     //
		{"2027-03-16T08:59:00Z", days},     // next closes at 03-16T09:00Z (07:00Z + 2h)
		{"2027-03-01T00:00:00Z", nil},      // before Start
	}
	for _, tc := range tests {
		got, err := ws.Closed(ts(t, tc.at))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("Closed(%s) = %v, want %v", tc.at, got, tc.want)
		}
		latest, err := ws.Latest(ts(t, tc.at))
		switch {
		case len(tc.want) == 0 && !errors.Is(err, ErrNoClosedWindow):
			t.Errorf("Latest(%s) = %v, %v; want ErrNoClosedWindow", tc.at, latest, err)
		case len(tc.want) > 0 && (err != nil || latest != tc.want[len(tc.want)-1]):
			t.Errorf("Latest(%s) = %v, %v; want %v", tc.at, latest, err, tc.want[len(tc.want)-1])
		}
	}

	// A Start that is not aligned begins with the next window.
	mid := *ws
	mid.Start = time.Date(2027, 3, 12, 6, 0, 0, 0, time.UTC)
	got, _ := mid.Closed(ts(t, "2027-03-15T09:00:00Z"))
	if !slices.Equal(got, days[1:]) {
		t.Errorf("Closed with Start 06:00 = %v, want %v", got, days[1:])
	}
}

func TestClosedHoursOnFallBack(t *testing.T) {
	la := mustLoc(t, "America/Los_Angeles")
	ws := &WindowSpec{Every: EveryHour, Location: la, Start: time.Date(2027, 11, 7, 0, 0, 0, 0, time.UTC)}
	got, err := ws.Closed(ts(t, "2027-11-07T02:00:00-08:00"))
	if err != nil {
		t.Fatal(err)
	}
	want := []domain.Window{
		win(t, "2027-11-07T07:00:00Z", "2027-11-07T08:00:00Z"), // 00:00 PDT
		win(t, "2027-11-07T08:00:00Z", "2027-11-07T09:00:00Z"), // 01:00 PDT
		win(t, "2027-11-07T09:00:00Z", "2027-11-07T10:00:00Z"), // 01:00 PST
	}
	if !slices.Equal(got, want) {
		t.Errorf("Closed = %v, want %v", got, want)
	}
}

// TestRunnable: a run now of a window before window.start, or of one the
// source no longer holds, is refused with the reason; the first window and
// one straddling the retention cutoff are not.
func TestRunnable(t *testing.T) {
	ws := &WindowSpec{Every: EveryDay, Start: ts(t, "2026-09-01T00:00:00Z")}
	now := ts(t, "2026-12-07T04:00:00Z")
	day := func(s string) domain.Window {
		w, err := ws.Align(ts(t, s))
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	for _, tc := range []struct {
		name, start string
		retention   time.Duration
		want        string
	}{
		{"epoch", "1970-01-01T00:00:00Z", 0, "before the schedule's window.start"},
		{"2020", "2020-01-01T00:00:00Z", 0, "before the schedule's window.start"},
		{"year one", "0001-01-01T00:00:00Z", 0, "before the schedule's window.start"},
		{"past retention", "2026-10-01T00:00:00Z", 30 * 24 * time.Hour, "before the source's retention"},
		{"ends at the cutoff", "2026-11-06T00:00:00Z", 30*24*time.Hour + 4*time.Hour, "before the source's retention"},
		{"first window", "2026-09-01T00:00:00Z", 0, ""},
		{"straddles the cutoff", "2026-11-07T00:00:00Z", 30 * 24 * time.Hour, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ws.Runnable(day(tc.start), tc.retention, now)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && (!errors.Is(err, ErrNotRunnable) || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("err %v, want ErrNotRunnable saying %q", err, tc.want)
			}
		})
	}
}
