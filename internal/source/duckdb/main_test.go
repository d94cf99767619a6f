package duckdb

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// openTest opens an in-memory source with a fresh spool folder, after init
// SQL given inline, and closes it when the test ends.
func openTest(t testing.TB, initSQL string, mutate ...func(*Options)) *Source {
	t.Helper()
	dir := t.TempDir()
	opts := Options{
		Name:     "test",
		Path:     MemoryPath,
		SpoolDir: filepath.Join(dir, "spool"),
		Threads:  2,
	}
	if initSQL != "" {
		file := filepath.Join(dir, "init.sql")
		if err := os.WriteFile(file, []byte(initSQL), 0o600); err != nil {
			t.Fatal(err)
		}
		opts.Init = []string{file}
	}
	for _, m := range mutate {
		m(&opts)
	}
	s, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// spoolEntries lists what is left in the spool folder besides DuckDB's
// spill folder.
func spoolEntries(t testing.TB, s *Source) []string {
	t.Helper()
	entries, err := os.ReadDir(s.spool)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if filepath.Join(s.spool, e.Name()) == s.tmpDir {
			continue
		}
		names = append(names, e.Name())
	}
	return names
}
