package audit_test

import (
	"crypto/ed25519"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/archive/archivetest"
)

// byHandCommands extracts the sh blocks of the "Verifying by hand" section
// of docs/ARCHIVE.md: the test runs exactly what the page tells people to
// run.
func byHandCommands(t *testing.T) string {
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "docs", "ARCHIVE.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(data), "\n## Verifying by hand\n")
	if !ok {
		t.Fatal("docs/ARCHIVE.md has no \"## Verifying by hand\" section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var script []string
	for {
		var block string
		_, rest, ok := strings.Cut(section, "\n```sh\n")
		if !ok {
			break
		}
		block, section, _ = strings.Cut(rest, "\n```\n")
		script = append(script, block)
	}
	if len(script) < 4 {
		t.Fatalf("found %d sh blocks in the section", len(script))
	}
	return strings.Join(script, "\n")
}

// TestVerifyByHand runs the by-hand commands of docs/ARCHIVE.md (sha256sum,
// sed, openssl) against a generated archive: they pass on it, and fail once
// an object byte or a daily digest is changed.
func TestVerifyByHand(t *testing.T) {
	script := byHandCommands(t)
	b := newFolder(t)
	key := newKey(t)
	g, err := archivetest.Generate(t.Context(), b.store(), genOptions(key))
	if err != nil {
		t.Fatal(err)
	}
	pem, _ := archive.MarshalPublicKey(key.Public().(ed25519.PublicKey))
	pub := filepath.Join(t.TempDir(), "trusted.pub.pem")
	if err := os.WriteFile(pub, pem, 0o644); err != nil {
		t.Fatal(err)
	}
	manifest := g.Manifests["errors"][5]
	day := strings.TrimSuffix(filepath.Base(g.Daily[6]), ".json")
	run := func() (string, error) {
		cmd := exec.Command("bash", "-e", "-u", "-c", script)
		cmd.Env = append(os.Environ(), "ARCHIVE="+b.root, "PUBKEY="+pub, "SCHEDULE=errors", "MANIFEST="+manifest, "DAY="+day)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run()
	if err != nil || strings.Count(out, ": OK") != 6 || !strings.Contains(out, "Signature Verified Successfully") {
		t.Fatalf("by hand on an untouched archive: %v\n%s", err, out)
	}
	obj := g.Objects["errors"][5]
	data := b.get(t, obj)
	data[len(data)-2] ^= 1
	b.put(t, obj, data)
	if out, err := run(); err == nil || !strings.Contains(out, "FAILED") {
		t.Fatalf("by hand with a changed object: %v\n%s", err, out)
	}
	data[len(data)-2] ^= 1
	b.put(t, obj, data)
	d := b.get(t, g.Daily[6])
	b.put(t, g.Daily[6], []byte(strings.Replace(string(d), `"sequence": 7`, `"sequence": 6`, 1)))
	if out, err := run(); err == nil || !strings.Contains(out, "Signature Verification Failure") {
		t.Fatalf("by hand with a changed daily digest: %v\n%s", err, out)
	}
}
