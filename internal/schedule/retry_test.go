package schedule

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

var errFlaky = errors.New("flaky")

func TestBackoffValidate(t *testing.T) {
	base := Backoff{Initial: time.Second, Max: time.Minute, Attempts: 5}
	if err := base.Validate(); err != nil {
		t.Fatalf("baseline: %v", err)
	}
	for _, tc := range []struct {
		name   string
		mutate func(*Backoff)
		want   string
	}{
		{"no attempts", func(b *Backoff) { b.Attempts = 0 }, "attempts"},
		{"zero initial", func(b *Backoff) { b.Initial = 0 }, "initial"},
		{"max below initial", func(b *Backoff) { b.Max = time.Millisecond }, "max"},
	} {
		b := base
		tc.mutate(&b)
		err := b.Validate()
		if !errors.Is(err, ErrInvalidBackoff) || !containsFold(err.Error(), tc.want) {
			t.Errorf("%s: Validate() = %v, want ErrInvalidBackoff naming %s", tc.name, err, tc.want)
		}
		if err := Retry(t.Context(), b, func(int) error { return nil }, nil); !errors.Is(err, ErrInvalidBackoff) {
			t.Errorf("%s: Retry = %v, want ErrInvalidBackoff", tc.name, err)
		}
	}
}

func TestBackoffCeiling(t *testing.T) {
	b := Backoff{Initial: time.Second, Max: 10 * time.Second, Attempts: 100}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}
	for i, w := range want {
		if got := b.Ceiling(i + 1); got != w {
			t.Errorf("Ceiling(%d) = %s, want %s", i+1, got, w)
		}
	}
	if got := b.Ceiling(1000); got != b.Max {
		t.Errorf("Ceiling(1000) = %s, want Max", got)
	}
}

// TestRetry runs in a bubble: the waits take no real time and are measured
// exactly.
func TestRetry(t *testing.T) {
	b := Backoff{Initial: time.Second, Max: 3 * time.Second, Attempts: 4}

	t.Run("succeeds on the third attempt", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var at []time.Time
			err := Retry(t.Context(), b, func(attempt int) error {
				at = append(at, time.Now())
				if attempt != len(at) {
					t.Errorf("attempt %d on call %d", attempt, len(at))
				}
				if attempt < 3 {
					return errFlaky
				}
				return nil
			}, nil)
			if err != nil {
				t.Fatalf("Retry = %v", err)
			}
			if len(at) != 3 {
				t.Fatalf("%d calls, want 3", len(at))
			}
			for i := 1; i < len(at); i++ {
				if wait, ceil := at[i].Sub(at[i-1]), b.Ceiling(i); wait < 0 || wait > ceil {
					t.Errorf("wait after attempt %d = %s, want within [0, %s]", i, wait, ceil)
				}
			}
		})
	})

	t.Run("gives up after Attempts", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			calls := 0
			t0 := time.Now()
			err := Retry(t.Context(), b, func(int) error { calls++; return errFlaky }, nil)
			if calls != 4 || !errors.Is(err, errFlaky) {
				t.Errorf("%d calls, err %v; want 4 calls and the last error", calls, err)
			}
			if total := time.Since(t0); total > 1*time.Second+2*time.Second+3*time.Second {
				t.Errorf("waited %s in all, more than the ceilings allow", total)
			}
		})
	})

	t.Run("stops on a non-retryable error", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			errAuth := errors.New("authentication failed")
			calls := 0
			t0 := time.Now()
			err := Retry(t.Context(), b, func(int) error { calls++; return errAuth },
				func(err error) bool { return !errors.Is(err, errAuth) })
			if calls != 1 || !errors.Is(err, errAuth) || time.Since(t0) != 0 {
				t.Errorf("%d calls, err %v, %s waited; want one call, the error, no wait", calls, err, time.Since(t0))
			}
		})
	})

	t.Run("context ends the wait", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			calls := 0
			long := Backoff{Initial: time.Hour, Max: time.Hour, Attempts: 3}
			t0 := time.Now()
			err := Retry(ctx, long, func(int) error { calls++; cancel(); return errFlaky }, nil)
			if calls != 1 || !errors.Is(err, context.Canceled) || !errors.Is(err, errFlaky) {
				t.Errorf("%d calls, err %v; want one call and an error wrapping both causes", calls, err)
			}
			if time.Since(t0) != 0 {
				t.Errorf("waited %s after cancellation", time.Since(t0))
			}
		})
	})

	t.Run("full jitter spreads the waits", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			one := Backoff{Initial: time.Minute, Max: time.Minute, Attempts: 2}
			const n = 2000
			var sum, lo, hi time.Duration
			lo = time.Hour
			for range n {
				var first time.Time
				_ = Retry(t.Context(), one, func(attempt int) error {
					if attempt == 1 {
						first = time.Now()
						return errFlaky
					}
					wait := time.Since(first)
					sum += wait
					lo, hi = min(lo, wait), max(hi, wait)
					return nil
				}, nil)
			}
			mean := sum / n
			if mean < 27*time.Second || mean > 33*time.Second || lo > 6*time.Second || hi < 54*time.Second || hi > time.Minute {
				t.Errorf("waits over [0, 1m]: mean %s, min %s, max %s; want uniform", mean, lo, hi)
			}
		})
	})
}
