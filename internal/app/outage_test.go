package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"go.uber.org/zap"

	"github.com/exportd/exportd/internal/app"
	"github.com/exportd/exportd/internal/testenv"
)

// freeAddr reserves a loopback port and releases it for the daemon.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// startServe starts `exportd serve` on cfg (at demoEnd) as a process; the
// test's cleanup kills it if the test did not stop it.
func startServe(t *testing.T, cfg string, flags ...string) (*exec.Cmd, <-chan error, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"--config", cfg, "--log-format", "json", "--now", demoEnd, "serve"}, flags...)...)
	cmd.Env = append(os.Environ(), "EXPORTD_TEST_MAIN=cli")
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	return cmd, exited, out
}

// readyz is one answer of /readyz.
type readyz struct {
	code int
	body struct {
		Status    string    `json:"status"`
		Reason    string    `json:"reason"`
		Component string    `json:"component"`
		Error     string    `json:"error"`
		NextRetry time.Time `json:"next_retry"`
	}
}

func getReadyz(addr, token string) (readyz, error) {
	var r readyz
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/readyz", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return r, err
	}
	defer resp.Body.Close()
	r.code = resp.StatusCode
	data, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(data, &r.body); err != nil {
		return r, fmt.Errorf("readyz: %q: %w", data, err)
	}
	return r, nil
}

// TestServeStartsDuringS3Outage: `exportd serve` started while its S3
// server is down keeps running, answers /healthz, says on /readyz which
// store it cannot reach, why and when it retries, and once the server is
// back becomes ready and exports the windows it missed.
func TestServeStartsDuringS3Outage(t *testing.T) {
	srv := testenv.VersityGW(t)
	bucket := srv.Bucket(t, false)
	cfg := s3Config(t, srv, bucket, 2, false)
	addr := freeAddr(t)
	data, _ := os.ReadFile(cfg)
	if err := os.WriteFile(cfg, []byte(replaceOnce(string(data), "listen: 127.0.0.1:8080", "listen: "+addr)), 0o644); err != nil {
		t.Fatal(err)
	}
	const token = "outage-test-token"
	t.Setenv("EXPORTD_TOKEN", token)
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}

	cmd, exited, out := startServe(t, cfg)
	running := func() {
		t.Helper()
		select {
		case err := <-exited:
			t.Fatalf("serve exited during the outage: %v\n%s", err, tail(out.String()))
		default:
		}
	}

	// Not ready, with the reason, over several retries; alive all along.
	var first readyz
	retries := map[time.Time]bool{}
	waitFor(t, "three failed checks of the S3 store", func() bool {
		running()
		r, err := getReadyz(addr, token)
		if err != nil || r.body.NextRetry.IsZero() {
			return false
		}
		if first.code == 0 {
			first = r
		}
		retries[r.body.NextRetry] = true
		return len(retries) >= 3
	})
	if first.code != http.StatusServiceUnavailable || first.body.Status != "not ready" ||
		!strings.Contains(first.body.Component, "integration lake") || !strings.Contains(first.body.Component, bucket) ||
		!strings.Contains(first.body.Error, "cannot reach") || !strings.Contains(first.body.Reason, "next retry at") {
		t.Fatalf("/readyz during the outage: %d %+v", first.code, first.body)
	}
	// Without the token (a probe from elsewhere) only the status shows.
	if r, err := getReadyz(addr, ""); err == nil && (r.code != http.StatusServiceUnavailable || r.body.Reason != "" || r.body.Error != "") {
		t.Fatalf("/readyz without the token: %d %+v", r.code, r.body)
	}
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz during the outage: %v %v", resp, err)
	}
	resp.Body.Close()
	// A run now meanwhile is a 503 that says why, not a 500.
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/api/v1/schedules/hourly-rows/run", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), `"code":"not_ready"`) ||
		!strings.Contains(string(body), "integration lake") {
		t.Fatalf("run now during the outage: %d %s", resp.StatusCode, body)
	}
	if strings.Contains(out.String(), `"level":"fatal"`) || !strings.Contains(out.String(), "not ready: cannot reach destination integration lake") {
		t.Fatalf("log during the outage:\n%s", tail(out.String()))
	}

	// The server comes back: ready, and the catch-up exports both windows.
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "/readyz 200 once S3 is back", func() bool {
		running()
		r, err := getReadyz(addr, token)
		return err == nil && r.code == http.StatusOK && r.body.Status == "ready"
	})
	if hc, code := runCLI(t, cfg, "healthcheck", "--ready"); code != 0 || !strings.Contains(hc, "ready") {
		t.Fatalf("healthcheck --ready once S3 is back: exit %d\n%s", code, hc)
	}
	client := srv.Client()
	waitFor(t, "the two missed windows archived", func() bool {
		running()
		page, err := client.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String("audit/sigma/hourly-rows/")})
		if err != nil {
			return false
		}
		n := 0
		for _, o := range page.Contents {
			if strings.HasSuffix(aws.ToString(o.Key), ".manifest.json") {
				n++
			}
		}
		return n == 2
	})
	if code := terminate(t, cmd, exited, out); code != 0 {
		t.Fatalf("serve exit %d after SIGTERM\n%s", code, tail(out.String()))
	}
}

