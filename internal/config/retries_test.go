package config_test

import (
	"testing"
	"time"

	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/schedule"
)

// TestRetriesBackoff: the retry policy the scheduler gets has at least one
// attempt, 30s when no initial delay is set, and a cap no lower than it.
func TestRetriesBackoff(t *testing.T) {
	for _, c := range []struct {
		in   config.Retries
		want schedule.Backoff
	}{
		{config.Retries{}, schedule.Backoff{Attempts: 1, Initial: 30 * time.Second, Max: 30 * time.Second}},
		{config.Retries{Attempts: 3, Initial: config.Duration(time.Minute), Max: config.Duration(10 * time.Second)},
			schedule.Backoff{Attempts: 3, Initial: time.Minute, Max: time.Minute}},
		{config.Retries{Attempts: 5, Initial: config.Duration(time.Second), Max: config.Duration(time.Hour)},
			schedule.Backoff{Attempts: 5, Initial: time.Second, Max: time.Hour}},
	} {
		if got := c.in.Backoff(); got != c.want {
			t.Errorf("%+v.Backoff() = %+v, want %+v", c.in, got, c.want)
		}
	}
}
