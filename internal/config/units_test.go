package config

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Duration
		str  string
	}{
		{"90d", 90 * 24 * time.Hour, "90d"},
		{"5y", 5 * 365 * 24 * time.Hour, "5y"},
		{"2h", 2 * time.Hour, "2h"},
		{"2h30m", 150 * time.Minute, "2h30m"},
		{"1d12h", 36 * time.Hour, "1d12h"},
		{"36h", 36 * time.Hour, "1d12h"},
		{"1.5h", 90 * time.Minute, "1h30m"},
		{"90s", 90 * time.Second, "1m30s"},
		{"250ms", 250 * time.Millisecond, "250ms"},
		{"-2h", -2 * time.Hour, "-2h"},
		{"0", 0, "0s"},
		{" 10m ", 10 * time.Minute, "10m"},
		{"1y1d1h1m1s", 366*24*time.Hour + time.Hour + time.Minute + time.Second, "1y1d1h1m1s"},
	} {
		got, err := ParseDuration(c.in)
		if err != nil || got.Std() != c.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", c.in, got.Std(), err, c.want)
			continue
		}
		if got.String() != c.str {
			t.Errorf("Duration(%q).String() = %q, want %q", c.in, got.String(), c.str)
		}
		if back, err := ParseDuration(got.String()); err != nil || back != got {
			t.Errorf("round trip of %q: %v, %v", got.String(), back, err)
		}
	}
	for _, in := range []string{"", "90", "90 days", "d", "5x", "1.2.3h", "-", "h2", "1e3h", "99999999y"} {
		if got, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", in, got)
		}
	}
}

func TestParseSize(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		str  string
	}{
		{"16MiB", 16 << 20, "16MiB"},
		{"2GiB", 2 << 30, "2GiB"},
		{"1536KiB", 1536 << 10, "1536KiB"},
		{"1048576", 1 << 20, "1MiB"},
		{"1000", 1000, "1000B"},
		{"1TiB", 1 << 40, "1TiB"},
		{"5 MiB", 5 << 20, "5MiB"},
		{"0", 0, "0"},
	} {
		got, err := ParseSize(c.in)
		if err != nil || int64(got) != c.want || got.String() != c.str {
			t.Errorf("ParseSize(%q) = %d (%s), %v; want %d (%s)", c.in, got, got, err, c.want, c.str)
		}
	}
	for _, c := range []struct{ in, want string }{
		{"16MB", `invalid size "16MB": use binary units: MiB`},
		{"1.5GiB", `invalid size "1.5GiB": unknown unit ".5GiB" (units: B, KiB, MiB, GiB, TiB)`},
		{"-1MiB", `invalid size "-1MiB": use a whole number with a unit, e.g. 16MiB, 2GiB`},
		{"MiB", `invalid size "MiB": use a whole number with a unit, e.g. 16MiB, 2GiB`},
		{"9999999TiB", `invalid size "9999999TiB": too large`},
	} {
		if got, err := ParseSize(c.in); err == nil || err.Error() != c.want {
			t.Errorf("ParseSize(%q) = %v, %v; want error %s", c.in, got, err, c.want)
		}
	}
}

func TestSuggest(t *testing.T) {
	names := []string{"source", "cron", "timezone", "window", "catch_up", "dedupe_by", "destination"}
	for in, want := range map[string]string{
		"sourse": "source", "soruce": "source", "catch-up": "catch_up", "Timezone": "timezone",
		"time_zone": "timezone", "dest": "", "owner": "", "crn": "cron",
	} {
		if got := suggest(in, names); got != want {
			t.Errorf("suggest(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestDurationRoundTrip: every duration reads back from its String
// exactly, also through JSON (the decoded-schedules cache), including
// long ones whose nanoseconds a float64 sum used to lose.
func TestDurationRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	vals := []Duration{0, 1, -1, Duration(Year) + 1, 5*Duration(Year) + 3*Duration(Day) + 17, math.MaxInt64, -math.MaxInt64, Duration(time.Hour + 1)}
	for range 5000 {
		v := Duration(r.Int64())
		if r.IntN(2) == 0 {
			v = -v
		}
		vals = append(vals, v, v/1_000_003, v>>30)
	}
	for _, d := range vals {
		back, err := ParseDuration(d.String())
		if err != nil || back != d {
			t.Fatalf("ParseDuration(%q) = %d, %v; want %d", d.String(), int64(back), err, int64(d))
		}
		js, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		var j Duration
		if err := json.Unmarshal(js, &j); err != nil || j != d {
			t.Fatalf("JSON %s read back as %d, %v; want %d", js, int64(j), err, int64(d))
		}
	}
}
