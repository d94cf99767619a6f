package app_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/exportd/exportd/internal/app"
)

// BenchmarkDaemonStartup10k loads a configuration of 10,000 schedule files
// (each a workbook element with a CountIf formula, on one small embedded
// table), compiles every element and builds the daemon with its scheduler;
// it reports the time, the heap and the process's peak RSS, next to loading
// the same configuration with a single schedule (the fixed cost).
//
//	go test ./internal/app -run '^$' -bench DaemonStartup10k -benchtime 1x
func BenchmarkDaemonStartup10k(b *testing.B) {
	n := 10_000
	if testing.Short() {
		n = 500
	}
	startup := func(count int) (time.Duration, string) {
		dir := b.TempDir()
		for _, d := range []string{"config", "schedules"} {
			os.MkdirAll(filepath.Join(dir, d), 0o755)
		}
		os.WriteFile(filepath.Join(dir, "config", "t.sql"), []byte(
			`CREATE TABLE EVENTS AS SELECT TIMESTAMP '2026-10-01' + to_minutes(i) AS EVENT_TIME, 'e' || i AS EVENT_TYPE FROM range(1000) t(i);`), 0o644)
		os.WriteFile(filepath.Join(dir, "config", "exportd.yaml"), []byte(`state_dir: ../state
schedules_dir: ../schedules
sources:
  db: {type: duckdb, path: ":memory:", init: [t.sql]}
integrations:
  local: {type: folder, path: ../archive}
`), 0o644)
		for i := range count {
			name := "s-" + strconv.Itoa(i)
			os.WriteFile(filepath.Join(dir, "schedules", name+".yaml"), []byte(fmt.Sprintf(`name: %s
source: db
cron: "%d %d * * *"
timezone: America/Los_Angeles
window: {every: day, column: Event Time, lag: 1h, start: 2026-10-01}
element:
  from: {table: EVENTS}
  group_by: [{formula: "[Event Time]", truncate: day}]
  columns: [{name: Logins, formula: 'CountIf([Event Type] = "e%d")'}]
destination: {integration: local, prefix: p}
`, name, i%60, (i/60)%24, i)), 0o644)
		}
		start := time.Now()
		a, err := app.Load(context.Background(), app.Options{ConfigPath: filepath.Join(dir, "config", "exportd.yaml"), Logger: zap.NewNop()})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := app.NewDaemon(a); err != nil {
			b.Fatal(err)
		}
		d := time.Since(start)
		a.Close()
		return d, vmHWM()
	}
	one, _ := startup(1)
	many, rss := startup(n)
	b.ReportMetric(float64(n), "schedules")
	b.ReportMetric(many.Seconds(), "startup_s")
	b.ReportMetric(one.Seconds(), "one_schedule_s")
	b.Logf("%d schedules: start-up %.2fs (one schedule: %.2fs), peak RSS %s", n, many.Seconds(), one.Seconds(), rss)
}

// vmHWM is the process's peak resident set size, from /proc.
func vmHWM() string {
	data, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			return strings.TrimSpace(strings.TrimPrefix(l, "VmHWM:"))
		}
	}
	return "?"
}
