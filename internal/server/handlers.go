package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/exportd/exportd/internal/domain"
)

// Limits of GET /api/v1/runs.
const (
	DefaultRunsLimit = 50
	MaxRunsLimit     = 1000
)

// redactedRunError replaces a failed run's error for callers that are not
// trusted: it may hold SQL text or host names.
const redactedRunError = "export failed; the error is shown to authenticated callers and in the daemon's log"

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	s.writeJSON(w, http.StatusOK, health{Status: "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	err := s.trigger.Ready(r.Context())
	// Log changes only: probes come every few seconds.
	state := int32(1)
	if err != nil {
		state = 2
	}
	if old := s.ready.Swap(state); old != state {
		if err != nil {
			s.log.Warn("not ready", zap.Error(err))
		} else {
			s.log.Info("ready")
		}
	}
	if err == nil {
		s.writeJSON(w, http.StatusOK, health{Status: "ready"})
		return
	}
	body := health{Status: "not ready"}
	if trusted(r) {
		body.Reason = err.Error()
		var nr *NotReadyError
		if errors.As(err, &nr) {
			body.Component = nr.Component
			if nr.Err != nil {
				body.Error = nr.Err.Error()
			}
			body.NextRetry = utcTime(nr.NextRetry)
		}
	}
	w.Header().Set("Retry-After", "10")
	s.writeJSON(w, http.StatusServiceUnavailable, body)
}

// health is the answer of /healthz and /readyz.
type health struct {
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
	// Component, Error and NextRetry say, while the daemon waits for a
	// store or source at start, which one, why and when it tries again.
	Component string    `json:"component,omitempty"`
	Error     string    `json:"error,omitempty"`
	NextRetry time.Time `json:"next_retry,omitzero"`
}

func (s *Server) listSchedules(w http.ResponseWriter, r *http.Request) {
	if !s.onlyParams(w, r) {
		return
	}
	all := s.trigger.Schedules(r.Context())
	out := make([]ScheduleStatus, 0, len(all))
	for _, st := range all {
		out = append(out, present(st, trusted(r)))
	}
	s.writeJSON(w, http.StatusOK, struct {
		Schedules []ScheduleStatus `json:"schedules"`
	}{out})
}

func (s *Server) getSchedule(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if !s.onlyParams(w, r) {
		return
	}
	st, ok := s.schedule(r, name)
	if !ok {
		s.unknownSchedule(w, r, name)
		return
	}
	s.writeJSON(w, http.StatusOK, present(st, trusted(r)))
}

func (s *Server) schedule(r *http.Request, name string) (ScheduleStatus, bool) {
	for _, st := range s.trigger.Schedules(r.Context()) {
		if st.Name == name {
			return st, true
		}
	}
	return ScheduleStatus{}, false
}

// runBody is the optional body of POST .../run.
type runBody struct {
	WindowStart *string `json:"window_start"`
	Adhoc       bool    `json:"adhoc"`
}

func (s *Server) runNow(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if !s.onlyParams(w, r, "wait") {
		return
	}
	wait := false
	if v := r.URL.Query().Get("wait"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			s.writeError(w, r, http.StatusBadRequest, codeBadRequest, fmt.Sprintf("wait: want true or false, got %q", v))
			return
		}
		wait = b
	}
	var body runBody
	if !s.decodeBody(w, r, &body, `no body, or a JSON object such as {"window_start": "2026-11-24T00:00:00Z", "adhoc": false}`) {
		return
	}
	req := RunRequest{Schedule: name, Adhoc: body.Adhoc, Wait: wait}
	if body.WindowStart != nil {
		t, err := time.Parse(time.RFC3339, *body.WindowStart)
		if err != nil {
			s.writeError(w, r, http.StatusBadRequest, codeBadRequest,
				fmt.Sprintf("window_start: %q is not an RFC 3339 time (like 2026-11-24T00:00:00Z)", *body.WindowStart))
			return
		}
		if t.IsZero() {
			// The zero time is how Go says "no window": taking it as such
			// would answer for the latest window instead of the one asked.
			s.writeError(w, r, http.StatusBadRequest, codeBadRequest,
				fmt.Sprintf("window_start: %q is the zero time, not a window start; leave window_start out for the latest closed window", *body.WindowStart))
			return
		}
		req.WindowStart = &t
	}

	out, err := s.trigger.RunNow(r.Context(), req)
	if errors.Is(err, ErrAlreadyArchived) || (err == nil && out.Status == domain.OutcomeAlreadyArchived) {
		out.Status = domain.OutcomeAlreadyArchived
		if out.Key == "" {
			out.Key = out.Run.Key
		}
		if out.Manifest == "" {
			out.Manifest = out.Run.ManifestKey
		}
		out.Run = presentRun(out.Run, trusted(r))
		s.writeJSON(w, http.StatusOK, out)
		return
	}
	if err != nil {
		s.fail(w, r, name, err)
		return
	}
	out.Run = presentRun(out.Run, trusted(r))
	status := http.StatusOK
	if !wait {
		status = http.StatusAccepted
		if out.Status == "" {
			out.Status = domain.OutcomeAccepted
		}
	}
	s.writeJSON(w, status, out)
}

