package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// decodeAll decodes the schedule files of dir/schedules as a cold load
// does and returns a DecodedCache of those that decoded without problems.
// It checks that each cached entry reads back as exactly what was
// decoded.
func decodeAll(t *testing.T, dir string) *DecodedCache {
	t.Helper()
	c := NewDecodedCache()
	files, err := filepath.Glob(filepath.Join(dir, "schedules", "*.y*ml"))
	if err != nil {
		t.Fatal(err)
	}
	l := &loader{opts: LoadOptions{DecodedCache: func(*Config) *DecodedCache { return nil }}}
	for _, file := range files {
		if strings.HasPrefix(filepath.Base(file), ".") {
			continue // not loaded
		}
		p := &parsedSchedule{f: &fileState{doc: &document{file: file}}}
		l.readSchedule(p, nil)
		if p.js == nil {
			continue
		}
		var back scheduleFile
		if err := json.Unmarshal(p.js, &back); err != nil || !reflect.DeepEqual(back, p.raw) {
			t.Fatalf("%s: the cached form reads back as\n%+v, %v\nwant\n%+v", file, back, err, p.raw)
		}
		c.m[p.sum] = p.js
	}
	return c
}

// TestDecodedCacheFile: a cache written to disk reads back whole for the
// same build, empty for another build or no file, and a damaged one is
// reported and ignored.
func TestDecodedCacheFile(t *testing.T) {
	dir := baseTree(t)
	overlay(t, "testdata/good", dir)
	cache := decodeAll(t, dir)
	if cache.Len() < 3 {
		t.Fatalf("only %d good schedule files decoded", cache.Len())
	}
	path := filepath.Join(t.TempDir(), "state", "schedules.cache")
	if err := cache.WriteFile(path, "build-1"); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("cache file mode: %v, %v; want 0600", st.Mode(), err)
	}
	back, err := ReadDecodedCache(path, "build-1")
	if err != nil || !back.Equal(cache) || !reflect.DeepEqual(back.m, cache.m) {
		t.Fatalf("read back %d entries, %v; want %d", back.Len(), err, cache.Len())
	}
	if other, err := ReadDecodedCache(path, "build-2"); err != nil || other.Len() != 0 {
		t.Errorf("another build's cache: %d entries, %v; want none", other.Len(), err)
	}
	if none, err := ReadDecodedCache(filepath.Join(t.TempDir(), "nope"), "build-1"); err != nil || none.Len() != 0 {
		t.Errorf("no cache file: %d entries, %v", none.Len(), err)
	}
	data, _ := os.ReadFile(path)
	for name, bad := range map[string][]byte{
		"not a cache": []byte("hello\n"),
		"torn":        data[:len(data)/2-7],
		"bad sum":     []byte(strings.Replace(string(data), "\n", "\nzz", 1)),
	} {
		os.WriteFile(path, bad, 0o600)
		got, err := ReadDecodedCache(path, "build-1")
		if err == nil || got.Len() != 0 {
			t.Errorf("%s: %d entries, error %v; want none and an error", name, got.Len(), err)
		}
	}
}

// TestDecodedCacheLoad: a load through the cache takes every unchanged
// file from it, parses a changed one, gives the same configuration as a
// cold load, and returns a cache of exactly the files it loaded.
func TestDecodedCacheLoad(t *testing.T) {
	dir := baseTree(t)
	overlay(t, "testdata/good", dir)
	var seen *DecodedCache
	opts := LoadOptions{DecodedCache: func(*Config) *DecodedCache { return seen }}
	cold := mustLoad(t, dir, opts)
	n := len(cold.Schedules)
	if cold.DecodedHits() != 0 || cold.DecodedCache().Len() != n {
		t.Fatalf("cold load: %d hits, cache of %d; want 0 and %d", cold.DecodedHits(), cold.DecodedCache().Len(), n)
	}
	seen = cold.DecodedCache()
	warm := mustLoad(t, dir, opts)
	if warm.DecodedHits() != n || !warm.DecodedCache().Equal(seen) {
		t.Errorf("warm load: %d hits of %d", warm.DecodedHits(), n)
	}
	coldView, _ := cold.Redacted()
	warmView, _ := warm.Redacted()
	if string(coldView) != string(warmView) {
		t.Errorf("the cached load differs:\n%s\nwant\n%s", warmView, coldView)
	}
	for i := range cold.Schedules {
		a, b := *cold.Schedules[i], *warm.Schedules[i]
		a.doc, b.doc = nil, nil
		if !reflect.DeepEqual(a, b) {
			t.Errorf("schedule %s differs through the cache:\n%+v\nwant\n%+v", a.Name, b, a)
		}
	}

	// One file changes, one goes away: one miss, and the returned cache
	// drops both old entries.
	changed := filepath.Join(dir, "schedules", "audit-rows.yaml")
	data, _ := os.ReadFile(changed)
	os.WriteFile(changed, append(data, []byte("description: changed\n")...), 0o644)
	os.Remove(filepath.Join(dir, "schedules", "login-snapshot.yml"))
	seen = warm.DecodedCache()
	next := mustLoad(t, dir, opts)
	if next.DecodedHits() != n-2 || next.DecodedCache().Len() != n-1 {
		t.Errorf("after a change: %d hits, cache of %d; want %d and %d", next.DecodedHits(), next.DecodedCache().Len(), n-2, n-1)
	}
	for _, s := range next.Schedules {
		if s.File == changed && s.Description != "changed" {
			t.Errorf("the changed file was taken from the cache: description %q", s.Description)
		}
	}
}
