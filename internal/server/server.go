// Package server is exportd's HTTP API: schedules and their state, run now,
// run history, windows, pause and resume, health and readiness, Prometheus
// metrics, and the status pages for operators (server-rendered, no
// script; Run now, pause and resume as forms behind a sign-in with the API
// token). It also holds the API's client, used by the CLI.
//
// The server sees the daemon only through the small Trigger interface, so
// it can be tested against canned state and never imports the scheduler or
// the export code.
//
// Access: with a token configured, mutating calls (POST) need it; on a
// listener that is not loopback every call but /healthz and /readyz needs
// it. Without a token, mutating calls are refused unless the listener is
// loopback (the configuration makes a token mandatory off loopback).
// The pages (/, /login, /logout, /schedules/...) have their own rule: a
// browser signs in with the token to a session cookie, forms need the
// session and its CSRF token, and Options.PageAccess says whether the
// read-only pages need the sign-in too (the default) or not.
// Error answers never carry internal error text (SQL, host names): a 500
// says only "internal error" and a request id that finds the full error in
// the daemon's log.
package server

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
)

// Defaults of the Options timeouts.
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	DefaultIdleTimeout       = 2 * time.Minute
	DefaultShutdownTimeout   = 10 * time.Second
)

// maxBodyBytes bounds a request body (run requests are a few bytes).
const maxBodyBytes = 1 << 20

// Options configure New.
type Options struct {
	// Listen is the address ListenAndServe binds (host:port).
	Listen string
	// Token is the resolved API token; "" means none. It is never logged.
	Token string
	// Loopback says the listener is loopback-only (127.0.0.0/8, ::1,
	// localhost). It relaxes access (see the package doc); Serve ignores
	// it when the listener it is given is not on a loopback address.
	Loopback bool
	// Trigger is the daemon.
	Trigger Trigger
	// Gatherer is the registry served on /metrics.
	Gatherer prometheus.Gatherer
	// Logger gets the access log (debug) and server errors; nil is a no-op.
	Logger *zap.Logger
	// Version is shown on the status page.
	Version string
	// PageAccess says who sees the status pages: PageAccessSignedIn ("" is
	// the same) or PageAccessAnyone.
	PageAccess string
	// SessionTTL is how long a browser's sign-in lasts; zero means
	// DefaultSessionTTL.
	SessionTTL time.Duration

	// Timeouts of the HTTP server; zero means the Default constants.
	// There is no write timeout: POST .../run?wait=true answers when the
	// export ends.
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	IdleTimeout       time.Duration
	// ShutdownTimeout bounds the graceful shutdown when Serve's context
	// ends; requests still running then are cut off.
	ShutdownTimeout time.Duration
}

func (o *Options) validate() error {
	var errs []error
	if o.Trigger == nil {
		errs = append(errs, errors.New("Options.Trigger is required"))
	}
	if o.Gatherer == nil {
		errs = append(errs, errors.New("Options.Gatherer is required (the registry to serve on /metrics)"))
	}
	if o.Listen != "" {
		if _, _, err := net.SplitHostPort(o.Listen); err != nil {
			errs = append(errs, fmt.Errorf("Options.Listen %q: want host:port: %w", o.Listen, err))
		}
	}
	if o.Token != "" && !validToken(o.Token) {
		// A header value cannot carry these, so no client could ever
		// authenticate; most likely a token file's newline was kept.
		errs = append(errs, errors.New("Options.Token: contains whitespace or control characters"))
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"ReadHeaderTimeout", &o.ReadHeaderTimeout, DefaultReadHeaderTimeout},
		{"ReadTimeout", &o.ReadTimeout, DefaultReadTimeout},
		{"IdleTimeout", &o.IdleTimeout, DefaultIdleTimeout},
		{"ShutdownTimeout", &o.ShutdownTimeout, DefaultShutdownTimeout},
		{"SessionTTL", &o.SessionTTL, DefaultSessionTTL},
	} {
		switch {
		case *d.v < 0:
			errs = append(errs, fmt.Errorf("Options.%s: must be >= 0, got %s", d.name, *d.v))
		case *d.v == 0:
			*d.v = d.def
		}
	}
	switch o.PageAccess {
	case "":
		o.PageAccess = PageAccessSignedIn
	case PageAccessSignedIn, PageAccessAnyone:
	default:
		errs = append(errs, fmt.Errorf("Options.PageAccess %q: want %q or %q", o.PageAccess, PageAccessSignedIn, PageAccessAnyone))
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("server: %w", err)
	}
	return nil
}

// Server is the HTTP API. It serves once: after Serve returns, build a new
// one.
type Server struct {
	opts      Options
	log       *zap.Logger
	trigger   Trigger
	tokenSet  bool
	tokenHash [sha256.Size]byte
	loopback  atomic.Bool
	ready     atomic.Int32 // last readiness seen: 0 unknown, 1 ready, 2 not ready
	mux       *http.ServeMux
	handler   http.Handler
	inflight  inflight
	sessions  *sessions
	// routes are the mux's patterns, as registered.
	routes []string
}

// handle registers a route on the mux and remembers its pattern.
func (s *Server) handle(pattern string, h http.Handler) {
	s.mux.Handle(pattern, h)
	s.routes = append(s.routes, pattern)
}

// Routes are the patterns the server serves ("GET /api/v1/runs"), in the
// order they were registered; docs/openapi.yaml describes each one.
func (s *Server) Routes() []string { return slices.Clone(s.routes) }

