package schedule

import (
	"errors"
	"fmt"
	"time"

	"github.com/exportd/exportd/internal/domain"
)

// Fire is one upcoming fire of a schedule, for `exportd next`.
type Fire struct {
	// Local is the fire instant in the schedule's zone, UTC the same
	// instant in UTC.
	Local, UTC time.Time
	// Windows are the windows this fire would export if nothing were
	// archived yet: those that became closed since the previous fire
	// (previous fire < End+Lag <= this fire). Nil for a snapshot schedule.
	Windows []domain.Window
}

// Preview returns the next n fires of c strictly after from. ws is nil for
// a snapshot schedule. For the first fire, the previous fire is the last
// one before it (c.Prev), which may lie before from.
func Preview(c *Cron, ws *WindowSpec, from time.Time, n int) ([]Fire, error) {
	if c == nil {
		return nil, errors.New("preview: nil cron")
	}
	if ws != nil {
		if err := ws.Validate(); err != nil {
			return nil, fmt.Errorf("preview: %w", err)
		}
	}
	var fires []Fire
	t := from
	var prev time.Time
	for range max(n, 0) {
		t = c.Next(t)
		if t.IsZero() {
			break
		}
		if prev.IsZero() {
			prev = c.Prev(t)
		}
		f := Fire{Local: t.In(c.Location()), UTC: t.UTC()}
		if ws != nil {
			f.Windows = ws.closedBetween(prev, t)
		}
		fires = append(fires, f)
		prev = t
	}
	return fires, nil
}
