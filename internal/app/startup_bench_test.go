package app_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.yaml.in/yaml/v3"
	"golang.org/x/sync/errgroup"

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
	var floor time.Duration
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
		// Flush the files just written: their write-back would otherwise
		// compete with the load for the CPUs.
		syscall.Sync()
		if count > 1 {
			floor = readAndParse(b, filepath.Join(dir, "schedules"))
		}
		cpu0 := cpuTime()
		start := time.Now()
		a, err := app.Load(context.Background(), app.Options{ConfigPath: filepath.Join(dir, "config", "exportd.yaml"), Logger: zap.NewNop()})
		if err != nil {
			b.Fatal(err)
		}
		loaded := time.Since(start)
		dm, err := app.NewDaemon(a)
		if err != nil {
			b.Fatal(err)
		}
		d := time.Since(start)
		cpu := cpuTime() - cpu0
		if count > 1 {
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			b.Logf("%d schedules: load and compile %.2fs, daemon (metrics, scheduler) %.2fs; CPU %.2fs; live heap after start-up %.0f MiB",
				count, loaded.Seconds(), (d - loaded).Seconds(), cpu.Seconds(), float64(ms.HeapAlloc)/(1<<20))
			if p := os.Getenv("EXPORTD_BENCH_HEAPPROFILE"); p != "" {
				if f, err := os.Create(p); err == nil {
					pprof.WriteHeapProfile(f)
					f.Close()
				}
			}
		}
		runtime.KeepAlive(dm)
		a.Close()
		return d, vmHWM()
	}
	one, _ := startup(1)
	many, rss := startup(n)
	b.ReportMetric(float64(n), "schedules")
	b.ReportMetric(many.Seconds(), "startup_s")
	b.ReportMetric(one.Seconds(), "one_schedule_s")
	b.ReportMetric(many.Seconds()/floor.Seconds(), "startup/parse")
	b.Logf("%d schedules: start-up %.2fs (one schedule: %.2fs), peak RSS %s; reading and parsing the same files into YAML trees alone (the floor): %.2fs, ratio %.2f",
		n, many.Seconds(), one.Seconds(), rss, floor.Seconds(), many.Seconds()/floor.Seconds())
}

// readAndParse reads and parses every file in dir into a yaml.Node on
// GOMAXPROCS workers, as the loader does, and nothing else: the part
// of start-up no check or compile can remove.
func readAndParse(b *testing.B, dir string) time.Duration {
	start := time.Now()
	entries, err := os.ReadDir(dir)
	if err != nil {
		b.Fatal(err)
	}
	var next atomic.Int64
	var g errgroup.Group
	for range runtime.GOMAXPROCS(0) {
		g.Go(func() error {
			for i := next.Add(1) - 1; i < int64(len(entries)); i = next.Add(1) - 1 {
				data, err := os.ReadFile(filepath.Join(dir, entries[i].Name()))
				if err != nil {
					return err
				}
				var n yaml.Node
				if err := yaml.Unmarshal(data, &n); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

// cpuTime is the user+system CPU time the process has used: start-up's
// CPU cost, which other work on the machine does not inflate as it does
// the wall-clock time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
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
