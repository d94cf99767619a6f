package server

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Trigger is what the server needs from the daemon. The daemon implements
// it; the server never imports the scheduler or the export code.
//
// Errors the server answers specially are recognised with errors.Is, so the
// implementation wraps them freely: ErrUnknownSchedule, ErrBadRequest,
// ErrRunning, ErrAlreadyArchived, ErrUnavailable, ErrArchiveUnavailable,
// ErrNotReady. Any other error is a 500 whose text is logged, never sent.
type Trigger interface {
	// Schedules is every configured schedule, in a stable order.
	Schedules(ctx context.Context) []ScheduleStatus
	// RunNow runs one unit of a schedule. Without req.Wait it returns as
	// soon as the run is started, with Status "accepted" and the run's
	// record; with it, when the run ends, with the run's outcome. A run
	// that ran and failed is an outcome (Status "failed", nil error), not
	// an error. On ErrAlreadyArchived the outcome carries Key and Manifest.
	//
	// ctx is the HTTP request's: it bounds the wait, not the run, which
	// belongs to the daemon (a client that hangs up must not cancel an
	// export half way).
	RunNow(ctx context.Context, req RunRequest) (RunOutcome, error)
	// Runs is the run history, newest first, of one schedule or of all
	// when schedule is "", at most limit records.
	Runs(ctx context.Context, schedule string, limit int) []RunRecord
	// Pause stops a schedule's cron fires (runs in progress finish);
	// Resume starts them again and clears the consecutive failures.
	Pause(ctx context.Context, name string) error
	Resume(ctx context.Context, name string) error
	// Ready is nil when the configuration is loaded and sources and stores
	// were checked; while the daemon waits for a store or source it is a
	// *NotReadyError naming it.
	Ready(ctx context.Context) error
	// Windows is the state of a windowed schedule's last n closed windows,
	// oldest first, as the archive shows them; nil for a snapshot
	// schedule. ErrUnknownSchedule for a name not configured.
	Windows(ctx context.Context, name string, n int) ([]WindowStatus, error)
}

// Errors a Trigger returns (wrapped) and the Client returns for the
// matching HTTP answers.
var (
	// ErrUnknownSchedule: no schedule has that name (404).
	ErrUnknownSchedule = errors.New("unknown schedule")
	// ErrBadRequest: the request can never succeed as asked, e.g. an open
	// or misaligned window; the error text is the reason (400).
	ErrBadRequest = errors.New("bad request")
	// ErrRunning: a run of that schedule is in progress (409).
	ErrRunning = errors.New("a run of this schedule is in progress")
	// ErrAlreadyArchived: the window is archived already (200, status
	// already_archived, with its key and manifest).
	ErrAlreadyArchived = errors.New("already archived")

	// ErrUnauthorized: the token is missing or wrong (401). Client only.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrForbidden: the call is refused whatever the token, e.g. mutating
	// calls on a non-loopback listener without a configured token, or a
	// cross-origin browser request (403). Client only.
	ErrForbidden = errors.New("forbidden")
	// ErrInternal: the server failed; the answer has a request id to find
	// the error in the daemon's log (500). Client only.
	ErrInternal = errors.New("internal server error")
	// ErrUnavailable: the server is shutting down or not ready (503). A
	// Trigger returns it for a run asked for during shutdown.
	ErrUnavailable = errors.New("service unavailable")
	// ErrArchiveUnavailable: the archive (its store) could not be read, a
	// failure outside the daemon (503 with Retry-After; the error text
	// stays in the log).
	ErrArchiveUnavailable = errors.New("the archive could not be read")
	// ErrNotReady: the daemon cannot reach a store or source the request
	// needs (503 with Retry-After); a *NotReadyError in the chain names it.
	ErrNotReady = errors.New("not ready")
)

// NotReadyError is what the daemon waits for before it is ready: the store
// or source it cannot reach, why, and when it tries again. Ready returns
// it; /readyz shows its parts to trusted callers.
type NotReadyError struct {
	// Component names the store or source: "destination integration lake
	// (bucket audit)", "source warehouse".
	Component string
	Err       error
	// Attempts is how many checks failed so far; NextRetry is when the
	// next one starts (zero when unknown).
	Attempts  int
	NextRetry time.Time
}

func (e *NotReadyError) Error() string {
	if e.Err == nil && e.Attempts == 0 {
		return "checking that " + e.Component + " can be reached"
	}
	msg := "cannot reach " + e.Component
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	if !e.NextRetry.IsZero() {
		msg += fmt.Sprintf(" (attempt %d; next retry at %s)", e.Attempts, e.NextRetry.UTC().Format(time.RFC3339))
	}
	return msg
}

func (e *NotReadyError) Unwrap() error { return e.Err }

// Schedule states, the values of ScheduleStatus.Status.
const (
	StatusIdle    = "idle"
	StatusRunning = "running"
	StatusPaused  = "paused"
	StatusFailing = "failing"
)

// What started a run, the values of RunRecord.Trigger.
const (
	TriggerCron    = "cron"
	TriggerAPI     = "api"
	TriggerCLI     = "cli"
	TriggerCatchUp = "catch-up"
)

