package server

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// browser is an HTTP client with a cookie jar that does not follow
// redirects, as a page test sees a browser.
type browser struct {
	t    *testing.T
	ts   *testServer
	http *http.Client
}

func newBrowser(t *testing.T, ts *testServer) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, ts: ts, http: &http.Client{Transport: ts.client.Transport, Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) do(method, path string, form url.Values, header ...string) answer {
	b.t.Helper()
	var req *http.Request
	var err error
	if form != nil {
		req, err = http.NewRequest(method, b.ts.URL+path, strings.NewReader(form.Encode()))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	} else {
		req, err = http.NewRequest(method, b.ts.URL+path, nil)
	}
	if err != nil {
		b.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		if strings.EqualFold(header[i], "Host") {
			req.Host = header[i+1]
			continue
		}
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := b.http.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	var sb strings.Builder
	_, _ = fmt.Fprint(&sb, readAll(resp))
	return answer{resp.StatusCode, resp.Header, sb.String()}
}

func readAll(resp *http.Response) string {
	var sb strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			return sb.String()
		}
	}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

func csrfOf(t *testing.T, body string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF field in the page:\n%s", body)
	}
	return m[1]
}

// signIn signs b in with token and returns the session cookie's header.
func (b *browser) signIn(token string) string {
	b.t.Helper()
	a := b.do("GET", "/login?next=/schedules/daily-logins", nil)
	if a.Status != 200 {
		b.t.Fatalf("GET /login: %d", a.Status)
	}
	a = b.do("POST", "/login", url.Values{"csrf": {csrfOf(b.t, a.Body)}, "token": {token}, "next": {"/schedules/daily-logins"}})
	if a.Status != http.StatusSeeOther || a.Header.Get("Location") != "/schedules/daily-logins" {
		b.t.Fatalf("sign-in: %d to %q\n%s", a.Status, a.Header.Get("Location"), a.Body)
	}
	for _, c := range a.Header.Values("Set-Cookie") {
		if strings.HasPrefix(c, sessionCookie+"=") {
			return c
		}
	}
	b.t.Fatalf("sign-in set no session cookie: %v", a.Header.Values("Set-Cookie"))
	return ""
}

func TestPagesSignInAndSessionCookie(t *testing.T) {
	ts := start(t)
	b := newBrowser(t, ts)
	if a := b.do("GET", "/", nil); a.Status != http.StatusSeeOther || a.Header.Get("Location") != "/login?next=%2F" {
		t.Fatalf("GET / signed out: %d to %q", a.Status, a.Header.Get("Location"))
	}
	// A wrong token, and a sign-in form from elsewhere (no CSRF), fail.
	a := b.do("GET", "/login", nil)
	csrf := csrfOf(t, a.Body)
	if a := b.do("POST", "/login", url.Values{"csrf": {csrf}, "token": {"wrong"}}); a.Status != 401 || !strings.Contains(a.Body, "not the API token") {
		t.Errorf("wrong token: %d", a.Status)
	}
	if a := newBrowser(t, ts).do("POST", "/login", url.Values{"token": {testToken}}); a.Status != 403 {
		t.Errorf("sign-in without the form's CSRF token: %d, want 403", a.Status)
	}
	cookie := b.signIn(testToken)
	for _, want := range []string{"HttpOnly", "SameSite=Strict", "Max-Age=43200"} {
		if !strings.Contains(cookie, want) {
			t.Errorf("session cookie %q lacks %s", cookie, want)
		}
	}
	if strings.Contains(cookie, "Secure") {
		t.Errorf("session cookie over plain HTTP is Secure (the browser would drop it): %q", cookie)
	}
	if strings.Contains(cookie, testToken) {
		t.Error("the session cookie carries the API token")
	}
	if a := b.do("GET", "/", nil); a.Status != 200 || !strings.Contains(a.Body, "Sign out") {
		t.Fatalf("GET / signed in: %d", a.Status)
	}

	// Behind TLS (a proxy saying so) the cookie is Secure.
	tls := newBrowser(t, ts)
	a = tls.do("GET", "/login", nil, "X-Forwarded-Proto", "https")
	a = tls.do("POST", "/login", url.Values{"csrf": {csrfOf(t, a.Body)}, "token": {testToken}}, "X-Forwarded-Proto", "https")
	if c := strings.Join(a.Header.Values("Set-Cookie"), "\n"); !strings.Contains(c, sessionCookie+"=") || !strings.Contains(c, "; Secure") {
		t.Errorf("sign-in behind TLS: cookies %q lack Secure", c)
	}

	// Sessions expire.
	id := strings.TrimPrefix(strings.SplitN(cookie, ";", 2)[0], sessionCookie+"=")
	if _, ok := ts.Server.sessions.get(id, time.Now()); !ok {
		t.Fatal("session not found")
	}
	if _, ok := ts.Server.sessions.get(id, time.Now().Add(DefaultSessionTTL+time.Second)); ok {
		t.Error("session still valid after its TTL")
	}
	if a := b.do("GET", "/", nil); a.Status != http.StatusSeeOther {
		t.Errorf("GET / with an expired session: %d, want 303", a.Status)
	}

	// Sign out ends the session.
	b = newBrowser(t, ts)
	b.signIn(testToken)
	a = b.do("GET", "/", nil)
	if a := b.do("POST", "/logout", url.Values{"csrf": {csrfOf(t, a.Body)}}); a.Status != http.StatusSeeOther {
		t.Fatalf("sign out: %d", a.Status)
	}
	if a := b.do("GET", "/", nil); a.Status != http.StatusSeeOther {
		t.Errorf("GET / after sign out: %d, want 303", a.Status)
	}
}

