package server

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/exportd/exportd/internal/domain"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"
)

// The status pages: server-rendered HTML without any script, so they work
// with JavaScript off. Forms post to the page routes below, never to the
// API: a form cannot send a bearer header, so a browser signs in once with
// the API token and then carries a session cookie (HttpOnly, SameSite
// Strict, Secure behind TLS), and every form carries the session's CSRF
// token.

// timelineWindows is how many windows a schedule's page draws.
const timelineWindows = 90

// pageView is what every page template gets.
type pageView struct {
	Version  string
	Now      time.Time
	SignedIn bool
	// CanSignOut: a session exists that signing out would end (there is a
	// token to sign in with again).
	CanSignOut bool
	CSRF       string
	Flash      string
	// Error is a message shown as an error (a refused action).
	Error string
	// Refresh reloads the page every few seconds while something runs.
	Refresh bool
	// NotReady says, while the daemon is not ready (as /readyz does: a
	// store or source it cannot reach yet, a failed reload), why: the
	// reason to a signed-in viewer, only the fact to others.
	NotReady string
}

// viewer is the browser asking for a page.
type viewer struct {
	id       string // session id; "" when not signed in
	sess     session
	signedIn bool
}

// viewerOf finds the browser's session. Without a configured token (a
// loopback listener the operator chose to trust) every browser reaching
// the page is the operator: it gets a session at once, for the CSRF token.
func (s *Server) viewerOf(w http.ResponseWriter, r *http.Request) viewer {
	now := time.Now()
	if c, err := r.Cookie(sessionCookie); err == nil {
		if sess, ok := s.sessions.get(c.Value, now); ok {
			return viewer{id: c.Value, sess: sess, signedIn: true}
		}
	}
	if tok, ok := bearerToken(r.Header.Get("Authorization")); ok && s.tokenSet && s.tokenMatches(tok) {
		// A script or curl with the token reads the pages as an operator;
		// without a session it gets no forms.
		return viewer{signedIn: true}
	}
	if !s.tokenSet {
		id := s.sessions.create(now)
		setCookie(w, r, sessionCookie, id, "/", s.opts.SessionTTL)
		sess, _ := s.sessions.get(id, now)
		return viewer{id: id, sess: sess, signedIn: true}
	}
	return viewer{}
}

// mayView answers a page request the viewer may not see: a redirect to
// the sign-in form. It returns false then.
func (s *Server) mayView(w http.ResponseWriter, r *http.Request, v viewer) bool {
	if v.signedIn || s.opts.PageAccess == PageAccessAnyone {
		return true
	}
	http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.Path), http.StatusSeeOther)
	return false
}

func (s *Server) view(r *http.Request, v viewer) pageView {
	version := s.opts.Version
	if version == "" {
		version = "unknown"
	}
	pv := pageView{Version: version, Now: time.Now().UTC(), SignedIn: v.signedIn, CanSignOut: v.id != "" && s.tokenSet, CSRF: v.sess.csrf}
	if v.id != "" {
		pv.Flash = s.sessions.takeFlash(v.id)
	}
	if err := s.trigger.Ready(r.Context()); err != nil {
		pv.NotReady = "the daemon is not ready (sign in to see why)."
		if v.signedIn {
			pv.NotReady = err.Error() + "."
		}
	}
	return pv
}

// scheduleRow is a schedule as the pages show it.
type scheduleRow struct {
	ScheduleStatus
	// State is ok, running, failing or paused; Why says why.
	State string
	Why   string
	// Behind is how far the freshness lags the newest window that could be
	// archived by now ("" without freshness).
	Behind string
	// Missing counts missing windows among the last timelineWindows;
	// -1 when the archive could not be read, -2 when not counted (see
	// overviewWindowsMax).
	Missing int
	// Windows are the last timelineWindows windows (schedule page).
	Windows []WindowStatus
}

// overviewWindowsMax bounds the schedules whose missing windows the
// overview counts: each count reads a manifest per window. Beyond it, each
// schedule's own page has the count.
const overviewWindowsMax = 100

