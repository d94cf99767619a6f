package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.yaml.in/yaml/v3"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// BenchmarkLoad loads 1,000 schedule files and reports the time per
// schedule next to a plain yaml.Unmarshal of the same files into
// scheduleFile (no checks, no positions), measured in the same run:
// load/unmarshal is what strictness, positions and checks cost.
func BenchmarkLoad(b *testing.B) {
	const n = 1000
	dir := b.TempDir()
	overlayB(b, "testdata/base", dir)
	if err := os.MkdirAll(filepath.Join(dir, "schedules"), 0o755); err != nil {
		b.Fatal(err)
	}
	for i := range n {
		name := fmt.Sprintf("s%05d", i)
		body := strings.ReplaceAll(baseSchedule, "name: logins", "name: "+name)
		if err := os.WriteFile(filepath.Join(dir, "schedules", name+".yaml"), []byte(body), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	env := lookupIn(testEnv)
	var load, plain time.Duration
	for b.Loop() {
		start := time.Now()
		cfg, err := Load(filepath.Join(dir, "exportd.yaml"), LoadOptions{LookupEnv: env})
		if err != nil || len(cfg.Schedules) != n {
			b.Fatalf("Load: %v", err)
		}
		load += time.Since(start)

		start = time.Now()
		entries, _ := os.ReadDir(filepath.Join(dir, "schedules"))
		for _, e := range entries {
			data, err := os.ReadFile(filepath.Join(dir, "schedules", e.Name()))
			if err != nil {
				b.Fatal(err)
			}
			var raw scheduleFile
			if err := yaml.Unmarshal(data, &raw); err != nil {
				b.Fatal(err)
			}
		}
		plain += time.Since(start)
	}
	b.ReportMetric(float64(load.Microseconds())/float64(b.N*n), "µs/schedule")
	b.ReportMetric(float64(load)/float64(plain), "load/unmarshal")
}

func overlayB(b *testing.B, src, dst string) {
	b.Helper()
	entries, err := os.ReadDir(src)
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range entries {
		s, d := filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())
		if e.IsDir() {
			if err := os.MkdirAll(d, 0o755); err != nil {
				b.Fatal(err)
			}
			overlayB(b, s, d)
			continue
		}
		data, err := os.ReadFile(s)
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(d, data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
}
