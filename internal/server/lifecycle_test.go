package server

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// waitListenerClosed returns once ts no longer accepts connections, which
// is how a test sees that the shutdown began.
func waitListenerClosed(t *testing.T, ts *testServer) {
	t.Helper()
	addr := strings.TrimPrefix(ts.URL, "http://")
	for i := 0; ; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return
		}
		c.Close()
		if i > 5000 {
			t.Fatal("listener still open")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// blockRuns makes the next RunNow wait until the returned release is
// called; entered is closed when it waits.
func blockRuns(ts *testServer) (entered <-chan struct{}, release func()) {
	block, in := make(chan struct{}), make(chan struct{})
	ts.Trigger.set(func(f *fakeTrigger) { f.block, f.entered = block, in })
	return in, func() { close(block) }
}

func TestShutdownLetsRequestsFinish(t *testing.T) {
	ts := start(t)
	entered, release := blockRuns(ts)
	type result struct {
		a   answer
		err error
	}
	answered := make(chan result, 1)
	go func() {
		a, err := ts.try("POST", runPath+"?wait=true", testToken, "")
		answered <- result{a, err}
	}()
	<-entered

	stopped := make(chan error, 1)
	go func() { stopped <- ts.stop() }()
	waitListenerClosed(t, ts)
	select {
	case err := <-stopped:
		t.Fatalf("Serve returned while a request was running: %v", err)
	default:
	}

	release()
	r := <-answered
	if r.err != nil || r.a.Status != http.StatusOK {
		t.Errorf("in-flight request: %v, status %d, %s", r.err, r.a.Status, r.a.Body)
	}
	if err := <-stopped; err != nil {
		t.Errorf("Serve after a graceful shutdown: %v", err)
	}
}

func TestShutdownBoundCutsRequestsOff(t *testing.T) {
	ts := start(t, func(o *Options) { o.ShutdownTimeout = 50 * time.Millisecond })
	entered, release := blockRuns(ts)
	defer release()
	ts.Trigger.set(func(f *fakeTrigger) { f.unwind = 100 * time.Millisecond })
	failed := make(chan error, 1)
	go func() {
		_, err := ts.try("POST", runPath+"?wait=true", testToken, "")
		failed <- err
	}()
	<-entered

	err := ts.stop()
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "cut off") {
		t.Errorf("Serve: %v, want the shutdown bound reported", err)
	}
	// Serve returned only after the handler did: the Trigger saw its
	// context cancelled and no handler outlives the server.
	var running int
	ts.Trigger.set(func(f *fakeTrigger) { running = f.inRunNow })
	if running != 0 {
		t.Errorf("%d RunNow calls still running after Serve returned", running)
	}
	if err := <-failed; err == nil {
		t.Error("the cut-off request got an answer")
	}
}

func TestServeReportsListenerFailure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	s, err := New(Options{Trigger: newFakeTrigger(), Gatherer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(context.Background(), ln); err == nil {
		t.Fatal("Serve on a closed listener returned nil")
	}
}

func TestListenAndServe(t *testing.T) {
	s, err := New(Options{Trigger: newFakeTrigger(), Gatherer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ListenAndServe(context.Background()); err == nil || !strings.Contains(err.Error(), "Listen") {
		t.Errorf("no Listen: %v", err)
	}
	s, err = New(Options{Listen: "127.0.0.1:0", Trigger: newFakeTrigger(), Gatherer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.ListenAndServe(ctx); err != nil {
		t.Errorf("ListenAndServe after cancel: %v", err)
	}
}

// disguisedListener is a loopback listener claiming a LAN address.
type disguisedListener struct{ net.Listener }

func (disguisedListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(10, 1, 2, 3), Port: 8080} }

func TestServeIgnoresLoopbackOptionOnOtherAddresses(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	s, err := New(Options{Token: testToken, Loopback: true, Trigger: newFakeTrigger(), Gatherer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, disguisedListener{ln}) }()
	tr := &http.Transport{}
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		tr.CloseIdleConnections()
	}()
	resp, err := (&http.Client{Transport: tr}).Get(url + "/api/v1/schedules")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET without token on a non-loopback address: %d, want 401", resp.StatusCode)
	}
}
