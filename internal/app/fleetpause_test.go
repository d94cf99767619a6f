package app_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/exportd/exportd/internal/app"
)

// twoReplicas writes the demo config for two daemons, replica-a and
// replica-b, each with its own state_dir, on one archive.
func twoReplicas(t *testing.T) (cfgA, cfgB string) {
	cfgA = demoDir(t)
	data, _ := os.ReadFile(cfgA)
	withInstance := func(id, state string) []byte {
		out := bytes.Replace(data, []byte("state_dir: ../state\n"), []byte("state_dir: ../"+state+"\ninstance_id: "+id+"\n"), 1)
		if bytes.Equal(out, data) {
			t.Fatal("config/exportd.yaml: no state_dir: ../state line")
		}
		return out
	}
	cfgB = filepath.Join(filepath.Dir(cfgA), "exportd-b.yaml")
	os.WriteFile(cfgA, withInstance("replica-a", "state"), 0o644)
	os.WriteFile(cfgB, withInstance("replica-b", "state-b"), 0o644)
	return cfgA, cfgB
}

type replica struct {
	d    *app.Daemon
	logs *observer.ObservedLogs
	stop func()
}

// startReplica builds the daemon of cfg at the demo's end and, with run,
// runs it (until stop) with its pause sync every syncEvery (negative: only
// at start).
func startReplica(t *testing.T, cfg string, run bool, syncEvery time.Duration) replica {
	t.Helper()
	end, _ := time.Parse(time.RFC3339, demoEnd)
	core, logs := observer.New(zapcore.InfoLevel)
	a, err := app.Load(context.Background(), app.Options{ConfigPath: cfg, Logger: zap.New(core), Now: func() time.Time { return end }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	d := serving(t, a, app.DaemonOptions{WatchInterval: -1, PauseSyncInterval: syncEvery})
	r := replica{d: d, logs: logs, stop: func() {}}
	if run {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- d.Run(ctx) }()
		r.stop = func() {
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		}
	}
	return r
}

func statusOf(t *testing.T, d *app.Daemon, name string) app.ScheduleStatus {
	t.Helper()
	for _, s := range d.Schedules() {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no schedule %s", name)
	return app.ScheduleStatus{}
}

// TestPauseIsFleetWide runs two daemons (replica-a, replica-b) with their
// own state_dir on one archive. A pause told to A stops the schedule on B
// too (B's catch-up at start leaves it alone and shows who paused it);
// serve --once leaves it alone; a resume told to B lifts it on A, even
// though A was down when it happened (for A's serve --once too).
func TestPauseIsFleetWide(t *testing.T) {
	cfgA, cfgB := twoReplicas(t)
	end, _ := time.Parse(time.RFC3339, demoEnd)
	const sched = "audit-log-rows"
	start := func(cfg string, run bool) replica { return startReplica(t, cfg, run, -1) }
	status := func(d *app.Daemon) app.ScheduleStatus { return statusOf(t, d, sched) }

	// Paused on A (not running): the marker is in the archive.
	a := start(cfgA, false)
	if err := a.d.Pause(sched); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(filepath.Dir(cfgA), "..", "archive", "sigma", "audit", "_paused", sched)
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("no pause marker after a pause: %v", err)
	}

	// B starts: its catch-up leaves the schedule alone and holds it paused.
	b := start(cfgB, true)
	waitFor(t, "B's catch-up at start", func() bool { return b.logs.FilterMessage("catch-up at start finished").Len() > 0 })
	if st := status(b.d); !st.Paused || st.Pause == nil || st.Pause.By != "replica-a" || st.Pause.Reason != "operator" {
		t.Fatalf("on B: %+v (pause %+v); want paused by replica-a", st, st.Pause)
	}
	if runs := b.d.Runs(sched, 10); len(runs) != 0 {
		t.Fatalf("B ran the schedule paused on A: %+v", runs)
	}
	if n := len(b.d.Runs("daily-login-activity", 10)); n == 0 {
		t.Error("B did not catch up the schedule that is not paused")
	}

	// serve --once leaves it alone too.
	once, err := app.Load(context.Background(), app.Options{ConfigPath: cfgB, Logger: zap.NewNop(), Now: func() time.Time { return end }})
	if err != nil {
		t.Fatal(err)
	}
	fr, err := once.CatchUp(context.Background(), nil)
	once.Close()
	if err != nil || fr.Exported != 0 {
		t.Fatalf("serve --once with the schedule paused elsewhere: %+v, %v; want nothing exported", fr, err)
	}

	// Resumed on B: the marker goes, and A lifts its own pause when it
	// starts.
	if err := b.d.Resume(sched); err != nil {
		t.Fatal(err)
	}
	b.stop()
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Fatalf("pause marker after a resume: %v", err)
	}
	if !status(a.d).Paused {
		t.Fatal("A forgot its pause before it synced")
	}
	// serve --once on A's state_dir, whose paused.json still holds the
	// pause A marked: the marker is gone, so the schedule is caught up.
	onceA, err := app.Load(context.Background(), app.Options{ConfigPath: cfgA, Logger: zap.NewNop(), Now: func() time.Time { return end }})
	if err != nil {
		t.Fatal(err)
	}
	fr, err = onceA.CatchUp(context.Background(), nil)
	onceA.Close()
	if err != nil || fr.Exported == 0 {
		t.Fatalf("serve --once after the resume elsewhere: %+v, %v; want the schedule caught up", fr, err)
	}
	a2 := start(cfgA, true)
	defer a2.stop()
	waitFor(t, "A to lift the pause resumed on B", func() bool { return !status(a2.d).Paused })
	if a2.logs.FilterMessage("schedule resumed by another daemon; resumed here too").Len() != 1 {
		t.Error("A did not log the resume it took from the archive")
	}
}