// decodeBody decodes an optional JSON object strictly: unknown fields,
// trailing data and bodies over maxBodyBytes are refused, and the answer
// says what to send instead (want).
func (s *Server) decodeBody(w http.ResponseWriter, r *http.Request, v any, want string) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if errors.Is(err, io.EOF) {
		return true // no body: all defaults
	}
	if err == nil {
		var extra json.RawMessage
		if err = dec.Decode(&extra); errors.Is(err, io.EOF) {
			return true
		} else if err == nil {
			err = errors.New("more than one JSON value")
		}
	}
	if mb := (*http.MaxBytesError)(nil); errors.As(err, &mb) {
		s.writeError(w, r, http.StatusRequestEntityTooLarge, codeTooLarge,
			fmt.Sprintf("request body: larger than %d bytes", mb.Limit))
		return false
	}
	s.writeError(w, r, http.StatusBadRequest, codeBadRequest, "request body: "+strings.TrimPrefix(err.Error(), "json: ")+"; send "+want)
	return false
}

func (s *Server) pause(w http.ResponseWriter, r *http.Request) {
	s.setPaused(w, r, true, s.trigger.Pause)
}

func (s *Server) resume(w http.ResponseWriter, r *http.Request) {
	s.setPaused(w, r, false, s.trigger.Resume)
}

// setPaused pauses or resumes a schedule and answers its new status.
func (s *Server) setPaused(w http.ResponseWriter, r *http.Request, paused bool, do func(context.Context, string) error) {
	name := r.PathValue("name")
	if !s.onlyParams(w, r) {
		return
	}
	var body struct{}
	if !s.decodeBody(w, r, &body, "no body (or {})") {
		return
	}
	if err := do(r.Context(), name); err != nil {
		s.fail(w, r, name, err)
		return
	}
	st, ok := s.schedule(r, name)
	if !ok { // removed by a reload in between
		st = ScheduleStatus{Name: name, Paused: paused}
	}
	s.writeJSON(w, http.StatusOK, present(st, trusted(r)))
}

func (s *Server) listRuns(w http.ResponseWriter, r *http.Request) {
	if !s.onlyParams(w, r, "schedule", "limit") {
		return
	}
	q := r.URL.Query()
	limit := DefaultRunsLimit
	if q.Has("limit") {
		n, err := strconv.Atoi(q.Get("limit"))
		if err != nil || n < 1 || n > MaxRunsLimit {
			s.writeError(w, r, http.StatusBadRequest, codeBadRequest,
				fmt.Sprintf("limit: want an integer from 1 to %d, got %q", MaxRunsLimit, q.Get("limit")))
			return
		}
		limit = n
	}
	name := q.Get("schedule")
	runs := s.trigger.Runs(r.Context(), name, limit)
	if len(runs) == 0 && name != "" {
		// A schedule removed by a reload keeps its history; a name that
		// never existed is most likely a typo.
		if _, ok := s.schedule(r, name); !ok {
			s.unknownSchedule(w, r, name)
			return
		}
	}
	if len(runs) > limit {
		runs = runs[:limit]
	}
	out := make([]RunRecord, 0, len(runs))
	for _, rr := range runs {
		out = append(out, presentRun(rr, trusted(r)))
	}
	s.writeJSON(w, http.StatusOK, struct {
		Runs []RunRecord `json:"runs"`
	}{out})
}

// onlyParams refuses query parameters other than allowed, so a typo
// (?schedul=) is an error rather than a silently wider answer.
func (s *Server) onlyParams(w http.ResponseWriter, r *http.Request, allowed ...string) bool {
	for k := range r.URL.Query() {
		ok := false
		for _, a := range allowed {
			ok = ok || k == a
		}
		if !ok {
			s.writeError(w, r, http.StatusBadRequest, codeBadRequest,
				fmt.Sprintf("unknown query parameter %q (%s)", k, allowedParams(allowed)))
			return false
		}
	}
	return true
}

func allowedParams(allowed []string) string {
	if len(allowed) == 0 {
		return "this call takes none"
	}
	return "allowed: " + strings.Join(allowed, ", ")
}

