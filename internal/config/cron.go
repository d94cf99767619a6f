package config

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// standardCron is robfig/cron's ParseStandard: five fields (minute, hour,
// day of month, month, day of week) and descriptors such as @daily.
var standardCron = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// parseStandardCron is LoadOptions.ParseCron's default: the same rules as
// schedule.ParseCron, which owns cron and its DST policy; the app points
// LoadOptions.ParseCron there.
//
// It refuses CRON_TZ= and TZ= prefixes (the schedule's timezone field is
// the one place for a zone) and @every (an interval counted from when the
// daemon started has no stable logical times, so re-runs would not land
// on the same archive keys).
func parseStandardCron(spec string, _ *time.Location) error {
	spec = strings.TrimSpace(spec)
	if strings.HasPrefix(spec, "CRON_TZ=") || strings.HasPrefix(spec, "TZ=") {
		return errors.New("invalid cron expression: a CRON_TZ=/TZ= prefix is not allowed, set the schedule's timezone instead")
	}
	if strings.HasPrefix(spec, "@every") {
		return errors.New("invalid cron expression: @every is not supported (an interval has no wall-clock anchor); use fields such as \"*/15 * * * *\"")
	}
	sched, err := standardCron.Parse(spec)
	if err != nil {
		return fmt.Errorf("invalid cron expression: %w", err)
	}
	// robfig/cron gives up after five years: "0 0 30 2 *" never fires.
	if sched.Next(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		return errors.New("invalid cron expression: it never fires")
	}
	return nil
}
