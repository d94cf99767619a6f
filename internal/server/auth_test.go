package server

import (
	"crypto/sha256"
	"net"
	"strings"
	"testing"
)

// access is one call and its expected status under an access mode.
type access struct {
	method, path, token string
	status              int
}

func checkAccess(t *testing.T, ts *testServer, cases []access, header ...string) {
	t.Helper()
	for _, c := range cases {
		a := ts.call(t, c.method, c.path, c.token, "", header...)
		if a.Status != c.status {
			t.Errorf("%s %s token=%q: status %d, want %d (%s)", c.method, c.path, c.token, a.Status, c.status, a.Body)
		}
		if a.Status == 401 && !strings.HasPrefix(a.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s %s: 401 without WWW-Authenticate: Bearer", c.method, c.path)
		}
	}
}

const runPath = "/api/v1/schedules/daily-logins/run"

func TestAccessTokenOnLoopback(t *testing.T) {
	ts := start(t) // token set, loopback
	checkAccess(t, ts, []access{
		// Reads are open on loopback.
		{"GET", "/api/v1/schedules", "", 200},
		{"GET", "/api/v1/runs", "", 200},
		{"GET", "/metrics", "", 200},
		// The pages need a sign-in by default, even on loopback.
		{"GET", "/", "", 303},
		{"GET", "/", testToken, 200},
		// Mutating calls need the token.
		{"POST", runPath, "", 401},
		{"POST", "/api/v1/schedules/daily-logins/pause", "", 401},
		{"POST", "/api/v1/schedules/daily-logins/resume", "", 401},
		{"POST", runPath, "wrong", 401},
		{"POST", runPath, testToken + "x", 401},
		{"POST", runPath, testToken[:len(testToken)-1], 401},
		{"POST", runPath, testToken, 202},
		// A wrong token fails even on a read that needs none.
		{"GET", "/api/v1/schedules", "wrong", 401},
		// Health never needs one, and a stray wrong one does not matter.
		{"GET", "/healthz", "", 200},
		{"GET", "/readyz", "wrong", 200},
	})
	// The auth scheme is case-insensitive; other schemes are not bearer.
	for _, tc := range []struct {
		header string
		status int
	}{
		{"bearer " + testToken, 202},
		{"BEARER  " + testToken, 202},
		{"Basic " + testToken, 401},
		{testToken, 401},
		{"Bearer", 401},
	} {
		a := ts.call(t, "POST", runPath, "", "", "Authorization", tc.header)
		if a.Status != tc.status {
			t.Errorf("Authorization %q: status %d, want %d", strings.Replace(tc.header, testToken, "<token>", 1), a.Status, tc.status)
		}
	}
	a := ts.call(t, "POST", runPath, "wrong", "")
	if got := a.Header.Get("WWW-Authenticate"); !strings.Contains(got, `error="invalid_token"`) {
		t.Errorf("wrong token: WWW-Authenticate %q", got)
	}
}

func TestAccessTokenOffLoopback(t *testing.T) {
	ts := start(t, func(o *Options) { o.Loopback = false })
	checkAccess(t, ts, []access{
		{"GET", "/healthz", "", 200},
		{"GET", "/readyz", "", 200},
		{"GET", "/api/v1/schedules", "", 401},
		{"GET", "/api/v1/schedules/daily-logins", "", 401},
		{"GET", "/api/v1/runs", "", 401},
		{"GET", "/metrics", "", 401},
		// The pages send a browser to the sign-in form instead.
		{"GET", "/", "", 303},
		{"GET", "/schedules/daily-logins", "", 303},
		{"GET", "/login", "", 200},
		{"POST", "/schedules/daily-logins/run", "", 403},
		{"GET", "/no/such/path", "", 401}, // no probing of the route table
		{"POST", runPath, "", 401},
		{"GET", "/api/v1/schedules", "wrong", 401},
		{"GET", "/api/v1/schedules", testToken, 200},
		{"GET", "/metrics", testToken, 200},
		{"GET", "/", testToken, 200},
		{"POST", runPath, testToken, 202},
	})
}