// TestPauseElsewhereShowsInStatus: a running daemon shows a pause made on
// another one within its pause sync, before any fire of the schedule, and
// lifts it when the other resumes.
func TestPauseElsewhereShowsInStatus(t *testing.T) {
	cfgA, cfgB := twoReplicas(t)
	const sched = "daily-login-activity"
	a := startReplica(t, cfgA, false, -1)
	b := startReplica(t, cfgB, true, 20*time.Millisecond)
	defer b.stop()
	waitFor(t, "B's catch-up at start", func() bool { return b.logs.FilterMessage("catch-up at start finished").Len() > 0 })
	if statusOf(t, b.d, sched).Paused {
		t.Fatal("paused before any pause")
	}
	if err := a.d.Pause(sched); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B to show the pause made on A", func() bool {
		st := statusOf(t, b.d, sched)
		return st.Paused && st.Pause != nil && st.Pause.By == "replica-a"
	})
	if err := a.d.Resume(sched); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B to lift the pause resumed on A", func() bool { return !statusOf(t, b.d, sched).Paused })
}

// TestCronFireReadsPauseMarker: a cron fire on a daemon that has not
// synced since another paused the schedule reads the marker, runs nothing
// and takes the pause on.
func TestCronFireReadsPauseMarker(t *testing.T) {
	cfgA, cfgB := twoReplicas(t)
	const sched = "daily-login-activity"
	a := startReplica(t, cfgA, false, -1)
	b := startReplica(t, cfgB, false, -1)
	if err := a.d.Pause(sched); err != nil {
		t.Fatal(err)
	}
	if statusOf(t, b.d, sched).Paused {
		t.Fatal("B knew of the pause before any fire or sync")
	}
	end, _ := time.Parse(time.RFC3339, demoEnd)
	fr, err := b.d.FireCron(context.Background(), sched, end)
	if err != nil || fr != (app.FireResult{}) || len(b.d.Runs(sched, 10)) != 0 {
		t.Fatalf("cron fire of a schedule paused elsewhere: %+v, %v, runs %v", fr, err, b.d.Runs(sched, 10))
	}
	if st := statusOf(t, b.d, sched); !st.Paused || st.Pause == nil || st.Pause.By != "replica-a" {
		t.Fatalf("after the fire, B shows %+v (pause %+v); want paused by replica-a", st, st.Pause)
	}
}
