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
	var floor, archiveRead time.Duration
	// setup writes a configuration of count schedule files.
	setup := func(count int) string {
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
		return dir
	}
	// startup loads the configuration in dir and builds the daemon, as
	// exportd serve does (with its decoded-schedules cache in state_dir,
	// but for the "nocache" baseline).
	startup := func(dir, what string, count int) (time.Duration, string) {
		if p := os.Getenv("EXPORTD_BENCH_CPUPROFILE"); p != "" && count > 1 {
			if f, err := os.Create(strings.ReplaceAll(p, "%", what)); err == nil {
				pprof.StartCPUProfile(f)
				defer func() { pprof.StopCPUProfile(); f.Close() }()
			}
		}
		resetPeakRSS()
		cpu0 := cpuTime()
		start := time.Now()
		a, err := app.Load(context.Background(), app.Options{ConfigPath: filepath.Join(dir, "config", "exportd.yaml"), Logger: zap.NewNop(), ConfigCache: what != "nocache"})
		if err != nil {
			b.Fatal(err)
		}
		loaded := time.Since(start)
		dm, err := app.NewDaemon(a, app.DaemonOptions{})
		if err != nil {
			b.Fatal(err)
		}
		d := time.Since(start)
		cpu := cpuTime() - cpu0
		pprof.StopCPUProfile()
		rss := vmHWM()
		if count > 1 {
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			b.Logf("%s: %d schedules (%d decoded from cache): load and compile %.2fs, daemon (metrics, scheduler) %.2fs; CPU %.2fs; peak RSS %s; live heap after start-up %.0f MiB",
				what, count, a.Config().DecodedHits(), loaded.Seconds(), (d - loaded).Seconds(), cpu.Seconds(), rss, float64(ms.HeapAlloc)/(1<<20))
			if p := os.Getenv("EXPORTD_BENCH_HEAPPROFILE"); p != "" {
				if f, err := os.Create(p); err == nil {
					pprof.WriteHeapProfile(f)
					f.Close()
				}
			}
		}
		// Then the state of every schedule from its archive (empty here:
		// one missing head per schedule), which serve reads in the
		// background once the API serves.
		if count > 1 {
			t0 := time.Now()
			dm.LoadArchiveState(context.Background())
			archiveRead = time.Since(t0)
		}
		// Close stops what the daemon started (its notification
		// dispatcher) before the app it runs on.
		dm.Close()
		a.Close()
		return d, rss
	}
	one, _ := startup(setup(1), "one", 1)
	dir := setup(n)
	floor = readAndParse(b, filepath.Join(dir, "schedules"))
	// The first start of a binary parses every file (and writes the
	// cache); a restart, a reload or a deploy that changes some files
	// parses only those.
	// Baseline: serve --no-config-cache.
	plain, _ := startup(dir, "nocache", n)
	cold, coldRSS := startup(dir, "cold", n)
	warm, warmRSS := startup(dir, "warm", n)
	b.ReportMetric(float64(n), "schedules")
	b.ReportMetric(cold.Seconds(), "cold_startup_s")
	b.ReportMetric(warm.Seconds(), "startup_s")
	b.ReportMetric(one.Seconds(), "one_schedule_s")
	b.ReportMetric(cold.Seconds()/floor.Seconds(), "cold/parse")
	b.ReportMetric(warm.Seconds()/floor.Seconds(), "startup/parse")
	b.ReportMetric(plain.Seconds(), "nocache_startup_s")
	b.ReportMetric(archiveRead.Seconds(), "archive_state_s")
	b.ReportMetric(archiveRead.Seconds()/floor.Seconds(), "archive_state/parse")
	b.Logf("%d schedules: state read from an empty archive after start-up (in the background): %.2fs, %.2f of the parse alone", n, archiveRead.Seconds(), archiveRead.Seconds()/floor.Seconds())
	b.Logf("%d schedules: start-up %.2fs, peak RSS %s (first start of this binary, every file parsed and the cache written: %.2fs, peak RSS %s; --no-config-cache: %.2fs; one schedule: %.2fs); reading and parsing the same files into YAML trees alone: %.2fs; start-up/parse %.2f, cold/parse %.2f, cold/no-cache %.2f",
		n, warm.Seconds(), warmRSS, cold.Seconds(), coldRSS, plain.Seconds(), one.Seconds(), floor.Seconds(), warm.Seconds()/floor.Seconds(), cold.Seconds()/floor.Seconds(), cold.Seconds()/plain.Seconds())
}

// resetPeakRSS resets the process's peak RSS (VmHWM), so that each
// start-up reports its own.
func resetPeakRSS() { os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

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
