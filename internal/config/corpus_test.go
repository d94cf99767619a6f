package config

import (
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the testdata/bad/*.err golden files")

// testEnv are the environment variables the base config's secrets name.
// Their values must never show up in any error or printed config.
var testEnv = map[string]string{
	"SNOWFLAKE_PASSWORD": "sf-pw-Zq8v7Xr2",
	"EXT_ID":             "ext-id-Kd93mLq0",
	"EXPORTD_TOKEN":      "api-token-Wp4nB6s1",
	"SNOWFLAKE_KEY":      "sf-key-Hy7cT5e9",
}

func lookupIn(env map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// overlay copies the tree src onto dst.
func overlay(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		copyFile(t, p, filepath.Join(dst, rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// baseTree makes a config tree in a temporary folder: testdata/base (the
// daemon config, its init file) and an empty schedules folder.
func baseTree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	overlay(t, "testdata/base", dir)
	if err := os.MkdirAll(filepath.Join(dir, "schedules"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestBadCorpus loads every broken file of testdata/bad on top of the base
// tree and compares the complete error text with its .err golden file.
//
//	name.yaml          a schedule file, installed as schedules/name.yaml
//	name.config.yaml   a daemon config, installed as exportd.yaml
//	name/              a tree laid over the base tree
func TestBadCorpus(t *testing.T) {
	entries, err := os.ReadDir("testdata/bad")
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]bool{}
	var viaCache atomic.Int64
	for _, e := range entries {
		file := e.Name()
		if strings.HasSuffix(file, ".err") {
			continue
		}
		name := strings.TrimSuffix(file, ".yaml")
		if strings.HasSuffix(file, ".config.yaml") {
			name = strings.TrimSuffix(file, ".yaml")
		}
		cases[name] = true
		// Each case runs cold, and again with the schedule files that
		// decode taken from a DecodedCache: an error in a cached file is
		// the same, at the same line and column.
		for _, cached := range []bool{false, true} {
			sub := name
			if cached {
				sub += "/cached"
			}
			t.Run(sub, func(t *testing.T) {
				dir := baseTree(t)
				src := filepath.Join("testdata/bad", file)
				switch {
				case e.IsDir():
					overlay(t, src, dir)
				case strings.HasSuffix(file, ".config.yaml"):
					copyFile(t, src, filepath.Join(dir, "exportd.yaml"))
				default:
					copyFile(t, src, filepath.Join(dir, "schedules", file))
				}
				opts := LoadOptions{LookupEnv: lookupIn(testEnv)}
				if cached {
					cache := decodeAll(t, dir)
					if cache.Len() > 0 {
						viaCache.Add(1)
					}
					opts.DecodedCache = func(*Config) *DecodedCache { return cache }
				}
				cfg, err := Load(filepath.Join(dir, "exportd.yaml"), opts)
				if err == nil {
					t.Fatalf("Load succeeded with %d schedules; want errors", len(cfg.Schedules))
				}
				var errs Errors
				if !errors.As(err, &errs) || !errors.Is(err, ErrInvalid) {
					t.Fatalf("Load error is %T, want Errors matching ErrInvalid: %v", err, err)
				}
				got := strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), "") + "\n"
				for k, v := range testEnv {
					if strings.Contains(got, v) {
						t.Errorf("error text shows the value of %s", k)
					}
				}
				if strings.Contains(got, "hunter2") {
					t.Errorf("error text repeats a literal secret")
				}
				golden := filepath.Join("testdata/bad", name+".err")
				if *update && !cached {
					if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test -update to create it)", err)
				}
				if got != string(want) {
					t.Errorf("errors differ from %s (go test -update rewrites it)\ngot:\n%s\nwant:\n%s", golden, got, want)
				}
			})
		}
	}
	if n := viaCache.Load(); n < 20 {
		t.Errorf("only %d bad cases had a schedule file in the cache; the cached runs test little", n)
	}
	// A golden file without its case is a case that was lost.
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ".err"); ok && !cases[name] {
			t.Errorf("testdata/bad/%s has no case", e.Name())
		}
	}
}