// TestServeStopsWhileWaitingForS3: SIGTERM during the wait for an
// unreachable store ends serve in order (exit 0), and a configuration
// error still fails at start as before.
func TestServeStopsWhileWaitingForS3(t *testing.T) {
	srv := testenv.VersityGW(t)
	bucket := srv.Bucket(t, false)
	cfg := s3Config(t, srv, bucket, 2, false)
	addr := freeAddr(t)
	data, _ := os.ReadFile(cfg)
	good := replaceOnce(string(data), "listen: 127.0.0.1:8080", "listen: "+addr)
	t.Setenv("EXPORTD_TOKEN", "")

	bad := replaceOnce(good, "max_concurrent: 4", "max_concurrent: many")
	if err := os.WriteFile(cfg, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := runCLI(t, cfg, "--now", demoEnd, "serve"); code != 1 || !strings.Contains(out, "invalid configuration") || !strings.Contains(out, "max_concurrent") {
		t.Fatalf("serve with a bad config: exit %d\n%s", code, tail(out))
	}

	if err := os.WriteFile(cfg, []byte(good), 0o644); err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	cmd, exited, out := startServe(t, cfg)
	waitFor(t, "/readyz 503", func() bool {
		r, err := getReadyz(addr, "")
		return err == nil && r.code == http.StatusServiceUnavailable && strings.Contains(r.body.Error, "cannot reach")
	})
	// The container health check stays healthy (alive); --ready follows
	// /readyz and says why.
	if hc, code := runCLI(t, cfg, "healthcheck"); code != 0 || !strings.Contains(hc, "ok") {
		t.Fatalf("healthcheck while waiting: exit %d\n%s", code, hc)
	}
	if hc, code := runCLI(t, cfg, "healthcheck", "--ready"); code != 1 || !strings.Contains(hc, "not ready: cannot reach destination integration lake") {
		t.Fatalf("healthcheck --ready while waiting: exit %d\n%s", code, hc)
	}
	if code := terminate(t, cmd, exited, out); code != 0 || !strings.Contains(out.String(), "stopped before the destination stores and sources were reachable") {
		t.Fatalf("SIGTERM while waiting: exit %d\n%s", code, tail(out.String()))
	}
}

// TestStaleUploadsSweptPeriodically: the daemon aborts a multipart upload
// older than runs.sweep_uploads_older_than left under its prefix, not only
// at start but at every runs.sweep_uploads_every, counts it in
// exportd_stale_uploads_aborted_total, and stops sweeping when it stops.
func TestStaleUploadsSweptPeriodically(t *testing.T) {
	srv := testenv.VersityGW(t)
	bucket := srv.Bucket(t, false)
	cfg := s3Config(t, srv, bucket, 2, false)
	data, _ := os.ReadFile(cfg)
	s := replaceOnce(string(data), "  lease: 10m", "  lease: 10m\n  sweep_uploads_every: 1s\n  sweep_uploads_older_than: 1s")
	if err := os.WriteFile(cfg, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("EXPORTD_TOKEN", "")
	ctx := context.Background()
	client := srv.Client()
	start := func(key string) string {
		t.Helper()
		out, err := client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.UploadId)
	}
	open := func(id string) bool {
		t.Helper()
		out, err := client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range out.Uploads {
			if aws.ToString(u.UploadId) == id {
				return true
			}
		}
		return false
	}
	// Outside exportd's prefix: never touched.
	foreign := start("other/keep.csv")
	before := start("audit/sigma/hourly-rows/dt=2026-10-31/dead-before-start.csv")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	a, err := app.Load(ctx, app.Options{ConfigPath: cfg, Logger: zap.NewNop(), Now: func() time.Time {
		n, _ := time.Parse(time.RFC3339, demoEnd)
		return n
	}, Daemon: app.DaemonOptions{Listener: ln, WatchInterval: -1}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(runCtx) }()
	stopped := false
	defer func() {
		if !stopped {
			stop()
			<-done
		}
	}()

	waitFor(t, "the upload left before start aborted", func() bool { return !open(before) })
	// The first sweep has run; an upload left now can only go by a later one.
	later := start("audit/sigma/hourly-rows/dt=2026-10-31/dead-while-running.csv")
	waitFor(t, "the upload left while running aborted", func() bool { return !open(later) })
	aborted := func() string {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "exportd_stale_uploads_aborted_total ") {
				return strings.TrimPrefix(l, "exportd_stale_uploads_aborted_total ")
			}
		}
		return ""
	}
	if got := aborted(); got != "2" {
		t.Fatalf("exportd_stale_uploads_aborted_total = %q, want 2", got)
	}
	if !open(foreign) {
		t.Fatalf("the upload outside exportd's prefix was aborted")
	}

	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	stopped = true
	// Stopped: an upload left now stays, sweep after sweep interval.
	after := start("audit/sigma/hourly-rows/dt=2026-10-31/dead-after-stop.csv")
	time.Sleep(3 * time.Second) // three sweep intervals, had the loop survived
	if !open(after) {
		t.Fatalf("an upload was aborted after the daemon stopped")
	}
	if _, err := client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(bucket),
		Key: aws.String("audit/sigma/hourly-rows/dt=2026-10-31/dead-after-stop.csv"), UploadId: aws.String(after)}); err != nil {
		t.Fatal(err)
	}
}

