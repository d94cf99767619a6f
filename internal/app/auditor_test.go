package app_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// TestArchiveVerifyAndList runs the auditor commands on the archive that
// serve --once wrote for the demo: verify says OK for both schedules and
// list shows every unit in commit order. Then the archive is tampered
// with, as only someone outside exportd could: a changed object, a
// changed manifest, a deleted manifest. verify finds each, names the key,
// and exits 1.
func TestArchiveVerifyAndList(t *testing.T) {
	cfg := demoDir(t)
	if out, code := runCLI(t, cfg, "--now", demoEnd, "serve", "--once"); code != 0 {
		t.Fatalf("serve --once: exit %d\n%s", code, tail(out))
	}
	out, code := runCLI(t, cfg, "archive", "verify", "--json")
	var reports []struct {
		Schedule  string   `json:"schedule"`
		Manifests int      `json:"manifests"`
		Objects   int      `json:"objects"`
		Rows      int64    `json:"rows"`
		Problems  []string `json:"problems"`
		Missing   []any    `json:"missing"`
	}
	if err := json.Unmarshal([]byte(out), &reports); err != nil || code != 0 || len(reports) != 2 {
		t.Fatalf("verify --json of a fresh archive: exit %d, %v\n%s", code, err, tail(out))
	}
	n := reports[0].Manifests
	if r := reports[0]; r.Schedule != "audit-log-rows" || n < 80 || r.Objects != n || r.Rows == 0 || len(r.Problems)+len(r.Missing) != 0 {
		t.Fatalf("verify of audit-log-rows: %+v", r)
	}
	out, code = runCLI(t, cfg, "archive", "verify")
	if code != 0 || !strings.Contains(out, "audit-log-rows: OK: ") || !strings.Contains(out, "daily-login-activity: OK: 1 manifests") {
		t.Fatalf("verify of a fresh archive: exit %d\n%s", code, out)
	}
	out, code = runCLI(t, cfg, "archive", "list", "audit-log-rows", "--json")
	var entries []struct {
		Key      string `json:"manifest_key"`
		Manifest struct {
			Sequence int64 `json:"sequence"`
		} `json:"manifest"`
	}
	if err := json.Unmarshal([]byte(out), &entries); err != nil || code != 0 || len(entries) != n {
		t.Fatalf("list --json: exit %d, %d entries, %v\n%s", code, len(entries), err, tail(out))
	}
	for i, e := range entries {
		if e.Manifest.Sequence != int64(i+1) {
			t.Fatalf("entry %d has sequence %d", i, e.Manifest.Sequence)
		}
	}

	root := filepath.Join(filepath.Dir(cfg), "..", "archive")
	rows := filepath.Join(root, "sigma", "audit", "audit-log-rows")
	objects, _ := filepath.Glob(filepath.Join(rows, "*", "*.csv.gz"))
	manifests, _ := filepath.Glob(filepath.Join(rows, "*", "*.manifest.json"))
	sort.Strings(objects)
	sort.Strings(manifests)
	if len(objects) != n || len(manifests) != n {
		t.Fatalf("%d objects, %d manifests", len(objects), len(manifests))
	}
	rel := func(p string) string { r, _ := filepath.Rel(root, p); return filepath.ToSlash(r) }
	// tamper changes a published (read-only) file and returns a function
	// that puts it back.
	tamper := func(p string, change func([]byte) []byte) func() {
		t.Helper()
		orig, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, 0o644)
		if err := os.WriteFile(p, change(slices.Clone(orig)), 0o644); err != nil {
			t.Fatal(err)
		}
		return func() { os.WriteFile(p, orig, 0o444) }
	}
	for _, c := range []struct {
		name string
		do   func() func()
		want string
	}{
		{"changed object", func() func() {
			return tamper(objects[40], func(b []byte) []byte { b[len(b)/2] ^= 1; return b })
		}, rel(objects[40]) + " (in "},
		{"changed manifest", func() func() {
			return tamper(manifests[10], func(b []byte) []byte { return []byte(strings.Replace(string(b), `"rows": `, `"rows": 1`, 1)) })
		}, rel(manifests[10]) + ": sha256 is"},
		{"deleted manifest", func() func() {
			p := manifests[20]
			orig, _ := os.ReadFile(p)
			os.Remove(p)
			return func() { os.WriteFile(p, orig, 0o444) }
		}, rel(manifests[20]) + ": the chain points at it, but it cannot be read"},
	} {
		restore := c.do()
		out, code := runCLI(t, cfg, "archive", "verify", "audit-log-rows")
		restore()
		if code != 1 || !strings.Contains(out, "audit-log-rows: FAILED") || !strings.Contains(out, c.want) {
			t.Errorf("%s: exit %d, want 1 and %q in\n%s", c.name, code, c.want, out)
		}
	}
	if out, code := runCLI(t, cfg, "archive", "verify"); code != 0 {
		t.Fatalf("verify after restoring: exit %d\n%s", code, tail(out))
	}
}
