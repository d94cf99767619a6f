package daemon

import (
	"context"
	"errors"
	"testing"

	"github.com/exportd/exportd/internal/schedule"
)

// TestAbortable: the runs that run now started outlive their request and
// are cancelled, with the shutdown's cause, only by abortRuns; one started
// after it is cancelled at once, and a finished run leaves nothing behind.
func TestAbortable(t *testing.T) {
	d := &Daemon{aborts: map[*context.CancelCauseFunc]bool{}}
	req, cancelReq := context.WithCancel(context.Background())
	run, unregister := d.abortable(context.WithoutCancel(req))
	done, unregisterDone := d.abortable(context.Background())
	unregisterDone()
	if len(d.aborts) != 1 {
		t.Fatalf("%d runs registered, want 1 (the finished one unregistered)", len(d.aborts))
	}
	if done.Err() == nil {
		t.Error("a finished run's context is not released")
	}
	cancelReq()
	if run.Err() != nil {
		t.Fatal("the request's end cancelled the run")
	}
	d.abortRuns(schedule.ErrShutdownTimeout)
	if !errors.Is(context.Cause(run), schedule.ErrShutdownTimeout) {
		t.Fatalf("after abortRuns the run's cause is %v", context.Cause(run))
	}
	unregister()
	late, unregisterLate := d.abortable(context.Background())
	defer unregisterLate()
	if !errors.Is(context.Cause(late), schedule.ErrShutdownTimeout) {
		t.Fatalf("a run started after the abort: cause %v", context.Cause(late))
	}
	if len(d.aborts) != 0 {
		t.Fatalf("%d runs still registered", len(d.aborts))
	}
}
