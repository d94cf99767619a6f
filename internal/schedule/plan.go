package schedule

import (
	"errors"
	"fmt"
	"time"

	"github.com/exportd/exportd/internal/domain"
)

// CatchUp is a schedule's policy for closed windows that are not archived.
type CatchUp string

// Catch-up policies.
const (
	// CatchUpAll exports every missing window since Start, oldest first.
	CatchUpAll CatchUp = "all"
	// CatchUpLatest exports only the latest closed window, if it is missing.
	CatchUpLatest CatchUp = "latest"
	// CatchUpSkip exports only the missing windows that became closed since
	// the previous scheduled fire: windows missed during downtime stay
	// missing.
	CatchUpSkip CatchUp = "skip"
)

// ErrInvalidPlan is wrapped by Plan's argument errors.
var ErrInvalidPlan = errors.New("invalid plan request")

// Schedule is a windowed schedule as the planner and Preview see it.
type Schedule struct {
	Cron    *Cron
	Windows *WindowSpec
}

// Plan is what a fire at logical time T should do about closed windows.
type Plan struct {
	// Export lists the windows to export, oldest first. Every policy keeps
	// that order, so a window about to leave the source's retention (AtRisk)
	// comes first.
	Export []PlannedWindow
	// Lost lists, oldest first, the windows the policy selected but whose
	// data the source no longer has: each gets a lost manifest, not an
	// empty export.
	Lost []domain.Window
	// Skipped is how many closed, unarchived windows since Start the policy
	// leaves out (downtime under skip, all but the latest under latest). It
	// is a level, not an increment: a window that stays missing is counted
	// again by the next plan.
	Skipped int
}

// PlannedWindow is a window to export.
type PlannedWindow struct {
	Window domain.Window
	// AtRisk marks a window that started before the source's retention
	// cutoff but ends after it: the source has already dropped its oldest
	// rows, or is about to. It is exported (what remains is worth keeping)
	// and the run warns.
	AtRisk bool
}

// Plan decides what a fire at logical time T exports.
//
// The candidates are the closed windows (Start >= Windows.StartInstant,
// End+Lag <= T) for which archived returns false. The policy selects among
// them:
//
//   - all: every candidate.
//   - latest: the latest closed window, if it is a candidate.
//   - skip: the candidates that became closed after the previous fire
//     (End+Lag > Cron.Prev(T)); with no previous fire, every candidate.
//     The closing instant, not End alone, is compared: with a lag longer
//     than the gap between a window's end and the next fire, a window closes
//     after one fire and must be taken by the next.
//
// Candidates not selected are counted in Skipped. With retention > 0 the
// source keeps data from cutoff = sourceNow-retention on; sourceNow is the
// source's present (normally the wall clock), not T. A selected window
// with End <= cutoff goes to Lost; one with Start < cutoff < End is exported
// with AtRisk. retention 0 means the source keeps everything.
func (s Schedule) Plan(T time.Time, policy CatchUp, archived func(domain.Window) bool, retention time.Duration, sourceNow time.Time) (Plan, error) {
	if err := s.Windows.Validate(); err != nil {
		return Plan{}, fmt.Errorf("plan: %w", err)
	}
	switch {
	case policy != CatchUpAll && policy != CatchUpLatest && policy != CatchUpSkip:
		return Plan{}, fmt.Errorf("plan: %w: catch_up: %q is not one of all, latest, skip", ErrInvalidPlan, policy)
	case policy == CatchUpSkip && s.Cron == nil:
		return Plan{}, fmt.Errorf("plan: %w: catch_up skip needs the cron to find the previous fire", ErrInvalidPlan)
	case retention < 0:
		return Plan{}, fmt.Errorf("plan: %w: retention: must be >= 0, got %s", ErrInvalidPlan, retention)
	case archived == nil:
		return Plan{}, fmt.Errorf("plan: %w: archived: nil", ErrInvalidPlan)
	}
	closed := s.Windows.closedBetween(time.Time{}, T)
	var prevFire time.Time
	if policy == CatchUpSkip {
		prevFire = s.Cron.Prev(T)
	}
	var cutoff time.Time
	if retention > 0 {
		cutoff = sourceNow.Add(-retention)
	}
	var p Plan
	for i, w := range closed {
		if archived(w) {
			continue
		}
		selected := policy == CatchUpAll ||
			policy == CatchUpLatest && i == len(closed)-1 ||
			policy == CatchUpSkip && (prevFire.IsZero() || w.End.Add(s.Windows.Lag).After(prevFire))
		switch {
		case !selected:
			p.Skipped++
		case !cutoff.IsZero() && !w.End.After(cutoff):
			p.Lost = append(p.Lost, w)
		default:
			p.Export = append(p.Export, PlannedWindow{Window: w, AtRisk: !cutoff.IsZero() && w.Start.Before(cutoff)})
		}
	}
	return p, nil
}
