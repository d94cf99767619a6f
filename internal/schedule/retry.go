package schedule

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// ErrInvalidBackoff is wrapped by Backoff.Validate errors.
var ErrInvalidBackoff = errors.New("invalid backoff")

// Backoff is an exponential backoff with full jitter: before attempt n+1
// Retry waits a uniformly random duration in [0, min(Max, Initial*2^(n-1))].
// Full jitter spreads the retries of many schedules that failed together
// (a warehouse outage) instead of having them retry in lockstep.
type Backoff struct {
	Initial, Max time.Duration
	// Attempts is the total number of calls, the first one included.
	Attempts int
}

// Validate names the first bad field.
func (b Backoff) Validate() error {
	switch {
	case b.Attempts < 1:
		return fmt.Errorf("%w: attempts: must be >= 1, got %d", ErrInvalidBackoff, b.Attempts)
	case b.Initial <= 0:
		return fmt.Errorf("%w: initial: must be > 0, got %s", ErrInvalidBackoff, b.Initial)
	case b.Max < b.Initial:
		return fmt.Errorf("%w: max: must be >= initial (%s), got %s", ErrInvalidBackoff, b.Initial, b.Max)
	}
	return nil
}

// Ceiling is the largest wait after failed attempt n (1-based).
func (b Backoff) Ceiling(n int) time.Duration {
	d := b.Initial
	for i := 1; i < n && d < b.Max; i++ {
		d *= 2
	}
	return min(d, b.Max)
}

// Retry calls fn with attempt = 1, 2, ... until it returns nil, returns an
// error that retryable rejects (nil retryable: every error is retryable),
// b.Attempts calls have been made, or ctx is done while waiting. The error
// returned wraps fn's last error (and ctx's error if ctx ended the retries).
func Retry(ctx context.Context, b Backoff, fn func(attempt int) error, retryable func(error) bool) error {
	if err := b.Validate(); err != nil {
		return err
	}
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for attempt := 1; ; attempt++ {
		err := fn(attempt)
		if err == nil {
			return nil
		}
		if retryable != nil && !retryable(err) {
			return fmt.Errorf("attempt %d (not retryable): %w", attempt, err)
		}
		if attempt >= b.Attempts {
			return fmt.Errorf("attempt %d of %d: %w", attempt, b.Attempts, err)
		}
		wait := time.Duration(rand.Int64N(int64(b.Ceiling(attempt)) + 1))
		if timer == nil {
			timer = time.NewTimer(wait)
		} else {
			timer.Reset(wait)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("attempt %d of %d: %w; retry stopped: %w", attempt, b.Attempts, err, ctx.Err())
		case <-timer.C:
		}
	}
}