// ScheduleStatus is one schedule as the API shows it.
type ScheduleStatus struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Cron        string `json:"cron"`
	Timezone    string `json:"timezone"`
	// Windowed schedules export closed windows; the others snapshots.
	Windowed bool      `json:"windowed"`
	NextFire time.Time `json:"next_fire,omitzero"`
	// LastRun is the newest run, if any.
	LastRun *RunRecord `json:"last_run,omitempty"`
	// Status is idle, running, paused or failing.
	Status string `json:"status"`
	// Freshness is the end of the newest archived window, or the logical
	// time of the newest snapshot.
	Freshness time.Time `json:"freshness,omitzero"`
	// ArchiveRead is when the daemon last read the schedule's state from
	// its archive (zero while it is still being read after start-up).
	ArchiveRead time.Time `json:"archive_read,omitzero"`
	// LostWindows counts the windows recorded as lost among the newest
	// committed windows the archive state keeps (100).
	LostWindows         int64 `json:"lost_windows"`
	ConsecutiveFailures int   `json:"consecutive_failures"`
	Paused              bool  `json:"paused"`
	// Pause says since when and why, while paused.
	Pause *PauseInfo `json:"pause,omitempty"`
}

// PauseInfo says why a schedule is paused. A pause holds for every daemon
// exporting into the schedule's archive.
type PauseInfo struct {
	Since time.Time `json:"since"`
	// Reason is operator or failures.
	Reason string `json:"reason"`
	// By is the daemon (instance) that paused it, when another one did.
	By string `json:"by,omitempty"`
}

// Window is a half-open interval [Start, End).
type Window struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// RunRecord is one run of one unit (a window or a snapshot).
type RunRecord struct {
	ID       string `json:"id"`
	Schedule string `json:"schedule"`
	// Unit is the archive's unit id (the window id, or the snapshot's).
	Unit   string  `json:"unit,omitempty"`
	Window *Window `json:"window,omitempty"`
	// Logical is the scheduled time the run belongs to.
	Logical time.Time `json:"logical,omitzero"`
	// Trigger is cron, api, cli or catch-up.
	Trigger  string    `json:"trigger,omitempty"`
	Started  time.Time `json:"started,omitzero"`
	Finished time.Time `json:"finished,omitzero"`
	// Outcome is running, or exported, skipped, lost, already_archived,
	// claimed or failed.
	Outcome     string `json:"outcome,omitempty"`
	Rows        int64  `json:"rows"`
	Bytes       int64  `json:"bytes"`
	Key         string `json:"key,omitempty"`
	ManifestKey string `json:"manifest,omitempty"`
	Attempt     int    `json:"attempt,omitempty"`
	// Instance is the daemon or process that committed the unit, for a
	// run read from the archive (one of another replica, `serve --once` or
	// a local `exportd run` included).
	Instance string `json:"instance,omitempty"`
	// Error is the failure's text. The server sends it to authenticated
	// callers only: it may hold SQL or host names.
	Error string `json:"error,omitempty"`
}

// Window states, the values of WindowStatus.State.
const (
	// WindowArchived: a committed manifest with the window's object.
	WindowArchived = "archived"
	// WindowSkipped: committed as skipped (no rows, by the schedule's rule).
	WindowSkipped = "skipped"
	// WindowLost: committed as lost (the source no longer had its rows).
	WindowLost = "lost"
	// WindowRunning: claimed by a run that has not committed yet.
	WindowRunning = "running"
	// WindowMissing: closed (past its lag) and neither claimed nor committed.
	WindowMissing = "missing"
)

// WindowStatus is one closed window of a windowed schedule.
type WindowStatus struct {
	// ID is the archive's unit id of the window.
	ID     string `json:"id"`
	Window Window `json:"window"`
	// State is archived, skipped, lost, running or missing.
	State string `json:"state"`
	// Key is the archived object, for archived windows.
	Key string `json:"key,omitempty"`
}

// RunRequest asks for a run now.
type RunRequest struct {
	Schedule string
	// WindowStart picks the window of a windowed schedule; nil is the
	// latest closed one.
	WindowStart *time.Time
	// Adhoc exports a one-off snapshot of a windowed schedule's element
	// under adhoc/, which completeness checks ignore.
	Adhoc bool
	// Wait answers when the run ends rather than when it starts.
	Wait bool
}

// RunOutcome answers a run request.
type RunOutcome struct {
	// Status is accepted (not waiting), or the run's outcome.
	Status string `json:"status"`
	// Key and Manifest are the archived object and its manifest, for
	// exported and already_archived.
	Key      string    `json:"key,omitempty"`
	Manifest string    `json:"manifest,omitempty"`
	Run      RunRecord `json:"run,omitzero"`
}

// errorBody is every error answer.
type errorBody struct {
	Error     string `json:"error"`
	Code      string `json:"code"`
	RequestID string `json:"request_id,omitempty"`
}

// Error codes, the code field of error answers; the Client maps them back
// to the sentinel errors.
const (
	codeUnknownSchedule  = "unknown_schedule"
	codeBadRequest       = "bad_request"
	codeTooLarge         = "too_large"
	codeRunning          = "running"
	codeUnauthorized     = "unauthorized"
	codeForbidden        = "forbidden"
	codeNotFound         = "not_found"
	codeMethodNotAllowed = "method_not_allowed"
	codeInternal         = "internal"
	codeUnavailable      = "unavailable"
	codeNotReady         = "not_ready"
)

// utc returns s with every time in UTC, so answers are RFC 3339 UTC
// whatever zone the daemon computed them in.
func (s ScheduleStatus) utc() ScheduleStatus {
	s.NextFire = utcTime(s.NextFire)
	s.Freshness = utcTime(s.Freshness)
	if s.LastRun != nil {
		r := s.LastRun.utc()
		s.LastRun = &r
	}
	return s
}

func (r RunRecord) utc() RunRecord {
	if r.Window != nil {
		r.Window = &Window{Start: utcTime(r.Window.Start), End: utcTime(r.Window.End)}
	}
	r.Logical = utcTime(r.Logical)
	r.Started = utcTime(r.Started)
	r.Finished = utcTime(r.Finished)
	return r
}

func utcTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}
