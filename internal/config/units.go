package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Day and Year are the extra duration units config files accept. A year is
// 365 days: retention periods ("5y") are legal periods of record keeping,
// not calendar arithmetic, and a fixed length keeps them comparable.
const (
	Day  = 24 * time.Hour
	Year = 365 * Day
)

// Duration is a time.Duration written as a Go duration with two more units,
// d (24h) and y (365d): "90d", "5y", "2h30m", "1d12h". A bare "0" is zero.
// Negative values parse ("-2h"), so that validation can say which field
// must not be negative.
type Duration time.Duration

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

var durationUnits = map[string]float64{
	"ns": float64(time.Nanosecond),
	"us": float64(time.Microsecond),
	"µs": float64(time.Microsecond),
	"ms": float64(time.Millisecond),
	"s":  float64(time.Second),
	"m":  float64(time.Minute),
	"h":  float64(time.Hour),
	"d":  float64(Day),
	"y":  float64(Year),
}

// ParseDuration parses a config duration (see Duration).
func ParseDuration(s string) (Duration, error) {
	orig := s
	bad := func(why string) (Duration, error) {
		return 0, fmt.Errorf("invalid duration %q: %s; use a number with a unit, e.g. 90d, 5y, 2h, 30m", orig, why)
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return bad("empty")
	}
	neg := false
	if s[0] == '-' || s[0] == '+' {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "0" {
		return 0, nil
	}
	if s == "" {
		return bad("no number")
	}
	// Whole numbers add up exactly in integers, so that ParseDuration
	// (d.String()) == d for every d (a float64 sum lost nanoseconds past
	// 104 days); only a fraction goes through float64, as in
	// time.ParseDuration.
	var total uint64
	tooLarge := func() (Duration, error) { return bad("too large") }
	for s != "" {
		i := 0
		for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
			i++
		}
		if i == 0 {
			return bad("expected a number at " + strconv.Quote(s))
		}
		whole, frac, hasDot := strings.Cut(s[:i], ".")
		if strings.Contains(frac, ".") || (whole == "" && frac == "") {
			return bad("bad number " + strconv.Quote(s[:i]))
		}
		num := s[:i]
		s = s[i:]
		j := 0
		for j < len(s) && !(s[j] >= '0' && s[j] <= '9' || s[j] == '.') {
			j++
		}
		if j == 0 {
			return bad("missing unit")
		}
		unitF, ok := durationUnits[s[:j]]
		if !ok {
			return bad("unknown unit " + strconv.Quote(s[:j]) + " (units: ns, us, ms, s, m, h, d, y)")
		}
		s = s[j:]
		unit := uint64(unitF)
		var v uint64
		if whole != "" {
			w, err := strconv.ParseUint(whole, 10, 64)
			if err != nil || w > math.MaxInt64/unit {
				return tooLarge()
			}
			v = w * unit
		}
		if hasDot && frac != "" {
			f, err := strconv.ParseFloat("0."+frac, 64)
			if err != nil {
				return bad("bad number " + strconv.Quote(num))
			}
			v += uint64(math.Round(f * unitF))
		}
		if v > math.MaxInt64 || total > math.MaxInt64-v {
			return tooLarge()
		}
		total += v
	}
	if neg {
		return Duration(-int64(total)), nil
	}
	return Duration(total), nil
}

// String formats d with the largest units first, e.g. "5y", "90d", "1d12h",
// "2h30m", "1.5s"; zero is "0s". ParseDuration(d.String()) == d.
func (d Duration) String() string {
	if d == 0 {
		return "0s"
	}
	var b strings.Builder
	v := time.Duration(d)
	if v < 0 {
		b.WriteByte('-')
		if v == math.MinInt64 {
			return time.Duration(d).String()
		}
		v = -v
	}
	for _, u := range []struct {
		n string
		d time.Duration
	}{{"y", Year}, {"d", Day}, {"h", time.Hour}, {"m", time.Minute}} {
		if v >= u.d {
			fmt.Fprintf(&b, "%d%s", v/u.d, u.n)
			v %= u.d
		}
	}
	if v > 0 {
		// Seconds and below: Go's own formatting ("1.5s", "250ms").
		b.WriteString(v.String())
	}
	return b.String()
}

// UnmarshalYAML implements yaml.Unmarshaler. It reports problems as
// *yaml.TypeError so that decoding continues and every problem is found.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return typeErr("must be a duration such as 90d or 2h, not " + describeNode(n))
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return typeErr(err.Error())
	}
	*d = v
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// MarshalText implements encoding.TextMarshaler (JSON output).
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler: it reads what
// MarshalText writes (the decoded-schedules cache is JSON).
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Size is a byte count written as an integer with an optional binary unit:
// "16MiB", "2GiB", "512KiB", "1048576". Decimal units (MB, GB) are refused
// because a part size or memory limit that is off by 5% is a real surprise.
type Size int64

var sizeUnits = []struct {
	name string
	n    int64
}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}

// ParseSize parses a config size (see Size).
func ParseSize(s string) (Size, error) {
	orig := s
	s = strings.TrimSpace(s)
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("invalid size %q: use a whole number with a unit, e.g. 16MiB, 2GiB", orig)
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid size %q: too large", orig)
	}
	unit := strings.TrimSpace(s[i:])
	if unit == "" {
		return Size(n), nil
	}
	for _, u := range sizeUnits {
		if unit == u.name {
			if n > math.MaxInt64/u.n {
				return 0, fmt.Errorf("invalid size %q: too large", orig)
			}
			return Size(n * u.n), nil
		}
	}
	switch strings.ToUpper(unit) {
	case "K", "KB":
		return 0, fmt.Errorf("invalid size %q: use binary units: KiB", orig)
	case "M", "MB":
		return 0, fmt.Errorf("invalid size %q: use binary units: MiB", orig)
	case "G", "GB":
		return 0, fmt.Errorf("invalid size %q: use binary units: GiB", orig)
	case "T", "TB":
		return 0, fmt.Errorf("invalid size %q: use binary units: TiB", orig)
	}
	return 0, fmt.Errorf("invalid size %q: unknown unit %q (units: B, KiB, MiB, GiB, TiB)", orig, unit)
}

// String formats s in the largest binary unit that divides it.
func (s Size) String() string {
	if s == 0 {
		return "0"
	}
	for _, u := range sizeUnits {
		if int64(s)%u.n == 0 {
			return strconv.FormatInt(int64(s)/u.n, 10) + u.name
		}
	}
	return strconv.FormatInt(int64(s), 10) + "B"
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (s *Size) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return typeErr("must be a size such as 16MiB, not " + describeNode(n))
	}
	v, err := ParseSize(n.Value)
	if err != nil {
		return typeErr(err.Error())
	}
	*s = v
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (s Size) MarshalYAML() (any, error) { return s.String(), nil }

// MarshalText implements encoding.TextMarshaler (JSON output).
func (s Size) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// typeErr returns a *yaml.TypeError: the decoder collects those and goes
// on, where any other error would stop it at the first problem.
func typeErr(msg string) error { return &yaml.TypeError{Errors: []string{msg}} }
