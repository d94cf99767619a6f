package app_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/exportd/exportd/internal/archive"
)

// TestServeOnceDescribesTheArchive: serve --once writes each schedule's
// definition record, names it in every manifest and writes the day's
// digest, so that archive verify LOCATION proves the demo archive complete
// from the archive alone; a second run under a changed definition writes
// version 2.
func TestServeOnceDescribesTheArchive(t *testing.T) {
	cfg := demoDir(t)
	if out, code := runCLI(t, cfg, "--now", demoEnd, "serve", "--once"); code != 0 {
		t.Fatalf("serve --once: exit %d\n%s", code, tail(out))
	}
	root := filepath.Join(filepath.Dir(cfg), "..", "archive")
	out, code := runCLI(t, cfg, "archive", "verify", root, "--as-of", "2026-11-01T03:00:00Z")
	if code != 0 || !strings.Contains(out, "VERIFIED: 89 objects") || !strings.Contains(out, "daily digests: 1, 2026-11-01 to 2026-11-01") {
		t.Fatalf("verify LOCATION: exit %d\n%s", code, tail(out))
	}
	manifests, _ := filepath.Glob(filepath.Join(root, "sigma", "audit", "audit-log-rows", "*", "*.manifest.json"))
	if len(manifests) != 88 {
		t.Fatalf("%d manifests", len(manifests))
	}
	data, _ := os.ReadFile(manifests[0])
	m, err := archive.ParseManifest(data)
	if err != nil || m.Definition == nil || m.Definition.Version != 1 {
		t.Fatalf("manifest names no definition: %v %+v", err, m)
	}
	def, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(m.Definition.Key)))
	if err != nil || archive.SHA256Hex(def) != m.Definition.SHA256 || strings.Contains(strings.ToLower(string(def)), "dsn") {
		t.Fatalf("definition record: %v\n%s", err, def)
	}
	// Later, a changed cron: the next commit is produced under version 2.
	sched := filepath.Join(filepath.Dir(cfg), "..", "schedules", "audit-log-rows.yaml")
	y, _ := os.ReadFile(sched)
	y2 := strings.Replace(string(y), `cron: "30 * * * *"`, `cron: "45 * * * *"`, 1)
	if y2 == string(y) {
		t.Fatalf("no cron line to change in\n%s", y)
	}
	os.WriteFile(sched, []byte(y2), 0o644)
	if out, code := runCLI(t, cfg, "--now", "2026-11-02T03:00:00Z", "serve", "--once"); code != 0 {
		t.Fatalf("serve --once: exit %d\n%s", code, tail(out))
	}
	if _, err := os.Stat(filepath.Join(root, "sigma", "audit", "_definitions", "audit-log-rows", "v000002.json")); err != nil {
		t.Fatal(err)
	}
	out, code = runCLI(t, cfg, "archive", "verify", root, "--as-of", "2026-11-02T04:00:00Z")
	if code != 0 || !strings.Contains(out, "daily digests: 2, 2026-11-01 to 2026-11-02") || !strings.Contains(out, "audit-log-rows        v2") {
		t.Fatalf("verify after the change: exit %d\n%s", code, tail(out))
	}
}
