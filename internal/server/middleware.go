package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"
)

type ctxKey int

const (
	requestIDKey ctxKey = iota
	trustedKey
)

// requestID is the id of the request, in every answer's X-Request-Id header
// and in its log lines.
func requestID(r *http.Request) string {
	id, _ := r.Context().Value(requestIDKey).(string)
	return id
}

// trusted says whether the caller may see internal error text (400
// reasons, the error of failed runs): it presented the token, or no token
// is configured and the listener is loopback (the operator chose to trust
// local callers; a token is mandatory anywhere else).
func trusted(r *http.Request) bool {
	t, _ := r.Context().Value(trustedKey).(bool)
	return t
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics instead)
	return hex.EncodeToString(b[:])
}

// statusWriter records the status and size of an answer for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observe gives every request an id, counts it in flight, turns a panic into
// a 500 and writes the access log line. The line has no headers at all, so
// the Authorization header cannot end up in a log.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := newRequestID()
		w.Header().Set("X-Request-Id", id)
		r = r.WithContext(context.WithValue(r.Context(), requestIDKey, id))
		sw := &statusWriter{ResponseWriter: w}
		if !s.inflight.enter() {
			s.writeError(sw, r, http.StatusServiceUnavailable, codeUnavailable, "server is shutting down")
			return
		}
		defer s.inflight.leave()
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("http handler panicked", zap.String("request_id", id),
					zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.Any("panic", v), zap.Stack("stack"))
				if sw.status == 0 {
					s.writeError(sw, r, http.StatusInternalServerError, codeInternal, internalMessage(id))
				}
			}
			s.log.Debug("http request",
				zap.String("request_id", id),
				zap.String("method", r.Method),
				zap.String("path", r.URL.Path),
				zap.Int("status", sw.status),
				zap.Int64("bytes", sw.bytes),
				zap.Duration("duration", time.Since(start)),
				zap.String("remote", r.RemoteAddr))
		}()
		next.ServeHTTP(sw, r)
	})
}

// authorize applies the access rules of the package doc.
func (s *Server) authorize(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		public := r.URL.Path == "/healthz" || r.URL.Path == "/readyz"
		mutating := r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodOptions
		loopback := s.loopback.Load()
		ok := false

		if isPagePath(r.URL.Path) {
			// The pages check the browser's session themselves; only the
			// rules that hold whatever the session apply here.
			if !s.tokenSet && (!loopback || !loopbackHost(r.Host)) {
				s.writeError(w, r, http.StatusForbidden, codeForbidden,
					"no API token is configured: only requests to a loopback host name are served")
				return
			}
			next.ServeHTTP(w, r)
			return
		}

		switch {
		case s.tokenSet:
			h := r.Header.Get("Authorization")
			if h != "" {
				tok, isBearer := bearerToken(h)
				ok = isBearer && s.tokenMatches(tok)
				if !ok && !public {
					// A wrong token fails even where none is needed: a
					// misconfigured client should find out now, not at
					// its first POST.
					w.Header().Set("WWW-Authenticate", `Bearer realm="exportd", error="invalid_token"`)
					s.writeError(w, r, http.StatusUnauthorized, codeUnauthorized,
						"invalid token: send the daemon's API token (server.token) as Authorization: Bearer <token>, or no Authorization header for /healthz and /readyz")
					return
				}
			}
			if !ok && !public && (mutating || !loopback) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="exportd"`)
				s.writeError(w, r, http.StatusUnauthorized, codeUnauthorized,
					"this call needs the API token: Authorization: Bearer <token>")
				return
			}
		default:
			ok = loopback
			if public {
				break
			}
			if !loopback {
				s.writeError(w, r, http.StatusForbidden, codeForbidden,
					"no API token is configured: on a non-loopback listener only /healthz and /readyz answer")
				return
			}
			// Without a token, the loopback address is the only
			// protection; a DNS-rebinding page would reach it under
			// its own host name.
			if !loopbackHost(r.Host) {
				s.writeError(w, r, http.StatusForbidden, codeForbidden,
					"no API token is configured: only requests to a loopback host name are served")
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), trustedKey, ok)))
	})
}

// bearerToken extracts the token of an "Authorization: Bearer <t>" header
// (the scheme is case-insensitive, RFC 7235).
func bearerToken(h string) (string, bool) {
	scheme, tok, found := strings.Cut(strings.TrimSpace(h), " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

func (s *Server) tokenMatches(presented string) bool {
	h := sha256.Sum256([]byte(presented))
	return subtle.ConstantTimeCompare(h[:], s.tokenHash[:]) == 1
}

// tokensEqual compares two tokens in time independent of their contents
// and lengths: both are hashed first, because ConstantTimeCompare returns
// early on a length mismatch.
func tokensEqual(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}

// validToken says whether t can travel in an Authorization header.
func validToken(t string) bool {
	for _, c := range []byte(t) {
		if c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

// route is the mux, with its own 404 and 405 answers turned into JSON.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	if _, pattern := s.mux.Handler(r); pattern != "" {
		s.mux.ServeHTTP(w, r)
		return
	}
	c := &captureWriter{header: http.Header{}}
	s.mux.ServeHTTP(c, r)
	switch c.status {
	case http.StatusNotFound:
		s.writeError(w, r, http.StatusNotFound, codeNotFound, "no such endpoint: "+r.URL.Path+"; the API's endpoints are under /api/v1 (see docs/openapi.yaml)")
	case http.StatusMethodNotAllowed:
		w.Header().Set("Allow", c.header.Get("Allow"))
		s.writeError(w, r, http.StatusMethodNotAllowed, codeMethodNotAllowed, r.Method+" is not allowed on "+r.URL.Path+"; use "+c.header.Get("Allow"))
	default: // redirects of unclean paths
		for k, v := range c.header {
			w.Header()[k] = v
		}
		w.WriteHeader(c.status)
		_, _ = w.Write(c.body.Bytes())
	}
}

type captureWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (c *captureWriter) Header() http.Header { return c.header }
func (c *captureWriter) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
}
func (c *captureWriter) Write(p []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	return c.body.Write(p)
}

func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// Answers are application/json with nosniff; escaping <>& only makes
	// them harder to read with curl.
	enc.SetEscapeHTML(false)
	err := enc.Encode(v)
	if err != nil {
		// Our own types always marshal; this is a bug, not a client's problem.
		s.log.Error("encode answer", zap.Error(err))
		http.Error(w, `{"error":"internal error","code":"internal"}`, http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	s.writeJSON(w, status, errorBody{Error: msg, Code: code, RequestID: requestID(r)})
}

func internalMessage(id string) string {
	return "internal error; the daemon's log has the details under request id " + id
}

// isLoopbackAddr says whether a listener's address is loopback-only.
func isLoopbackAddr(a net.Addr) bool {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.IP.IsLoopback()
	case *net.UnixAddr:
		return true // reachable only from this machine
	}
	return false
}

// loopbackHost says whether a Host header (or a listen address) names
// this machine's loopback interface: localhost, *.localhost, 127.0.0.0/8 or
// ::1.
func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// IsLoopback says whether a listen address (host:port) is loopback-only,
// for the caller that fills Options.Loopback. An empty host (":8080") or
// 0.0.0.0 listens everywhere and is not.
func IsLoopback(listen string) bool {
	h, _, err := net.SplitHostPort(listen)
	if err != nil || h == "" {
		return false
	}
	return loopbackHost(listen)
}
