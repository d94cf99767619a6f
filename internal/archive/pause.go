package archive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/exportd/exportd/internal/domain"
)

// PauseRecord is the JSON body of _paused/<schedule>: the schedule is
// paused for every daemon that exports into this archive, whichever of
// them was told. Resuming deletes it.
type PauseRecord struct {
	FormatVersion int       `json:"format_version"`
	Schedule      string    `json:"schedule"`
	Since         time.Time `json:"since"`
	// Reason is "operator" or "failures".
	Reason   string `json:"reason"`
	Failures int    `json:"consecutive_failures,omitempty"`
	// By is the instance that paused it.
	By string `json:"by"`
}

// Pause writes the schedule's pause marker. A marker already there is
// kept (the first pause's time and reason stand); the one in force is
// returned.
func (a *Archive) Pause(ctx context.Context, l domain.Layout, r PauseRecord) (PauseRecord, error) {
	r.FormatVersion, r.Schedule = FormatVersion, l.Schedule
	if r.By == "" {
		r.By = a.Instance
	}
	data, err := json.Marshal(r)
	if err != nil {
		return PauseRecord{}, err
	}
	_, err = a.Store.Create(ctx, l.PauseKey(), data)
	if errors.Is(err, ErrExists) {
		cur, ok, err := a.Paused(ctx, l)
		if err == nil && !ok {
			return a.Pause(ctx, l, r) // resumed in between
		}
		return cur, err
	}
	if err != nil {
		return PauseRecord{}, fmt.Errorf("write pause marker %s: %w", l.PauseKey(), err)
	}
	return r, nil
}

// Resume deletes the schedule's pause marker, if there is one.
func (a *Archive) Resume(ctx context.Context, l domain.Layout) error {
	for range 3 {
		_, etag, err := a.Store.Read(ctx, l.PauseKey())
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read pause marker %s: %w", l.PauseKey(), err)
		}
		err = a.Store.Delete(ctx, l.PauseKey(), etag)
		if err == nil || errors.Is(err, ErrNotFound) {
			return nil
		}
		if !errors.Is(err, ErrPrecondition) {
			return fmt.Errorf("delete pause marker %s: %w", l.PauseKey(), err)
		}
	}
	return fmt.Errorf("delete pause marker %s: it keeps changing", l.PauseKey())
}

// Paused reads the schedule's pause marker; ok is false when it is not
// paused.
func (a *Archive) Paused(ctx context.Context, l domain.Layout) (r PauseRecord, ok bool, err error) {
	data, _, err := a.Store.Read(ctx, l.PauseKey())
	if errors.Is(err, ErrNotFound) {
		return PauseRecord{}, false, nil
	}
	if err != nil {
		return PauseRecord{}, false, fmt.Errorf("read pause marker %s: %w", l.PauseKey(), err)
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return PauseRecord{}, false, fmt.Errorf("pause marker %s: %w", l.PauseKey(), err)
	}
	return r, true, nil
}
