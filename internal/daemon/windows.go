package daemon

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/daemonstate"
	"github.com/exportd/exportd/internal/domain"
	"github.com/exportd/exportd/internal/server"
)

// Windows is the state of a windowed schedule's last n closed windows,
// oldest first, as its archive shows them: a committed manifest says
// archived, skipped or lost; a claim without one says running; nothing at
// all says missing. A snapshot schedule has no windows (nil, nil).
//
// The committed windows come from the schedule's archive state in memory.
// A window it does not know (older than the commits read since start) is
// read once, then remembered; a window not committed is probed for a claim
// at most every claimProbeTTL.
func (d *Daemon) Windows(ctx context.Context, name string, n int) ([]server.WindowStatus, error) {
	a, release := d.acquire()
	defer release()
	s := a.Config().Schedule(name)
	if s == nil {
		return nil, fmt.Errorf("%w %q", ErrUnknownSchedule, name)
	}
	ws := s.WindowSpec(a.Now())
	if ws == nil {
		return nil, nil
	}
	closed, err := ws.Closed(a.Now())
	if err != nil {
		return nil, fmt.Errorf("%w: schedule %q: %v", server.ErrBadRequest, name, err)
	}
	if len(closed) > n {
		closed = closed[len(closed)-n:]
	}
	store, _, err := a.Store(ctx, s.Destination.Integration, s.Destination.Bucket)
	if err != nil {
		// Its store could not be opened (or its source).
		return nil, fmt.Errorf("%w: schedule %q: %w", server.ErrArchiveUnavailable, name, err)
	}
	l := s.Layout()
	out := make([]server.WindowStatus, len(closed))
	var unknown, uncommitted []int
	now := time.Now()
	d.mu.Lock()
	st := d.states[name]
	if st == nil {
		d.mu.Unlock()
		return nil, fmt.Errorf("%w %q", ErrUnknownSchedule, name)
	}
	for i, w := range closed {
		u := domain.Unit{Schedule: name, Window: w}
		out[i] = server.WindowStatus{ID: u.ID(), Window: server.Window{Start: w.Start.UTC(), End: w.End.UTC()}}
		if us, ok := st.archive.Window(w); ok {
			out[i].State, out[i].Key = us.State, us.Key
			continue
		}
		if !st.archive.Complete && !st.absent[u.ID()] {
			unknown = append(unknown, i)
			continue
		}
		if p, ok := st.probes[u.ID()]; ok && now.Sub(p.at) < claimProbeTTL {
			out[i].State = p.state
			continue
		}
		uncommitted = append(uncommitted, i)
	}
	d.mu.Unlock()
	for _, i := range unknown {
		u := domain.Unit{Schedule: name, Window: closed[i]}
		m, ok, err := daemonstate.ReadUnit(ctx, store, l, u)
		if err != nil {
			return nil, fmt.Errorf("%w: window %s: %w", server.ErrArchiveUnavailable, u.ID(), err)
		}
		d.mu.Lock()
		if ok {
			st.archive.Remember(m)
			us, _ := st.archive.Window(u.Window)
			out[i].State, out[i].Key = us.State, us.Key
		} else {
			if st.absent == nil || len(st.absent) > absentKept {
				st.absent = map[string]bool{}
			}
			st.absent[u.ID()] = true
			uncommitted = append(uncommitted, i)
		}
		d.mu.Unlock()
	}
	for _, i := range uncommitted {
		u := domain.Unit{Schedule: name, Window: closed[i]}
		state := server.WindowMissing
		if _, err := store.Stat(ctx, l.ClaimKey(u)); err == nil {
			state = server.WindowRunning
		} else if !errors.Is(err, archive.ErrNotFound) {
			return nil, fmt.Errorf("%w: window %s: %w", server.ErrArchiveUnavailable, u.ID(), err)
		}
		out[i].State = state
		d.mu.Lock()
		if st.probes == nil || len(st.probes) > absentKept {
			st.probes = map[string]claimProbe{}
		}
		st.probes[u.ID()] = claimProbe{state: state, at: now}
		d.mu.Unlock()
	}
	return out, nil
}

// claimProbeTTL is how long a window found neither committed nor claimed
// (or claimed) is shown so without looking again: the status page reloads
// every few seconds while something runs.
const claimProbeTTL = 5 * time.Second

// absentKept bounds the windows remembered as not committed, and the claim
// probes remembered, per schedule.
const absentKept = 4096

// claimProbe is a window's claim, looked at a moment ago.
type claimProbe struct {
	state string
	at    time.Time
}
