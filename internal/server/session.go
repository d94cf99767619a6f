package server

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Who may see the status pages without signing in, the values of
// Options.PageAccess.
const (
	// PageAccessSignedIn: only browsers signed in with the API token.
	PageAccessSignedIn = "signed_in"
	// PageAccessAnyone: anyone who can reach the listener sees the pages
	// read-only (no buttons, no error texts); acting still needs a sign-in.
	PageAccessAnyone = "anyone"
)

// DefaultSessionTTL is how long a sign-in lasts.
const DefaultSessionTTL = 12 * time.Hour

// Cookie names. The login cookie carries the sign-in form's CSRF token
// until there is a session.
const (
	sessionCookie = "exportd_session"
	loginCookie   = "exportd_login"
)

// maxSessions bounds the session table: a sign-in beyond it drops the
// session that expires first.
const maxSessions = 10000

// session is one signed-in browser. Forms carry its csrf token.
type session struct {
	csrf    string
	expires time.Time
	// flash is a message for the next page this browser sees.
	flash string
}

// sessions is the server's in-memory session table: a restart signs
// everyone out, which a daemon restart may well do.
type sessions struct {
	mu  sync.Mutex
	ttl time.Duration
	m   map[string]*session
}

func newSessions(ttl time.Duration) *sessions {
	return &sessions{ttl: ttl, m: map[string]*session{}}
}

func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics instead)
	return hex.EncodeToString(b[:])
}

// create starts a session and returns its id.
func (ss *sessions) create(now time.Time) string {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if len(ss.m) >= maxSessions {
		var oldest string
		for id, s := range ss.m {
			if !now.Before(s.expires) {
				delete(ss.m, id)
				continue
			}
			if oldest == "" || s.expires.Before(ss.m[oldest].expires) {
				oldest = id
			}
		}
		if len(ss.m) >= maxSessions {
			delete(ss.m, oldest)
		}
	}
	id := randomToken()
	ss.m[id] = &session{csrf: randomToken(), expires: now.Add(ss.ttl)}
	return id
}

// get returns a copy of the live session id names.
func (ss *sessions) get(id string, now time.Time) (session, bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s, ok := ss.m[id]
	if !ok {
		return session{}, false
	}
	if !now.Before(s.expires) {
		delete(ss.m, id)
		return session{}, false
	}
	return *s, true
}

// takeFlash returns and clears the session's message.
func (ss *sessions) takeFlash(id string) string {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s, ok := ss.m[id]
	if !ok {
		return ""
	}
	f := s.flash
	s.flash = ""
	return f
}

func (ss *sessions) setFlash(id, msg string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if s, ok := ss.m[id]; ok {
		s.flash = msg
	}
}

func (ss *sessions) remove(id string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.m, id)
}

// secureRequest says whether the browser reached the daemon over TLS,
// directly or through a proxy that says so; its cookies are then Secure.
func secureRequest(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

func setCookie(w http.ResponseWriter, r *http.Request, name, value, path string, maxAge time.Duration) {
	c := &http.Cookie{
		Name: name, Value: value, Path: path,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: secureRequest(r),
	}
	if maxAge > 0 {
		c.MaxAge = int(maxAge / time.Second)
		c.Expires = time.Now().Add(maxAge)
	} else {
		c.MaxAge = -1
	}
	http.SetCookie(w, c)
}
