package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// forwarder accepts on ln and copies each connection both ways to target,
// until Close: Snowflake coming back on the port the daemon was told.
type forwarder struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []net.Conn
}

func forward(t *testing.T, addr, target string) *forwarder {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on the reserved port %s: %v", addr, err)
	}
	f := &forwarder{ln: ln, target: target}
	f.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			f.mu.Lock()
			f.conns = append(f.conns, c, u)
			f.mu.Unlock()
			f.wg.Go(func() { _, _ = io.Copy(u, c); u.(*net.TCPConn).CloseWrite() })
			f.wg.Go(func() { _, _ = io.Copy(c, u); c.(*net.TCPConn).CloseWrite() })
		}
	})
	t.Cleanup(f.Close)
	return f
}

func (f *forwarder) Close() {
	f.ln.Close()
	f.mu.Lock()
	for _, c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

// TestServeWaitsForSnowflake: `exportd serve` started while Snowflake
// cannot be reached (nothing listens on its port) keeps running, says on
// /readyz that it cannot reach source warehouse and when it retries, and
// once Snowflake answers on that port becomes ready and catches up.
func TestServeWaitsForSnowflake(t *testing.T) {
	reserve := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().String()
	}
	sfAddr, apiAddr := reserve(), reserve()
	_, sfPort, _ := net.SplitHostPort(sfAddr)
	cfg, arch, _ := setup(t, emu.Port)
	ctx := t.Context()
	// The columns are cached while Snowflake is there, as the README says.
	if code, out, errs := exportd(ctx, "-c", cfg, "validate", "--online"); code != 0 {
		t.Fatalf("validate --online: exit %d\n%s\n%s", code, out, errs)
	}
	data, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(data), "port: "+strconv.Itoa(emu.Port), "port: "+sfPort, 1)
	s += "\nserver:\n  listen: " + apiAddr + "\n"
	if err := os.WriteFile(cfg, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("EXPORTD_TOKEN", "")

	sctx, stop := context.WithCancel(ctx)
	type result struct {
		code      int
		out, errs string
	}
	done := make(chan result, 1)
	go func() {
		code, out, errs := exportd(sctx, "-c", cfg, "--now", "2026-11-25T06:00:00Z", "serve")
		done <- result{code, out, errs}
	}()
	defer func() {
		stop()
		<-done
	}()
	type readyz struct {
		Status, Component, Error string
		NextRetry                time.Time `json:"next_retry"`
	}
	get := func() (int, readyz) {
		var r readyz
		resp, err := http.Get("http://" + apiAddr + "/readyz")
		if err != nil {
			return 0, r
		}
		defer resp.Body.Close()
		_ = json.NewDecoder(resp.Body).Decode(&r)
		return resp.StatusCode, r
	}
	wait := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(2 * time.Minute); !cond(); time.Sleep(20 * time.Millisecond) {
			select {
			case r := <-done:
				done <- r
				t.Fatalf("serve exited (code %d) while waiting for %s\n%s", r.code, what, r.errs)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	retries := map[time.Time]bool{}
	var down readyz
	wait("two failed checks of the warehouse", func() bool {
		code, r := get()
		if code == http.StatusServiceUnavailable && !r.NextRetry.IsZero() {
			down = r
			retries[r.NextRetry] = true
		}
		return len(retries) >= 2
	})
	if down.Status != "not ready" || down.Component != "source warehouse" || !strings.Contains(down.Error, "connect") {
		t.Fatalf("/readyz while Snowflake is away: %+v", down)
	}

	forward(t, sfAddr, "127.0.0.1:"+strconv.Itoa(emu.Port))
	wait("/readyz 200 once Snowflake answers", func() bool {
		code, r := get()
		return code == http.StatusOK && r.Status == "ready"
	})
	wait("the catch-up's window archived", func() bool {
		return len(suffixed(archived(t, arch), ".manifest.json")) >= 1
	})
	stop()
	r := <-done
	done <- r
	if r.code != 0 {
		t.Fatalf("serve: exit %d after stop\n%s", r.code, r.errs)
	}
	noSecret(t, "serve output", r.out+r.errs)
}