func TestPagesShowSchedulesAndTimeline(t *testing.T) {
	ts := start(t)
	day := func(d int) Window {
		s := time.Date(2026, 11, d, 8, 0, 0, 0, time.UTC)
		return Window{Start: s, End: s.AddDate(0, 0, 1)}
	}
	ts.Trigger.set(func(f *fakeTrigger) {
		f.windows = []WindowStatus{
			{ID: "2026-11-19", Window: day(19), State: WindowArchived, Key: "a/dt=2026-11-19/x.csv.gz"},
			{ID: "2026-11-20", Window: day(20), State: WindowSkipped},
			{ID: "2026-11-21", Window: day(21), State: WindowLost},
			{ID: "2026-11-22", Window: day(22), State: WindowMissing},
			{ID: "2026-11-23", Window: day(23), State: WindowRunning},
		}
	})
	b := newBrowser(t, ts)
	b.signIn(testToken)
	a := b.do("GET", "/", nil)
	for _, want := range []string{
		"daily-logins", "user-snapshot", "America/Los_Angeles", "<code>15 2 * * *</code>",
		"2026-11-25T10:15:00Z",                         // next fire, UTC
		`state-failing">failing`,                       // state
		"3 failed runs in a row: query failed: SELECT", // why, with the error for a signed-in user
		"2026-11-23T08:00:00Z",                         // freshness
		"behind",
		`&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;`,
		`action="/schedules/daily-logins/run"`, "Run now", "Pause",
		"v0.0.0-test",
	} {
		if !strings.Contains(a.Body, want) {
			t.Errorf("overview lacks %q", want)
		}
	}
	// Lost (2) and missing (1 of the windows) counts.
	if !regexp.MustCompile(`class="num bad">2<`).MatchString(a.Body) || !regexp.MustCompile(`class="num bad">1<`).MatchString(a.Body) {
		t.Errorf("overview lacks the lost and missing counts:\n%s", a.Body)
	}
	if strings.Contains(a.Body, "<script") {
		t.Error("page has a script element")
	}
	if csp := a.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP %q", csp)
	}

	a = b.do("GET", "/schedules/daily-logins", nil)
	if a.Status != 200 {
		t.Fatalf("schedule page: %d", a.Status)
	}
	for _, st := range []string{WindowArchived, WindowSkipped, WindowLost, WindowMissing, WindowRunning} {
		if !strings.Contains(a.Body, `data-state="`+st+`"`) {
			t.Errorf("timeline lacks a %s window", st)
		}
	}
	for _, want := range []string{"<svg", "2026-11-19: archived — a/dt=2026-11-19/x.csv.gz", "Last 5 windows", `data-run="r-2"`, `data-run="r-1"`, "catch-up"} {
		if !strings.Contains(a.Body, want) {
			t.Errorf("schedule page lacks %q", want)
		}
	}
	if strings.Contains(a.Body, `data-run="r-3"`) {
		t.Error("schedule page shows another schedule's run")
	}
	if a := b.do("GET", "/schedules/nope", nil); a.Status != 404 {
		t.Errorf("unknown schedule page: %d", a.Status)
	}
	// A snapshot schedule has no timeline.
	if a := b.do("GET", "/schedules/user-snapshot", nil); a.Status != 200 || strings.Contains(a.Body, "<svg") {
		t.Errorf("snapshot schedule page: %d, svg=%v", a.Status, strings.Contains(a.Body, "<svg"))
	}
	// An archive that cannot be read is a question mark, not a failed page.
	ts.Trigger.set(func(f *fakeTrigger) { f.windowsErr = errCanned })
	if a := b.do("GET", "/", nil); a.Status != 200 || !strings.Contains(a.Body, "?</td>") {
		t.Errorf("overview with an unreadable archive: %d", a.Status)
	}
	// With many schedules the overview does not read every archive: each
	// schedule's page has its count.
	ts.Trigger.set(func(f *fakeTrigger) {
		for i := range overviewWindowsMax {
			f.schedules = append(f.schedules, ScheduleStatus{Name: fmt.Sprintf("s-%03d", i), Cron: "@daily", Timezone: "UTC", Windowed: true, Status: StatusIdle})
		}
	})
	if a := b.do("GET", "/", nil); a.Status != 200 || strings.Contains(a.Body, "?</td>") || !strings.Contains(a.Body, `<a href="/schedules/s-099">see</a>`) {
		t.Errorf("overview of %d schedules: %d, read the archives: %v", overviewWindowsMax+2, a.Status, strings.Contains(a.Body, "?</td>"))
	}
}

