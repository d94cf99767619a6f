package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestZZScale(t *testing.T) {
	dir := baseTree(t)
	for i := 0; i < 10000; i++ {
		name := fmt.Sprintf("s%05d", i)
		os.WriteFile(filepath.Join(dir, "schedules", name+".yaml"), []byte(strings.ReplaceAll(baseSchedule, "name: logins", "name: "+name)), 0o644)
	}
	start := time.Now()
	cfg := mustLoad(t, dir, LoadOptions{})
	t.Logf("%d schedules in %v", len(cfg.Schedules), time.Since(start))
}
