package testenv

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"testing"
)

// SnowProxy is a small pass-through HTTP proxy on 127.0.0.1 between
// gosnowflake and fakesnow. Every request goes to the emulator unchanged
// unless the hook answers it first, which lets a test put in what the
// emulator cannot do: a session that expires mid-run, a refused login, a
// statement the emulator does not run (COPY INTO <location>).
type SnowProxy struct {
	// Host and Port are where gosnowflake connects (protocol http).
	Host string
	Port int

	rp  *httputil.ReverseProxy
	srv *http.Server

	mu       sync.Mutex
	hook     SnowHook
	requests []string // path of every request, in order
}

// SnowRequest is a request to the Snowflake HTTP API as the hook sees it.
type SnowRequest struct {
	// Path is the URL path, e.g. /queries/v1/query-request,
	// /session/v1/login-request, /session/token-request.
	Path  string
	Query url.Values
	// Body is the request body, gunzipped.
	Body []byte
	// SQL is sqlText from a query-request's body, else "".
	SQL string
	// Seq counts the requests to this path, from 1.
	Seq int

	ctx context.Context
}

// Context is the HTTP request's context: done when the client gives up.
func (r *SnowRequest) Context() context.Context { return r.ctx }

// SnowHook answers a request itself and returns true, or returns false to
// let it through to the emulator. It runs on the proxy's goroutines.
type SnowHook func(w http.ResponseWriter, r *SnowRequest) bool

// StartSnowProxy starts a proxy in front of f for t and stops it when t ends.
func StartSnowProxy(t testing.TB, f *Fakesnow) *SnowProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	target, _ := url.Parse(f.URL())
	p := &SnowProxy{Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, rp: httputil.NewSingleHostReverseProxy(target)}
	p.rp.ErrorLog = nil
	p.srv = &http.Server{Handler: http.HandlerFunc(p.serve)}
	go func() { _ = p.srv.Serve(ln) }()
	t.Cleanup(func() { _ = p.srv.Close() })
	return p
}

// SetHook replaces the hook (nil lets everything through).
func (p *SnowProxy) SetHook(h SnowHook) {
	p.mu.Lock()
	p.hook = h
	p.mu.Unlock()
}

// Requests returns the paths of the requests seen so far, in order.
func (p *SnowProxy) Requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.requests...)
}

func (p *SnowProxy) serve(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	body := raw
	if r.Header.Get("Content-Encoding") == "gzip" {
		if zr, err := gzip.NewReader(bytes.NewReader(raw)); err == nil {
			if b, err := io.ReadAll(zr); err == nil {
				body = b
			}
		}
	}
	p.mu.Lock()
	p.requests = append(p.requests, r.URL.Path)
	seq := 0
	for _, q := range p.requests {
		if q == r.URL.Path {
			seq++
		}
	}
	hook := p.hook
	p.mu.Unlock()
	if hook != nil {
		req := &SnowRequest{Path: r.URL.Path, Query: r.URL.Query(), Body: body, Seq: seq, ctx: r.Context()}
		if r.URL.Path == "/queries/v1/query-request" {
			var q struct {
				SQLText string `json:"sqlText"`
			}
			_ = json.Unmarshal(body, &q)
			req.SQL = q.SQLText
		}
		if hook(w, req) {
			return
		}
	}
	r.Body = io.NopCloser(bytes.NewReader(raw))
	r.ContentLength = int64(len(raw))
	r.Header.Set("Content-Length", strconv.Itoa(len(raw)))
	p.rp.ServeHTTP(w, r)
}

// WriteSnowError answers a request as Snowflake answers a failed one: HTTP
// 200, success false, the error code (e.g. "390112") and message, and
// data.sqlState and data.queryId when given.
func WriteSnowError(w http.ResponseWriter, code, message, sqlState, queryID string) {
	data := map[string]any{"errorCode": code}
	if sqlState != "" {
		data["sqlState"] = sqlState
	}
	if queryID != "" {
		data["queryId"] = queryID
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"success": false, "code": code, "message": message, "data": data})
}