func (s *Server) row(r *http.Request, st ScheduleStatus, signedIn, withWindows bool, now time.Time) scheduleRow {
	st = present(st, signedIn)
	row := scheduleRow{ScheduleStatus: st, State: "ok"}
	switch st.Status {
	case StatusPaused:
		row.State = "paused"
		switch {
		case st.Pause == nil:
			row.Why = "disabled in its schedule file"
		case st.Pause.Reason == "failures":
			row.Why = fmt.Sprintf("paused itself after %d failed runs in a row, since %s", st.ConsecutiveFailures, when(st.Pause.Since))
		default:
			row.Why = "paused by an operator since " + when(st.Pause.Since)
		}
		if st.Pause != nil && st.Pause.By != "" {
			row.Why += " (on " + st.Pause.By + ")"
		}
	case StatusRunning:
		row.State = "running"
		row.Why = "a run is in progress"
	case StatusFailing:
		row.State = "failing"
		row.Why = fmt.Sprintf("%d failed runs in a row", st.ConsecutiveFailures)
		if st.LastRun != nil && st.LastRun.Error != "" {
			row.Why += ": " + st.LastRun.Error
		}
	default:
		if st.LastRun != nil {
			row.Why = "last run " + st.LastRun.Outcome
		} else {
			row.Why = "no run yet"
		}
	}
	if !st.Freshness.IsZero() {
		row.Behind = ago(now.Sub(st.Freshness))
	}
	row.Missing = -1
	if !withWindows {
		row.Missing = -2
	}
	if st.Windowed && withWindows {
		ws, err := s.trigger.Windows(r.Context(), st.Name, timelineWindows)
		if err != nil {
			s.log.Warn("status page: windows", zap.String("schedule", st.Name), zap.Error(err))
		} else {
			row.Windows, row.Missing = ws, 0
			for _, w := range ws {
				if w.State == WindowMissing {
					row.Missing++
				}
			}
		}
	}
	return row
}

// statusPage is GET /: every schedule.
func (s *Server) statusPage(w http.ResponseWriter, r *http.Request) {
	v := s.viewerOf(w, r)
	if !s.mayView(w, r, v) {
		return
	}
	now := time.Now().UTC()
	data := struct {
		pageView
		Schedules []scheduleRow
	}{pageView: s.view(r, v)}
	all := s.trigger.Schedules(r.Context())
	for _, st := range all {
		row := s.row(r, st, v.signedIn, len(all) <= overviewWindowsMax, now)
		data.Refresh = data.Refresh || row.State == "running"
		data.Schedules = append(data.Schedules, row)
	}
	s.render(w, r, http.StatusOK, "overview", data)
}

// runView is a run as the schedule page shows it.
type runView struct {
	RunRecord
	Duration string
}

// schedulePage is GET /schedules/{name}: one schedule, its timeline and
// its recent runs.
func (s *Server) schedulePage(w http.ResponseWriter, r *http.Request) {
	s.renderSchedule(w, r, s.viewerOf(w, r), http.StatusOK, "")
}

func (s *Server) renderSchedule(w http.ResponseWriter, r *http.Request, v viewer, status int, errMsg string) {
	if !s.mayView(w, r, v) {
		return
	}
	name := r.PathValue("name")
	st, ok := s.schedule(r, name)
	if !ok {
		s.renderMessage(w, r, v, http.StatusNotFound, fmt.Sprintf("No schedule is named %q.", name))
		return
	}
	now := time.Now().UTC()
	pv := s.view(r, v)
	pv.Error = errMsg
	row := s.row(r, st, v.signedIn, true, now)
	pv.Refresh = row.State == "running"
	var runs []runView
	for _, rr := range s.trigger.Runs(r.Context(), name, DefaultRunsLimit) {
		rr = presentRun(rr, v.signedIn)
		rv := runView{RunRecord: rr}
		if !rr.Started.IsZero() && !rr.Finished.IsZero() {
			rv.Duration = rr.Finished.Sub(rr.Started).Round(time.Millisecond).String()
		}
		pv.Refresh = pv.Refresh || rr.Outcome == domain.OutcomeRunning
		runs = append(runs, rv)
	}
	s.render(w, r, status, "schedule", struct {
		pageView
		S        scheduleRow
		Timeline template.HTML
		Runs     []runView
	}{pv, row, timelineSVG(row.Windows), runs})
}

// loginPage is GET /login: the sign-in form. The form's CSRF token also
// goes into a short-lived cookie (there is no session yet).
func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	s.renderLogin(w, r, http.StatusOK, "")
}

func (s *Server) renderLogin(w http.ResponseWriter, r *http.Request, status int, errMsg string) {
	csrf := randomToken()
	setCookie(w, r, loginCookie, csrf, "/login", 30*time.Minute)
	pv := pageView{Version: s.opts.Version, Now: time.Now().UTC(), CSRF: csrf, Error: errMsg}
	if !s.tokenSet {
		pv.Flash = "No API token is configured: this loopback listener trusts every local browser, no sign-in needed."
	}
	s.render(w, r, status, "login", struct {
		pageView
		Next string
	}{pv, safeNext(r.FormValue("next"))})
}