func TestPagesButtons(t *testing.T) {
	ts := start(t)
	b := newBrowser(t, ts)
	b.signIn(testToken)
	page := b.do("GET", "/schedules/daily-logins", nil)
	csrf := csrfOf(t, page.Body)

	// Run now.
	a := b.do("POST", "/schedules/daily-logins/run", url.Values{"csrf": {csrf}})
	if a.Status != http.StatusSeeOther || a.Header.Get("Location") != "/schedules/daily-logins" {
		t.Fatalf("run now: %d to %q", a.Status, a.Header.Get("Location"))
	}
	if r := ts.Trigger.req(); r == nil || r.Schedule != "daily-logins" || r.Wait {
		t.Fatalf("run request %+v", r)
	}
	if a := b.do("GET", "/schedules/daily-logins", nil); !strings.Contains(a.Body, "Run started") {
		t.Error("no message after Run now")
	}

	// Run now while running: the 409 is a message on the page.
	ts.Trigger.set(func(f *fakeTrigger) { f.runErr = fmt.Errorf("schedule: %w", ErrRunning) })
	a = b.do("POST", "/schedules/daily-logins/run", url.Values{"csrf": {csrf}})
	if a.Status != http.StatusConflict || !strings.Contains(a.Body, "in progress") || !strings.Contains(a.Body, `id="runs"`) {
		t.Errorf("run now while running: %d\n%s", a.Status, a.Body)
	}
	ts.Trigger.set(func(f *fakeTrigger) { f.runErr = nil })

	// Pause and resume.
	if a := b.do("POST", "/schedules/daily-logins/pause", url.Values{"csrf": {csrf}}); a.Status != http.StatusSeeOther {
		t.Fatalf("pause: %d", a.Status)
	}
	a = b.do("GET", "/schedules/daily-logins", nil)
	if !strings.Contains(a.Body, "Schedule daily-logins paused.") || !strings.Contains(a.Body, `value="resume"`) {
		t.Errorf("after pause: no message or no Resume button")
	}
	if a := b.do("POST", "/schedules/daily-logins/resume", url.Values{"csrf": {csrf}, "back": {"overview"}}); a.Status != http.StatusSeeOther || a.Header.Get("Location") != "/" {
		t.Fatalf("resume: %d to %q", a.Status, a.Header.Get("Location"))
	}
	if st, _ := ts.Trigger.Schedules(t.Context())[0], 0; st.Paused {
		t.Error("still paused after Resume")
	}

	// No CSRF token, a wrong one, or no session: refused, nothing done.
	ts.Trigger.set(func(f *fakeTrigger) { f.lastReq = nil })
	for name, tc := range map[string]struct {
		b    *browser
		form url.Values
	}{
		"no token":   {b, url.Values{}},
		"wrong one":  {b, url.Values{"csrf": {strings.Repeat("0", 64)}}},
		"no session": {newBrowser(t, ts), url.Values{"csrf": {csrf}}},
	} {
		for _, action := range []string{"run", "pause"} {
			a := tc.b.do("POST", "/schedules/daily-logins/"+action, tc.form)
			if a.Status != http.StatusForbidden {
				t.Errorf("%s, %s: status %d, want 403", name, action, a.Status)
			}
		}
	}
	if ts.Trigger.req() != nil {
		t.Error("a refused form started a run")
	}
	if ts.Trigger.Schedules(t.Context())[0].Paused {
		t.Error("a refused form paused the schedule")
	}
	// The API's bearer token does not stand in for the form's CSRF token.
	if a := newBrowser(t, ts).do("POST", "/schedules/daily-logins/run", url.Values{}, "Authorization", "Bearer "+testToken); a.Status != http.StatusForbidden {
		t.Errorf("form post with only a bearer token: %d, want 403", a.Status)
	}
}