// fail answers a Trigger error.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, name string, err error) {
	switch {
	case errors.Is(err, ErrUnknownSchedule):
		s.unknownSchedule(w, r, name)
	case errors.Is(err, ErrBadRequest):
		msg := "bad request; the reason is shown to callers that send the API token"
		if trusted(r) {
			msg = err.Error()
		}
		s.writeError(w, r, http.StatusBadRequest, codeBadRequest, msg)
	case errors.Is(err, ErrRunning):
		s.writeError(w, r, http.StatusConflict, codeRunning, fmt.Sprintf("a run of schedule %q is in progress; wait for it to end (GET /api/v1/runs?schedule=%s) and try again", name, name))
	case errors.Is(err, ErrArchiveUnavailable):
		id := requestID(r)
		s.log.Warn("api call: the archive could not be read", zap.String("request_id", id), zap.String("path", r.URL.Path),
			zap.String("schedule", name), zap.Error(err))
		w.Header().Set("Retry-After", "30")
		s.writeError(w, r, http.StatusServiceUnavailable, codeUnavailable,
			"the archive could not be read; the daemon's log has the details under request id "+id)
	case errors.Is(err, ErrNotReady):
		id := requestID(r)
		s.log.Warn("api call: not ready", zap.String("request_id", id), zap.String("path", r.URL.Path),
			zap.String("schedule", name), zap.Error(err))
		msg := "the daemon cannot reach a store or source it needs yet (see /readyz); try again later"
		var nr *NotReadyError
		if errors.As(err, &nr) && trusted(r) {
			msg = "not ready: " + nr.Error() + "; try again later"
		}
		w.Header().Set("Retry-After", "30")
		s.writeError(w, r, http.StatusServiceUnavailable, codeNotReady, msg)
	case errors.Is(err, ErrUnavailable):
		w.Header().Set("Retry-After", "30")
		s.writeError(w, r, http.StatusServiceUnavailable, codeUnavailable, "the daemon is shutting down; run it again on the next instance")
	case r.Context().Err() != nil:
		// The client left or the server is stopping: nobody may read
		// this, but answer something true.
		s.log.Debug("request ended before its answer", zap.String("request_id", requestID(r)), zap.Error(err))
		s.writeError(w, r, http.StatusServiceUnavailable, codeUnavailable, "request cancelled (client gone or server shutting down)")
	default:
		id := requestID(r)
		s.log.Error("api call failed", zap.String("request_id", id), zap.String("method", r.Method),
			zap.String("path", r.URL.Path), zap.String("schedule", name), zap.Error(err))
		s.writeError(w, r, http.StatusInternalServerError, codeInternal, internalMessage(id))
	}
}

func (s *Server) unknownSchedule(w http.ResponseWriter, r *http.Request, name string) {
	s.writeError(w, r, http.StatusNotFound, codeUnknownSchedule, fmt.Sprintf("unknown schedule %q; GET /api/v1/schedules lists the configured ones", name))
}

// present prepares a schedule's status for a caller.
func present(st ScheduleStatus, trusted bool) ScheduleStatus {
	st = st.utc()
	if st.LastRun != nil {
		r := presentRun(*st.LastRun, trusted)
		st.LastRun = &r
	}
	return st
}

// presentRun prepares a run record for a caller: times in UTC, the error
// text only for trusted callers.
func presentRun(r RunRecord, trusted bool) RunRecord {
	r = r.utc()
	if r.Error != "" && !trusted {
		r.Error = redactedRunError
	}
	return r
}

// Limits of GET /api/v1/schedules/{name}/windows.
const (
	DefaultWindowsLimit = 90
	MaxWindowsLimit     = 1000
)

func (s *Server) listWindows(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if !s.onlyParams(w, r, "limit") {
		return
	}
	limit := DefaultWindowsLimit
	if q := r.URL.Query(); q.Has("limit") {
		n, err := strconv.Atoi(q.Get("limit"))
		if err != nil || n < 1 || n > MaxWindowsLimit {
			s.writeError(w, r, http.StatusBadRequest, codeBadRequest,
				fmt.Sprintf("limit: want an integer from 1 to %d, got %q", MaxWindowsLimit, q.Get("limit")))
			return
		}
		limit = n
	}
	ws, err := s.trigger.Windows(r.Context(), name, limit)
	if err != nil {
		s.fail(w, r, name, err)
		return
	}
	if len(ws) > limit {
		ws = ws[len(ws)-limit:]
	}
	out := make([]WindowStatus, 0, len(ws))
	for _, st := range ws {
		st.Window = Window{Start: utcTime(st.Window.Start), End: utcTime(st.Window.End)}
		out = append(out, st)
	}
	s.writeJSON(w, http.StatusOK, struct {
		Windows []WindowStatus `json:"windows"`
	}{out})
}
