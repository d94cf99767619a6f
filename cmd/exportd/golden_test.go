package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/exportd/exportd/internal/cli"
)

var update = flag.Bool("update", false, "rewrite testdata/demo-archive.golden from this run")

// goldenDemoEnd pins the demo data (and the clock): the log covers the 90
// days before it.
const goldenDemoEnd = "2026-11-01T00:00:00Z"

// TestDemoArchiveGolden holds exportd's behaviour end to end: serve --once
// on the shipped demo, with the demo's seed and end pinned, writes an
// archive whose data objects are byte-identical and whose manifests are
// identical but for their run block (times, instance, version) to the ones
// recorded in testdata/demo-archive.golden. Claims and heads hold lease
// times and owners and are left out, and so are the daily digests, which
// list the heads (each a manifest's sha256, run block included). The
// definition records are kept without their created_at (the wall clock when written), and a manifest's
// definition.sha256, which hashes that time, is left out like prev.sha256.
//
// One export runs at a time (runs.max_concurrent: 1) so that the commit
// order, and with it each manifest's sequence and prev link, is the same on
// every run. A manifest's prev.sha256 hashes the previous manifest's bytes,
// run block included, so it is left out; prev.key stays.
//
// A change that is meant to change the archive regenerates the file with
// go test ./cmd/exportd -run TestDemoArchiveGolden -update
// and the diff of testdata/demo-archive.golden shows what changed.
func TestDemoArchiveGolden(t *testing.T) {
	dir := t.TempDir()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"config", "schedules"} {
		if err := os.CopyFS(filepath.Join(dir, sub), os.DirFS(filepath.Join(root, sub))); err != nil {
			t.Fatal(err)
		}
	}
	cfgPath := filepath.Join(dir, "config", "exportd.yaml")
	data, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range [][2]string{
		{`demo_seed: "42"`, `demo_seed: "42"` + "\n      demo_end: \"" + goldenDemoEnd + "\""},
		{"max_concurrent: 4", "max_concurrent: 1"},
	} {
		pinned := bytes.Replace(data, []byte(r[0]), []byte(r[1]), 1)
		if bytes.Equal(pinned, data) {
			t.Fatalf("config/exportd.yaml: no %q line to pin", r[0])
		}
		data = pinned
	}
	if err := os.WriteFile(cfgPath, data, 0o644); err != nil {
		t.Fatal(err)
	}

	var out bytes.Buffer
	code := cli.Main(context.Background(), "golden", []string{"--config", cfgPath, "--log-level", "error", "--now", goldenDemoEnd, "serve", "--once"}, &out, &out)
	if code != 0 {
		t.Fatalf("serve --once: exit %d\n%s", code, out.String())
	}

	got := digestArchive(t, filepath.Join(dir, "archive"))
	golden := filepath.Join("testdata", "demo-archive.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	wantData, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (create it with -update)", err)
	}
	if want := string(wantData); got != want {
		t.Errorf("the demo archive differs from %s:\n%s", golden, diffLines(want, got))
	}
}

// digestArchive lists "sha256  path" for every data object and manifest
// (manifests normalised), sorted by path, and ends with a line "total"
// over all of them.
func digestArchive(t *testing.T, root string) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if base := d.Name(); strings.HasPrefix(base, "_claims") || strings.HasPrefix(base, "_head") || base == "_daily" {
				return filepath.SkipDir
			}
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if strings.Contains(rel, "/_definitions/") {
			b, err = dropFields(b, "created_at")
			if err != nil {
				return fmt.Errorf("%s: %w", rel, err)
			}
		}
		if strings.HasSuffix(p, ".manifest.json") {
			b, err = normaliseManifest(b)
			if err != nil {
				return fmt.Errorf("%s: %w", rel, err)
			}
		}
		s := sha256.Sum256(b)
		lines = append(lines, hex.EncodeToString(s[:])+"  "+rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) == 0 {
		t.Fatal("serve --once wrote no archive")
	}
	sort.Slice(lines, func(i, j int) bool { return lines[i][66:] < lines[j][66:] })
	all := strings.Join(lines, "\n") + "\n"
	total := sha256.Sum256([]byte(all))
	return all + hex.EncodeToString(total[:]) + "  total\n"
}

// normaliseManifest drops the run block, prev.sha256 and definition.sha256
// and re-encodes
// the rest with sorted keys.
func normaliseManifest(b []byte) ([]byte, error) {
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	if _, ok := m["run"]; !ok {
		return nil, fmt.Errorf("no run block")
	}
	delete(m, "run")
	for _, link := range []string{"prev", "definition"} {
		if l, ok := m[link].(map[string]any); ok {
			delete(l, "sha256")
		}
	}
	return json.Marshal(m)
}

// dropFields removes top-level fields of a JSON object and re-encodes the
// rest with sorted keys.
func dropFields(b []byte, fields ...string) ([]byte, error) {
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	for _, f := range fields {
		if _, ok := m[f]; !ok {
			return nil, fmt.Errorf("no %s field", f)
		}
		delete(m, f)
	}
	return json.Marshal(m)
}

// diffLines names the files whose lines differ, are missing or are new.
func diffLines(want, got string) string {
	index := func(s string) map[string]string {
		m := map[string]string{}
		for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
			if len(l) > 66 {
				m[l[66:]] = l[:64]
			}
		}
		return m
	}
	w, g := index(want), index(got)
	var out []string
	for p, d := range w {
		switch gd, ok := g[p]; {
		case !ok:
			out = append(out, "missing: "+p)
		case gd != d:
			out = append(out, "differs: "+p)
		}
	}
	for p := range g {
		if _, ok := w[p]; !ok {
			out = append(out, "new:     "+p)
		}
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}