// login is POST /login: the API token, checked in constant time, starts a
// session.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	c, err := r.Cookie(loginCookie)
	if err != nil || r.PostFormValue("csrf") == "" || !tokensEqual(c.Value, r.PostFormValue("csrf")) {
		s.renderLogin(w, r, http.StatusForbidden, "The sign-in form expired or did not come from this page; try again.")
		return
	}
	if !s.tokenSet || !s.tokenMatches(r.PostFormValue("token")) {
		s.log.Info("status page: sign-in refused", zap.String("request_id", requestID(r)), zap.String("remote", r.RemoteAddr))
		s.renderLogin(w, r, http.StatusUnauthorized, "That is not the API token.")
		return
	}
	id := s.sessions.create(time.Now())
	setCookie(w, r, loginCookie, "", "/login", 0)
	setCookie(w, r, sessionCookie, id, "/", s.opts.SessionTTL)
	http.Redirect(w, r, safeNext(r.PostFormValue("next")), http.StatusSeeOther)
}

// logout is POST /logout.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	v, ok := s.checkForm(w, r)
	if !ok {
		return
	}
	s.sessions.remove(v.id)
	setCookie(w, r, sessionCookie, "", "/", 0)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// safeNext is a local path to go to after signing in; anything else
// (another host, "//host") is the overview.
func safeNext(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.ContainsAny(p, "\\\r\n") {
		return "/"
	}
	return p
}

// parseForm reads a bounded url-encoded form.
func (s *Server) parseForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		s.renderMessage(w, r, viewer{}, http.StatusBadRequest, "The form could not be read: "+err.Error())
		return false
	}
	return true
}

// checkForm admits a form post from a signed-in browser carrying its
// session's CSRF token; anything else is refused with 403.
func (s *Server) checkForm(w http.ResponseWriter, r *http.Request) (viewer, bool) {
	if !s.parseForm(w, r) {
		return viewer{}, false
	}
	v := viewer{}
	if c, err := r.Cookie(sessionCookie); err == nil {
		if sess, ok := s.sessions.get(c.Value, time.Now()); ok {
			v = viewer{id: c.Value, sess: sess, signedIn: true}
		}
	}
	if !v.signedIn {
		s.renderMessage(w, r, v, http.StatusForbidden, "Sign in first: acting on schedules needs a session.")
		return v, false
	}
	if tok := r.PostFormValue("csrf"); tok == "" || !tokensEqual(tok, v.sess.csrf) {
		s.log.Warn("status page: form without a valid CSRF token refused", zap.String("request_id", requestID(r)),
			zap.String("path", r.URL.Path), zap.String("remote", r.RemoteAddr))
		s.renderMessage(w, r, v, http.StatusForbidden, "This form did not carry a valid CSRF token, so nothing was done. Reload the page and try again.")
		return v, false
	}
	return v, true
}

// runNowForm is POST /schedules/{name}/run. A run already in progress
// (409) is a message on the schedule's page, not an error page.
func (s *Server) runNowForm(w http.ResponseWriter, r *http.Request) {
	v, ok := s.checkForm(w, r)
	if !ok {
		return
	}
	name := r.PathValue("name")
	out, err := s.trigger.RunNow(r.Context(), RunRequest{Schedule: name})
	switch {
	case errors.Is(err, ErrRunning):
		s.renderSchedule(w, r, v, http.StatusConflict, fmt.Sprintf("409: a run of %s is in progress; Run now was not started. Try again when it ends.", name))
		return
	case errors.Is(err, ErrAlreadyArchived) || (err == nil && out.Status == domain.OutcomeAlreadyArchived):
		key := out.Key
		if key == "" {
			key = out.Manifest
		}
		s.sessions.setFlash(v.id, fmt.Sprintf("Window %s is archived already (%s); nothing to run.", out.Run.Unit, key))
	case err != nil:
		s.formFailed(w, r, v, name, err)
		return
	default:
		msg := "Run started"
		if out.Run.Unit != "" {
			msg += " for " + out.Run.Unit
		}
		s.sessions.setFlash(v.id, msg+".")
	}
	http.Redirect(w, r, "/schedules/"+url.PathEscape(name), http.StatusSeeOther)
}