// New checks o and builds a Server.
func New(o Options) (*Server, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	s := &Server{opts: o, log: o.Logger, trigger: o.Trigger, tokenSet: o.Token != "", sessions: newSessions(o.SessionTTL)}
	if s.tokenSet {
		s.tokenHash = sha256.Sum256([]byte(o.Token))
	}
	s.loopback.Store(o.Loopback)

	s.mux = http.NewServeMux()
	s.handle("GET /healthz", http.HandlerFunc(s.healthz))
	s.handle("GET /readyz", http.HandlerFunc(s.readyz))
	s.handle("GET /metrics", promhttp.HandlerFor(o.Gatherer, promhttp.HandlerOpts{
		ErrorLog: zapPromLogger{s.log}, ErrorHandling: promhttp.ContinueOnError,
	}))
	s.handle("GET /{$}", http.HandlerFunc(s.statusPage))
	s.handle("GET /login", http.HandlerFunc(s.loginPage))
	s.handle("POST /login", http.HandlerFunc(s.login))
	s.handle("POST /logout", http.HandlerFunc(s.logout))
	s.handle("GET /schedules/{name}", http.HandlerFunc(s.schedulePage))
	s.handle("POST /schedules/{name}/run", http.HandlerFunc(s.runNowForm))
	s.handle("POST /schedules/{name}/pause", http.HandlerFunc(s.pauseForm))
	s.handle("POST /schedules/{name}/resume", http.HandlerFunc(s.resumeForm))
	s.handle("GET /api/v1/schedules", http.HandlerFunc(s.listSchedules))
	s.handle("GET /api/v1/schedules/{name}", http.HandlerFunc(s.getSchedule))
	s.handle("POST /api/v1/schedules/{name}/run", http.HandlerFunc(s.runNow))
	s.handle("POST /api/v1/schedules/{name}/pause", http.HandlerFunc(s.pause))
	s.handle("POST /api/v1/schedules/{name}/resume", http.HandlerFunc(s.resume))
	s.handle("GET /api/v1/schedules/{name}/windows", http.HandlerFunc(s.listWindows))
	s.handle("GET /api/v1/runs", http.HandlerFunc(s.listRuns))

	// Browsers can send cross-origin POSTs without a preflight; with no
	// token on loopback nothing else would stop a web page from pausing
	// schedules through the operator's browser.
	csrf := http.NewCrossOriginProtection()
	csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, http.StatusForbidden, codeForbidden, "cross-origin request refused")
	}))
	s.handler = s.observe(s.authorize(csrf.Handler(http.HandlerFunc(s.route))))
	return s, nil
}

// Handler is the server's handler, for callers that run their own
// http.Server (and tests). It applies Options.Loopback as given.
func (s *Server) Handler() http.Handler { return s.handler }

// ListenAndServe binds Options.Listen and serves until ctx ends.
func (s *Server) ListenAndServe(ctx context.Context) error {
	if s.opts.Listen == "" {
		return errors.New("server: Options.Listen is empty")
	}
	ln, err := net.Listen("tcp", s.opts.Listen)
	if err != nil {
		return fmt.Errorf("server: listen: %w", err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx ends, then shuts down gracefully: it stops
// accepting, lets requests in progress finish for up to
// Options.ShutdownTimeout, then cuts the rest off (their contexts are
// cancelled, so Trigger methods must return when ctx is done). When Serve
// returns, no handler is running: the caller may tear the Trigger down.
// It returns nil after a graceful shutdown.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if s.loopback.Load() && !isLoopbackAddr(ln.Addr()) {
		s.log.Warn("listener is not loopback; serving with the non-loopback access rules", zap.String("addr", ln.Addr().String()))
		s.loopback.Store(false)
	}
	errLog, err := zap.NewStdLogAt(s.log.Named("http"), zap.WarnLevel)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: s.opts.ReadHeaderTimeout,
		ReadTimeout:       s.opts.ReadTimeout,
		IdleTimeout:       s.opts.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          errLog,
	}
	s.log.Info("http api listening", zap.String("addr", ln.Addr().String()),
		zap.Bool("loopback", s.loopback.Load()), zap.Bool("token", s.tokenSet))

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		s.inflight.drain()
		return fmt.Errorf("server: serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}

	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.ShutdownTimeout)
	defer cancel()
	err = srv.Shutdown(sctx)
	if err != nil {
		_ = srv.Close()
		err = fmt.Errorf("server: requests still running %s after shutdown began were cut off: %w", s.opts.ShutdownTimeout, err)
	}
	<-served // http.ErrServerClosed
	<-s.inflight.drain()
	s.log.Info("http api stopped", zap.String("addr", ln.Addr().String()))
	return err
}

// inflight counts running handlers so Serve can return only when none is
// left: http.Server.Close does not wait for them.
type inflight struct {
	mu      sync.Mutex
	n       int
	closing bool
	zero    chan struct{}
}

// enter registers a handler; false once the server is draining.
func (f *inflight) enter() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closing {
		return false
	}
	f.n++
	return true
}

func (f *inflight) leave() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n--
	if f.n == 0 && f.zero != nil {
		close(f.zero)
		f.zero = nil
	}
}

// drain refuses new handlers and returns a channel closed when none runs.
func (f *inflight) drain() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closing = true
	c := make(chan struct{})
	if f.n == 0 {
		close(c)
		return c
	}
	if f.zero == nil {
		f.zero = c
	}
	return f.zero
}

// zapPromLogger sends promhttp's errors to zap.
type zapPromLogger struct{ log *zap.Logger }

func (l zapPromLogger) Println(v ...any) { l.log.Warn("metrics: " + fmt.Sprint(v...)) }
