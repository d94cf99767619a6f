package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/domain"
)

func TestClientRoundTrips(t *testing.T) {
	ts := start(t)
	ctx := context.Background()
	c := ts.clientFor(testToken)

	all, err := c.Schedules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0].Name != "daily-logins" || all[0].NextFire.Location() != time.UTC ||
		!all[0].NextFire.Equal(time.Date(2026, 11, 25, 2, 15, 0, 0, la)) {
		t.Errorf("schedules %+v", all)
	}
	one, err := c.Schedule(ctx, "user-snapshot")
	if err != nil || one.Name != "user-snapshot" {
		t.Errorf("schedule %+v, %v", one, err)
	}

	out, err := c.RunNow(ctx, "daily-logins", RunRequest{})
	if err != nil || out.Status != domain.OutcomeAccepted || out.Run.ID != "r-9" {
		t.Errorf("run now: %+v, %v", out, err)
	}
	ws := time.Date(2026, 11, 23, 0, 0, 0, 0, la)
	out, err = c.RunNow(ctx, "daily-logins", RunRequest{WindowStart: &ws, Wait: true})
	if err != nil || out.Status != "exported" || out.Run.Rows != 42 {
		t.Errorf("run now and wait: %+v, %v", out, err)
	}
	if r := ts.Trigger.req(); r.WindowStart == nil || !r.WindowStart.Equal(ws) || !r.Wait {
		t.Errorf("server got %+v", r)
	}
	out, err = c.RunNow(ctx, "user-snapshot", RunRequest{Adhoc: true})
	if err != nil || !ts.Trigger.req().Adhoc {
		t.Errorf("adhoc: %+v, %v", out, err)
	}
	if _, err := c.RunNow(ctx, "daily-logins", RunRequest{Schedule: "user-snapshot"}); !errors.Is(err, ErrBadRequest) {
		t.Errorf("mismatched names: %v", err)
	}

	runs, err := c.Runs(ctx, "daily-logins", 1)
	if err != nil || len(runs) != 1 || runs[0].ID != "r-2" || !strings.Contains(runs[0].Error, "SELECT") {
		t.Errorf("runs %+v, %v", runs, err)
	}
	runs, err = c.Runs(ctx, "", 0)
	if err != nil || len(runs) != 3 {
		t.Errorf("all runs %+v, %v", runs, err)
	}

	st, err := c.Pause(ctx, "daily-logins")
	if err != nil || !st.Paused {
		t.Errorf("pause %+v, %v", st, err)
	}
	st, err = c.Resume(ctx, "daily-logins")
	if err != nil || st.Paused {
		t.Errorf("resume %+v, %v", st, err)
	}
	if err := c.Ready(ctx); err != nil {
		t.Errorf("ready: %v", err)
	}
}

func TestClientErrorsAreSentinels(t *testing.T) {
	ts := start(t)
	ctx := context.Background()
	c := ts.clientFor(testToken)

	_, err := c.Schedule(ctx, "nope")
	if !errors.Is(err, ErrUnknownSchedule) {
		t.Errorf("unknown schedule: %v", err)
	}
	if _, err := c.Pause(ctx, "nope"); !errors.Is(err, ErrUnknownSchedule) {
		t.Errorf("pause unknown: %v", err)
	}
	if _, err := c.Runs(ctx, "", 5000); !errors.Is(err, ErrBadRequest) {
		t.Errorf("bad limit: %v", err)
	}
	if _, err := ts.clientFor("").RunNow(ctx, "daily-logins", RunRequest{}); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("no token: %v", err)
	}
	if _, err := ts.clientFor("wrong").Schedules(ctx); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("wrong token: %v", err)
	}

	for _, tc := range []struct {
		err  error
		want error
		text string
	}{
		{fmt.Errorf("%w: window 2026-11-25 is not closed yet: it closes at 2026-11-26T10:00:00Z", ErrBadRequest), ErrBadRequest, "is not closed yet"},
		{fmt.Errorf("schedule daily-logins: %w", ErrRunning), ErrRunning, "in progress"},
		{fmt.Errorf("%w: shutting down", ErrUnavailable), ErrUnavailable, "shutting down"},
		{errCanned, ErrInternal, "request id"},
	} {
		ts.Trigger.set(func(f *fakeTrigger) { f.runErr = tc.err })
		_, err := c.RunNow(ctx, "daily-logins", RunRequest{})
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) {
			t.Errorf("trigger error %v: client got %v, want %v with %q", tc.err, err, tc.want, tc.text)
		}
		if strings.Contains(fmt.Sprint(err), "SELECT") {
			t.Errorf("client error leaks the internal error: %v", err)
		}
		var ae *APIError
		if !errors.As(err, &ae) || ae.RequestID == "" {
			t.Errorf("no APIError with a request id: %#v", err)
		}
	}

	ts.Trigger.set(func(f *fakeTrigger) {
		f.runErr = ErrAlreadyArchived
		f.runOut = RunOutcome{Run: RunRecord{ID: "r-11", Key: "daily-logins/2026/11/23.csv.gz", ManifestKey: "daily-logins/2026/11/23.manifest.json"}}
	})
	out, err := c.RunNow(ctx, "daily-logins", RunRequest{Wait: true})
	if !errors.Is(err, ErrAlreadyArchived) || out.Key != "daily-logins/2026/11/23.csv.gz" || out.Manifest == "" {
		t.Errorf("already archived: %+v, %v", out, err)
	}

	ts.Trigger.set(func(f *fakeTrigger) { f.readyErr = errors.New("stores not checked yet") })
	if err := c.Ready(ctx); !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "stores not checked yet") {
		t.Errorf("not ready: %v", err)
	}
}

func TestClientRejectsBadBaseURL(t *testing.T) {
	for _, u := range []string{"", "127.0.0.1:8080", "ftp://h:1", "http://user:pw@127.0.0.1:1", "http://127.0.0.1:1/?x=1"} {
		c := &Client{BaseURL: u}
		if _, err := c.Schedules(context.Background()); err == nil || !strings.Contains(err.Error(), "server URL") {
			t.Errorf("BaseURL %q: %v", u, err)
		}
	}
}

func TestClientEscapesScheduleNames(t *testing.T) {
	ts := start(t)
	ts.Trigger.set(func(f *fakeTrigger) {
		f.schedules = append(f.schedules, ScheduleStatus{Name: "a b/c", Cron: "@daily", Timezone: "UTC", Status: StatusIdle})
	})
	st, err := ts.clientFor(testToken).Schedule(context.Background(), "a b/c")
	if err != nil || st.Name != "a b/c" {
		t.Errorf("got %+v, %v", st, err)
	}
}

func TestTokenFromEnv(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	if err := os.WriteFile(file, []byte("  from-file-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	spaced := filepath.Join(dir, "spaced")
	if err := os.WriteFile(spaced, []byte("two words\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, env, file string
		want, errText   string
	}{
		{"neither", "", "", "", ""},
		{"env", "env-token", "", "env-token", ""},
		{"file trimmed", "", file, "from-file-token", ""},
		{"both", "env-token", file, "", "both"},
		{"missing file", "", filepath.Join(dir, "nope"), "", "no such file"},
		{"empty file", "", empty, "", "is empty"},
		{"bad file", "", spaced, "", "whitespace"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(EnvToken, tc.env)
			t.Setenv(EnvTokenFile, tc.file)
			got, err := TokenFromEnv()
			if tc.errText != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errText) {
					t.Fatalf("error %v, want %q", err, tc.errText)
				}
				if strings.Contains(err.Error(), "two words") || strings.Contains(err.Error(), "env-token") {
					t.Errorf("error shows the token: %v", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
