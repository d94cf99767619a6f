package app_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/archive"
)

// TestServeKilledMidExportRecovers runs `exportd serve` on a source slowed
// on purpose, kills it with SIGKILL while an export is provably in flight
// (a claim is held and its object's temp file is being written), starts it
// again, and checks that every window is archived exactly once with no
// partial object.
func TestServeKilledMidExportRecovers(t *testing.T) {
	cfg := demoDir(t)
	dir := filepath.Dir(cfg)
	// Each day window multiplies its ~2,300 rows 400 times: about a second
	// of CSV per window, long enough to be caught in flight.
	const days = 4
	end, _ := time.Parse(time.RFC3339, demoEnd)
	onlySlowDays(t, cfg, end.AddDate(0, 0, -days), 400, "crash")
	archiveDir := filepath.Join(dir, "..", "archive")
	claims := filepath.Join(archiveDir, "crash", "_claims", "slow-days")
	tmp := filepath.Join(archiveDir, ".tmp")

	t.Setenv("EXPORTD_TOKEN", "")
	cmd := exec.Command(os.Args[0], "--config", cfg, "--log-format", "json", "--now", demoEnd, "serve")
	cmd.Env = append(os.Environ(), "EXPORTD_TEST_MAIN=cli")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// A free port for the API: the daemon must not collide with anything.
	cfgData, _ := os.ReadFile(cfg)
	if err := os.WriteFile(cfg, bytes.Replace(cfgData, []byte("listen: 127.0.0.1:8080"), []byte("listen: 127.0.0.1:0"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	// Wait until an export is in flight: a running claim and a temp file.
	inFlight := func() (string, bool) {
		entries, _ := os.ReadDir(claims)
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".lock") {
				continue
			}
			data, err := os.ReadFile(filepath.Join(claims, e.Name()))
			var rec archive.ClaimRecord
			if err != nil || json.Unmarshal(data, &rec) != nil || rec.State != archive.ClaimRunning || rec.Pending == nil {
				continue
			}
			temps, _ := os.ReadDir(tmp)
			for _, tf := range temps {
				if fi, err := tf.Info(); err == nil && fi.Size() > 0 {
					return rec.UnitID, true
				}
			}
		}
		return "", false
	}
	deadline := time.Now().Add(90 * time.Second)
	var unit string
	for {
		if u, ok := inFlight(); ok {
			unit = u
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("serve exited before an export was in flight: %v\n%s", err, tail(out.String()))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no export in flight within 90s\n%s", tail(out.String()))
		}
		time.Sleep(2 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err := <-exited
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("serve was not killed: %v", err)
	}
	// The kill left the window's claim running, with nothing visible.
	data, err := os.ReadFile(filepath.Join(claims, unit))
	if err != nil {
		t.Fatal(err)
	}
	var rec archive.ClaimRecord
	if err := json.Unmarshal(data, &rec); err != nil || rec.State != archive.ClaimRunning {
		t.Fatalf("claim of %s after the kill: %s", unit, data)
	}
	for _, m := range files(t, filepath.Join(archiveDir, "crash", "slow-days"), ".manifest.json") {
		if strings.Contains(m, unit) {
			t.Fatalf("the interrupted window %s has a manifest: %s", unit, m)
		}
	}
	t.Logf("killed while exporting %s", unit)

	// Start again: catch up everything.
	out2, code := runCLI(t, cfg, "--now", demoEnd, "serve", "--once")
	if code != 0 {
		t.Fatalf("restart: exit %d\n%s", code, tail(out2))
	}
	objs := files(t, filepath.Join(archiveDir, "crash", "slow-days"), ".csv")
	mans := files(t, filepath.Join(archiveDir, "crash", "slow-days"), ".manifest.json")
	if len(objs) != days || len(mans) != days {
		t.Fatalf("%d objects and %d manifests after the restart, want %d of each:\n%v\n%v", len(objs), len(mans), days, objs, mans)
	}
	interrupted := false
	for _, mp := range mans {
		m := readManifest(t, mp)
		obj, err := os.ReadFile(filepath.Join(archiveDir, m.Objects[0].Key))
		if err != nil || archive.SHA256Hex(obj) != m.Objects[0].SHA256 || int64(len(obj)) != m.Objects[0].Bytes {
			t.Errorf("%s: object does not match its manifest (%v)", mp, err)
		}
		if m.UnitID == unit {
			interrupted = true
		}
	}
	if !interrupted {
		t.Errorf("the interrupted window %s was not completed", unit)
	}
	if temps, _ := os.ReadDir(tmp); len(temps) != 0 {
		t.Errorf("temp files left: %v", temps)
	}
}
