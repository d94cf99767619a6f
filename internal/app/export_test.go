package app

import (
	"context"
	"time"
)

// FireCron is a cron fire of a schedule, for tests: the scheduler's fires
// follow the wall clock.
func (d *Daemon) FireCron(ctx context.Context, name string, logical time.Time) (FireResult, error) {
	return d.fire(ctx, name, logical, "cron")
}