func TestAccessNoTokenOnLoopback(t *testing.T) {
	ts := start(t, func(o *Options) { o.Token = "" })
	checkAccess(t, ts, []access{
		{"GET", "/api/v1/schedules", "", 200},
		{"POST", runPath, "", 202},
		{"POST", "/api/v1/schedules/daily-logins/pause", "", 200},
		// A token sent to a server without one is ignored.
		{"POST", runPath, "anything", 202},
	})
	// Local callers are trusted then: they see run errors and 400 reasons.
	a := ts.call(t, "GET", "/api/v1/runs?schedule=daily-logins", "", "")
	if !strings.Contains(a.Body, "SELECT") {
		t.Errorf("tokenless loopback caller should see run errors: %s", a.Body)
	}
	// A DNS-rebinding page reaches the port under its own host name.
	checkAccess(t, ts, []access{
		{"GET", "/api/v1/schedules", "", 403},
		{"POST", runPath, "", 403},
		{"GET", "/healthz", "", 200},
	}, "Host", "evil.example.com:8080")
	checkAccess(t, ts, []access{{"POST", runPath, "", 202}}, "Host", "localhost:8080")
	checkAccess(t, ts, []access{{"POST", runPath, "", 202}}, "Host", "[::1]:8080")
}

func TestAccessNoTokenOffLoopback(t *testing.T) {
	// The configuration refuses this; the server still fails safe.
	ts := start(t, func(o *Options) { o.Token, o.Loopback = "", false })
	checkAccess(t, ts, []access{
		{"GET", "/healthz", "", 200},
		{"GET", "/readyz", "", 200},
		{"GET", "/api/v1/schedules", "", 403},
		{"GET", "/metrics", "", 403},
		{"POST", runPath, "", 403},
		{"POST", runPath, "anything", 403},
	})
}

func TestCrossOriginBrowserPostsAreRefused(t *testing.T) {
	ts := start(t, func(o *Options) { o.Token = "" })
	a := ts.call(t, "POST", runPath, "", "", "Sec-Fetch-Site", "cross-site")
	wantError(t, a, 403, codeForbidden)
	a = ts.call(t, "POST", runPath, "", "", "Origin", "https://evil.example.com")
	wantError(t, a, 403, codeForbidden)
	// The same origin (the status page's own forms, if any) is fine.
	wantStatus(t, ts.call(t, "POST", runPath, "", "", "Sec-Fetch-Site", "same-origin"), 202)
	// Reads are not state changes.
	wantStatus(t, ts.call(t, "GET", "/api/v1/schedules", "", "", "Sec-Fetch-Site", "cross-site"), 200)
}

func TestTokensEqual(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"secret", "secret", true},
		{"secret", "secreT", false},
		{"secret", "secret-longer", false},
		{"secret", "", false},
		{"", "", true},
	} {
		if got := tokensEqual(tc.a, tc.b); got != tc.want {
			t.Errorf("tokensEqual(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
	s := &Server{tokenSet: true}
	s.tokenHash = sha(testToken)
	if !s.tokenMatches(testToken) || s.tokenMatches(testToken+" ") || s.tokenMatches("") {
		t.Error("tokenMatches")
	}
}

func TestLoopbackDetection(t *testing.T) {
	for listen, want := range map[string]bool{
		"127.0.0.1:8080": true, "127.1.2.3:80": true, "[::1]:8080": true, "localhost:8080": true,
		":8080": false, "0.0.0.0:8080": false, "[::]:8080": false, "10.0.0.5:8080": false,
		"exportd.internal:8080": false, "127.0.0.1": false,
	} {
		if got := IsLoopback(listen); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", listen, got, want)
		}
	}
	for addr, want := range map[string]bool{"127.0.0.1:1": true, "[::1]:1": true, "10.1.2.3:1": false, "[::]:1": false} {
		a, err := net.ResolveTCPAddr("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := isLoopbackAddr(a); got != want {
			t.Errorf("isLoopbackAddr(%s) = %v", addr, got)
		}
	}
}

func sha(s string) [sha256.Size]byte { return sha256.Sum256([]byte(s)) }