func TestPagesForAnyone(t *testing.T) {
	ts := start(t, func(o *Options) { o.PageAccess = PageAccessAnyone })
	b := newBrowser(t, ts)
	a := b.do("GET", "/", nil)
	if a.Status != 200 {
		t.Fatalf("GET / for anyone: %d", a.Status)
	}
	if strings.Contains(a.Body, "SELECT") {
		t.Error("the run's error is shown to a reader who did not sign in")
	}
	if strings.Contains(a.Body, "Run now") || strings.Contains(a.Body, `name="csrf"`) {
		t.Error("buttons shown to a reader who did not sign in")
	}
	if !strings.Contains(a.Body, "Sign in") {
		t.Error("no sign-in link")
	}
	if _, err := New(Options{Trigger: ts.Trigger, Gatherer: ts.Reg, PageAccess: "everyone"}); err == nil || !strings.Contains(err.Error(), "PageAccess") {
		t.Errorf("bad PageAccess: %v", err)
	}
}

func TestPagesWithoutToken(t *testing.T) {
	// Loopback without a token: the operator's local browser needs no
	// sign-in, but forms still need the CSRF token.
	ts := start(t, func(o *Options) { o.Token = "" })
	b := newBrowser(t, ts)
	a := b.do("GET", "/", nil)
	if a.Status != 200 || !strings.Contains(a.Body, "Run now") {
		t.Fatalf("GET / without a token: %d", a.Status)
	}
	if a := b.do("POST", "/schedules/daily-logins/pause", url.Values{}); a.Status != 403 {
		t.Errorf("form without CSRF: %d", a.Status)
	}
	if a := b.do("POST", "/schedules/daily-logins/pause", url.Values{"csrf": {csrfOf(t, a.Body)}}); a.Status != http.StatusSeeOther {
		t.Errorf("form with CSRF: %d", a.Status)
	}
	// A DNS-rebinding page reaches the listener under its own host name.
	if a := b.do("GET", "/", nil, "Host", "evil.example:8080"); a.Status != 403 {
		t.Errorf("foreign Host: %d", a.Status)
	}
}