// TestRunStopsWhileWaitingForS3InProcess: App.Run waiting for an
// unreachable store returns nil when its context ends, and every goroutine
// it started (HTTP API, the reload watchers of the wait) has ended:
// TestMain's leak check fails the package otherwise.
func TestRunStopsWhileWaitingForS3InProcess(t *testing.T) {
	srv := testenv.VersityGW(t)
	bucket := srv.Bucket(t, false)
	cfg := s3Config(t, srv, bucket, 2, false)
	t.Setenv("EXPORTD_TOKEN", "")
	srv.Kill()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	a, err := app.Load(context.Background(), app.Options{ConfigPath: cfg, Logger: zap.NewNop(),
		Daemon: app.DaemonOptions{Listener: ln, WatchInterval: 50 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	waitFor(t, "/readyz naming the store", func() bool {
		r, err := getReadyz(addr, "")
		return err == nil && r.code == http.StatusServiceUnavailable && strings.Contains(r.body.Component, bucket)
	})
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Run while waiting: %v", err)
	}
}

// TestPauseADisabledSchedule: a disabled schedule has no cron entry, yet
// pausing and resuming it are an operator's ordinary requests (the pause
// holds once it is enabled), not a failure (it was a 500).
func TestPauseADisabledSchedule(t *testing.T) {
	t.Setenv("EXPORTD_TOKEN", "")
	cfg := demoDir(t)
	sched := filepath.Join(filepath.Dir(cfg), "..", "schedules", "daily-login-activity.yaml")
	data, err := os.ReadFile(sched)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sched, append([]byte("enabled: false\n"), data...), 0o644); err != nil {
		t.Fatal(err)
	}
	now, _ := time.Parse(time.RFC3339, demoEnd)
	d := daemonAt(t, cfg, now)
	if err := d.Pause("daily-login-activity"); err != nil {
		t.Fatalf("pause a disabled schedule: %v", err)
	}
	if st := statusOf(t, d, "daily-login-activity"); !st.Paused || st.Pause == nil || st.Pause.Reason != "operator" {
		t.Fatalf("after pause: %+v", st)
	}
	if err := d.Resume("daily-login-activity"); err != nil {
		t.Fatalf("resume a disabled schedule: %v", err)
	}
	if st := statusOf(t, d, "daily-login-activity"); st.Paused {
		t.Fatalf("after resume: %+v", st)
	}
}
