package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/exportd/exportd/internal/app"
	"github.com/exportd/exportd/internal/archive"
)

// TestMaxConcurrentBoundsExportsAcrossSchedules catches up three schedules
// of three slow day windows each with runs.max_concurrent: 2 and watches
// the claims in the archive: an export holds its unit's claim from before
// its query until its manifest is committed, inside its slot. Never more
// than two claims at once, across schedules, and two at some point (the
// bound is not met by running one at a time). (Watching the objects' temp
// files instead saw only the last part of each export, after DuckDB had
// done the work, and two of those seldom overlapped.)
func TestMaxConcurrentBoundsExportsAcrossSchedules(t *testing.T) {
	cfg := demoDir(t)
	dir := filepath.Dir(cfg)
	schedDir := filepath.Join(dir, "..", "schedules")
	for _, f := range []string{"audit-log-rows.yaml", "daily-login-activity.yaml"} {
		os.Remove(filepath.Join(schedDir, f))
	}
	data, _ := os.ReadFile(cfg)
	limited := bytes.Replace(data, []byte("max_concurrent: 4"), []byte("max_concurrent: 2"), 1)
	if bytes.Equal(limited, data) {
		t.Fatal("config/exportd.yaml: no max_concurrent: 4 line to change")
	}
	if err := os.WriteFile(cfg, limited, 0o644); err != nil {
		t.Fatal(err)
	}
	end, _ := time.Parse(time.RFC3339, demoEnd)
	const schedules, days = 3, 3
	for i := range schedules {
		// Each window repeats its ~2,300 rows 300 times (about a second): long enough for
		// the exports to overlap.
		body := fmt.Sprintf(`name: slow-%d
source: demo
cron: "0 3 * * *"
window: {every: day, column: Request Time, lag: 0s, start: %s}
element:
  from: {sql: "SELECT a.REQUEST_ID, a.REQUEST_TIME, r.range AS COPY_NO FROM AUDIT_LOGS a, range(300) r"}
destination: {integration: local, prefix: bound}
`, i, end.AddDate(0, 0, -days).Format("2006-01-02"))
		if err := os.WriteFile(filepath.Join(schedDir, fmt.Sprintf("slow-%d.yaml", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	a, err := app.Load(context.Background(), app.Options{ConfigPath: cfg, Logger: zap.NewNop(), Now: func() time.Time { return end }})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()

	claims := filepath.Join(dir, "..", "archive", "bound", "_claims")
	var (
		mu      sync.Mutex
		maxSeen int
		hist    = map[int]int{}
	)
	done := make(chan struct{})
	var watch sync.WaitGroup
	watch.Go(func() {
		for {
			n := 0
			filepath.WalkDir(claims, func(p string, e fs.DirEntry, err error) error {
				if err != nil || e.IsDir() || strings.HasSuffix(p, ".lock") {
					return nil
				}
				// Done claims stay, as the record of who exported a unit.
				var r archive.ClaimRecord
				if data, err := os.ReadFile(p); err == nil && json.Unmarshal(data, &r) == nil && r.State == archive.ClaimRunning {
					n++
				}
				return nil
			})
			mu.Lock()
			maxSeen = max(maxSeen, n)
			hist[n]++
			mu.Unlock()
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
			}
		}
	})
	fr, err := a.CatchUp(context.Background(), nil)
	close(done)
	watch.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if fr.Exported != schedules*days {
		t.Fatalf("exported %d windows, want %d: %+v", fr.Exported, schedules*days, fr)
	}
	t.Logf("claims held at once (samples): %v", hist)
	if maxSeen > 2 {
		t.Errorf("saw %d exports in flight at once; runs.max_concurrent is 2", maxSeen)
	}
	if maxSeen < 2 {
		t.Errorf("never saw two exports in flight at once (max %d): the catch-up did not run in parallel", maxSeen)
	}
}