// TestPagesSayNotReady: while the daemon waits for a store or source, every
// page says so, with the reason for a signed-in viewer only.
func TestPagesSayNotReady(t *testing.T) {
	ts := start(t, func(o *Options) { o.PageAccess = PageAccessAnyone })
	b := newBrowser(t, ts)
	if a := b.do("GET", "/", nil); a.Status != 200 || strings.Contains(a.Body, "Not ready") {
		t.Fatalf("GET / while ready: %d, banner shown: %v", a.Status, strings.Contains(a.Body, "Not ready"))
	}
	ts.Trigger.set(func(f *fakeTrigger) {
		f.readyErr = &NotReadyError{Component: "destination integration lake (bucket audit)",
			Err: errors.New("connection refused"), Attempts: 3, NextRetry: time.Date(2026, 11, 25, 10, 0, 8, 0, time.UTC)}
	})
	a := b.do("GET", "/", nil)
	if a.Status != 200 || !strings.Contains(a.Body, "Not ready") {
		t.Fatalf("GET / while not ready: %d, no banner:\n%s", a.Status, a.Body)
	}
	if strings.Contains(a.Body, "connection refused") {
		t.Error("the reason is shown to a reader who did not sign in")
	}
	b.signIn(testToken)
	for _, path := range []string{"/", "/schedules/daily-logins"} {
		a := b.do("GET", path, nil)
		if a.Status != 200 || !strings.Contains(a.Body, "Not ready: cannot reach destination integration lake (bucket audit): connection refused (attempt 3; next retry at 2026-11-25T10:00:08Z).") {
			t.Errorf("GET %s signed in while not ready: %d, no reason in the banner:\n%s", path, a.Status, a.Body)
		}
	}
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"/schedules/x": "/schedules/x", "": "/", "//evil.example/": "/", "https://evil.example/": "/",
		"/\\evil": "/", "schedules": "/",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWindowsEndpoint(t *testing.T) {
	ts := start(t)
	s := time.Date(2026, 11, 20, 0, 0, 0, 0, la)
	ts.Trigger.set(func(f *fakeTrigger) {
		f.windows = []WindowStatus{
			{ID: "2026-11-20", Window: Window{Start: s, End: s.AddDate(0, 0, 1)}, State: WindowArchived, Key: "k"},
			{ID: "2026-11-21", Window: Window{Start: s.AddDate(0, 0, 1), End: s.AddDate(0, 0, 2)}, State: WindowMissing},
		}
	})
	a := ts.call(t, "GET", "/api/v1/schedules/daily-logins/windows?limit=1", "", "")
	wantStatus(t, a, 200)
	if want := `{"windows":[{"id":"2026-11-21","window":{"start":"2026-11-21T08:00:00Z","end":"2026-11-22T08:00:00Z"},"state":"missing"}]}`; strings.TrimSpace(a.Body) != want {
		t.Errorf("windows:\n%s\nwant\n%s", a.Body, want)
	}
	wantStatus(t, ts.call(t, "GET", "/api/v1/schedules/nope/windows", "", ""), 404)
	wantStatus(t, ts.call(t, "GET", "/api/v1/schedules/daily-logins/windows?limit=0", "", ""), 400)
	wantStatus(t, ts.call(t, "GET", "/api/v1/schedules/daily-logins/windows?x=1", "", ""), 400)
	// An archive that cannot be read is a 503 to retry, its error only in the log.
	ts.Trigger.set(func(f *fakeTrigger) { f.windowsErr = fmt.Errorf("%w: %s", ErrArchiveUnavailable, secretError) })
	a = ts.call(t, "GET", "/api/v1/schedules/daily-logins/windows", testToken, "")
	wantStatus(t, a, 503)
	if strings.Contains(a.Body, "SELECT") || a.Header.Get("Retry-After") == "" {
		t.Errorf("unreadable archive: %s (Retry-After %q)", a.Body, a.Header.Get("Retry-After"))
	}
	ts.Trigger.set(func(f *fakeTrigger) { f.windowsErr = nil })
	a = ts.call(t, "GET", "/api/v1/schedules/user-snapshot/windows", "", "")
	if strings.TrimSpace(a.Body) != `{"windows":[]}` {
		t.Errorf("snapshot schedule: %s", a.Body)
	}
}
