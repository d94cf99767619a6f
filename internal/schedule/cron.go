package schedule

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// ErrInvalidCron is wrapped by every error of ParseCron.
var ErrInvalidCron = errors.New("invalid cron expression")

// parser reads five fields (minute hour day-of-month month day-of-week) and
// descriptors such as @daily. No seconds field: exports are minute-grained.
var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Cron is a parsed cron expression bound to a time zone. Its fire instants
// follow the package's DST policy (see the package documentation).
type Cron struct {
	expr string
	loc  *time.Location
	// wall holds the parsed fields with Location UTC: it is only evaluated on
	// naive wall-clock times (see zone.go).
	wall *cron.SpecSchedule
}

// ParseCron parses a five-field cron expression or a descriptor (@yearly,
// @annually, @monthly, @weekly, @daily, @midnight, @hourly) to be evaluated
// in loc; a nil loc means UTC. The zone is the schedule's own setting, so
// CRON_TZ= and TZ= prefixes are refused, and so is @every: an interval has no
// wall-clock anchor, and a run's logical time must not depend on when the
// daemon started. An expression that can never fire (30 2 31 2 *) is refused.
func ParseCron(expr string, loc *time.Location) (*Cron, error) {
	spec := strings.TrimSpace(expr)
	if loc == nil {
		loc = time.UTC
	}
	if strings.HasPrefix(spec, "CRON_TZ=") || strings.HasPrefix(spec, "TZ=") {
		return nil, fmt.Errorf("cron %q: %w: a CRON_TZ=/TZ= prefix is not allowed, set the schedule's timezone instead", expr, ErrInvalidCron)
	}
	if strings.HasPrefix(spec, "@every") {
		return nil, fmt.Errorf("cron %q: %w: @every is not supported (an interval has no wall-clock anchor); use fields such as \"*/15 * * * *\"", expr, ErrInvalidCron)
	}
	s, err := parser.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("cron %q: %w: %w", expr, ErrInvalidCron, err)
	}
	ss, ok := s.(*cron.SpecSchedule)
	if !ok {
		return nil, fmt.Errorf("cron %q: %w: unsupported schedule kind %T", expr, ErrInvalidCron, s)
	}
	wall := *ss
	wall.Location = time.UTC
	if !canFire(&wall) {
		return nil, fmt.Errorf("cron %q: %w: no month has the day of month it names, so it never fires", expr, ErrInvalidCron)
	}
	return &Cron{expr: spec, loc: loc, wall: &wall}, nil
}

// starBit is robfig/cron's marker for a field written as * or ?.
const starBit = 1 << 63

// canFire reports whether some calendar date satisfies the day fields. Only a
// day-of-month restriction combined with an unrestricted day-of-week can be
// impossible (robfig ANDs the two when either is *, ORs them otherwise, and
// every month has every weekday).
func canFire(s *cron.SpecSchedule) bool {
	if s.Dom&starBit != 0 || s.Dow&starBit == 0 {
		return true
	}
	daysIn := [13]uint{0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}
	for m := uint(1); m <= 12; m++ {
		if s.Month&(1<<m) == 0 {
			continue
		}
		for d := uint(1); d <= daysIn[m]; d++ {
			if s.Dom&(1<<d) != 0 {
				return true
			}
		}
	}
	return false
}

// String returns the expression as written (without surrounding spaces).
func (c *Cron) String() string { return c.expr }

// Location returns the zone the expression is evaluated in.
func (c *Cron) Location() *time.Location { return c.loc }

// Equal reports whether c and o fire at the same instants: same expression,
// same zone.
func (c *Cron) Equal(o *Cron) bool {
	if c == nil || o == nil {
		return c == o
	}
	return c.expr == o.expr && c.loc.String() == o.loc.String()
}

// searchYears bounds how far Next looks ahead; "0 0 29 2 *" can wait eight
// years (2096 to 2104).
const searchYears = 15

// Next returns the first fire instant strictly after after, in the cron's
// zone, or the zero time if there is none within 15 years.
func (c *Cron) Next(after time.Time) time.Time {
	// The answer's wall-clock time is at or after after's own (the policy maps
	// wall-clock times to instants monotonically), so start there and skip
	// candidates that land at or before after: the rest of a repeated hour
	// that already fired, or a gap's end when after is that very instant.
	w := wallOf(after, c.loc).Truncate(time.Minute).Add(-time.Second)
	limit := w.AddDate(searchYears, 0, 0)
	for w.Before(limit) {
		w = c.nextWall(w, limit)
		if w.IsZero() {
			return time.Time{}
		}
		if t := resolve(w, c.loc); t.After(after) {
			return t
		}
	}
	return time.Time{}
}

// nextWall returns the first naive wall-clock time after w that matches the
// fields, or zero past limit. robfig's Next gives up after five years, so
// it is asked again from where it stopped.
func (c *Cron) nextWall(w, limit time.Time) time.Time {
	for w.Before(limit) {
		if n := c.wall.Next(w); !n.IsZero() {
			return n
		}
		w = time.Date(w.Year()+5, time.December, 31, 23, 59, 0, 0, time.UTC)
	}
	return time.Time{}
}

// Prev returns the last fire instant strictly before before, or the zero
// time if there is none within about 20 years.
func (c *Cron) Prev(before time.Time) time.Time {
	// Look back over doubling spans until one holds a fire, then walk forward
	// to the last fire before before.
	for back := time.Minute; back < 20*366*24*time.Hour; back *= 2 {
		t := c.Next(before.Add(-back))
		if t.IsZero() || !t.Before(before) {
			continue
		}
		for {
			n := c.Next(t)
			if n.IsZero() || !n.Before(before) {
				return t
			}
			t = n
		}
	}
	return time.Time{}
}