func (s *Server) pauseForm(w http.ResponseWriter, r *http.Request) {
	s.setPausedForm(w, r, true)
}

func (s *Server) resumeForm(w http.ResponseWriter, r *http.Request) {
	s.setPausedForm(w, r, false)
}

func (s *Server) setPausedForm(w http.ResponseWriter, r *http.Request, paused bool) {
	v, ok := s.checkForm(w, r)
	if !ok {
		return
	}
	name := r.PathValue("name")
	do, done := s.trigger.Resume, "resumed"
	if paused {
		do, done = s.trigger.Pause, "paused"
	}
	if err := do(r.Context(), name); err != nil {
		s.formFailed(w, r, v, name, err)
		return
	}
	s.sessions.setFlash(v.id, fmt.Sprintf("Schedule %s %s.", name, done))
	back := "/schedules/" + url.PathEscape(name)
	if r.PostFormValue("back") == "overview" {
		back = "/"
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// formFailed answers a form whose action failed, as a page: 4xx for the
// caller's mistakes, 503 while shutting down, 500 (with a request id, never
// the error text) for anything else.
func (s *Server) formFailed(w http.ResponseWriter, r *http.Request, v viewer, name string, err error) {
	switch {
	case errors.Is(err, ErrUnknownSchedule):
		s.renderMessage(w, r, v, http.StatusNotFound, fmt.Sprintf("No schedule is named %q.", name))
	case errors.Is(err, ErrBadRequest):
		s.renderSchedule(w, r, v, http.StatusBadRequest, err.Error())
	case errors.Is(err, ErrNotReady):
		s.log.Warn("status page action: not ready", zap.String("request_id", requestID(r)), zap.Error(err))
		s.renderMessage(w, r, v, http.StatusServiceUnavailable, "The daemon cannot reach a store or source it needs yet (see /readyz); try again later.")
	case errors.Is(err, ErrUnavailable):
		s.renderMessage(w, r, v, http.StatusServiceUnavailable, "The daemon is shutting down; try again on the next instance.")
	case errors.Is(err, ErrArchiveUnavailable):
		s.log.Warn("status page action: the archive could not be read", zap.String("request_id", requestID(r)), zap.Error(err))
		s.renderMessage(w, r, v, http.StatusServiceUnavailable, "The archive could not be read; try again later. The daemon's log has the details under request id "+requestID(r)+".")
	default:
		id := requestID(r)
		s.log.Error("status page action failed", zap.String("request_id", id), zap.String("path", r.URL.Path),
			zap.String("schedule", name), zap.Error(err))
		s.renderMessage(w, r, v, http.StatusInternalServerError, internalMessage(id))
	}
}

// renderMessage is a page with one message (a refusal, a missing
// schedule).
func (s *Server) renderMessage(w http.ResponseWriter, r *http.Request, v viewer, status int, msg string) {
	pv := s.view(r, v)
	pv.Error = msg
	s.render(w, r, status, "message", struct {
		pageView
		Status int
	}{pv, status})
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	var buf bytes.Buffer
	if err := pageTemplates.ExecuteTemplate(&buf, name, data); err != nil {
		id := requestID(r)
		s.log.Error("render page", zap.String("page", name), zap.String("request_id", id), zap.Error(err))
		s.writeError(w, r, http.StatusInternalServerError, codeInternal, internalMessage(id))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// isPagePath says whether a path is one of the pages (which check the
// session themselves) rather than the API.
func isPagePath(p string) bool {
	return p == "/" || p == "/login" || p == "/logout" || strings.HasPrefix(p, "/schedules/")
}

func when(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format(time.RFC3339)
}

// ago says a duration the way a person reads it: 3d 4h, 2h 5m, 40s.
func ago(d time.Duration) string {
	neg := d < 0
	if neg {
		d = -d
	}
	var s string
	switch {
	case d >= 24*time.Hour:
		s = fmt.Sprintf("%dd %dh", d/(24*time.Hour), (d%(24*time.Hour))/time.Hour)
	case d >= time.Hour:
		s = fmt.Sprintf("%dh %dm", d/time.Hour, (d%time.Hour)/time.Minute)
	case d >= time.Minute:
		s = fmt.Sprintf("%dm %ds", d/time.Minute, (d%time.Minute)/time.Second)
	default:
		s = fmt.Sprintf("%ds", d/time.Second)
	}
	if neg {
		return "in " + s
	}
	return s
}
