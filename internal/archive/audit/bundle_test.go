package audit_test

import (
	"archive/zip"
	"bytes"
	"crypto/ed25519"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/archive/archivetest"
	"github.com/exportd/exportd/internal/archive/audit"
	"github.com/exportd/exportd/internal/archive/folderstore"
	"github.com/exportd/exportd/internal/cli"
)

// sealer is a backend that is made from a generated archive before it is
// tampered with: an evidence bundle of it.
type sealer interface {
	seal(t *testing.T, g *archivetest.Generated, key ed25519.PrivateKey)
}

// makeBundle writes the bundle of the whole archive in src to out (a
// folder, or a zip when out ends in .zip).
func makeBundle(t *testing.T, src *folderBackend, g *archivetest.Generated, key ed25519.PrivateKey, out string) {
	t.Helper()
	r, err := folderstore.OpenReadOnly(src.root)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := audit.Bundle(t.Context(), r, audit.Options{Prefix: "audit/prod", AsOf: g.AsOf, Location: "file://" + src.root,
		Keys: []ed25519.PublicKey{key.Public().(ed25519.PublicKey)}}, out)
	if err != nil || !rep.OK() {
		t.Fatalf("bundle: %v %v", err, findings(rep))
	}
}

// folderBundle: the archive is generated in a folder, bundled into another
// folder, and the bundle is tampered with.
type folderBundle struct {
	*folderBackend
	src *folderBackend
}

func newFolderBundle(t *testing.T) backend {
	return &folderBundle{src: newFolder(t)}
}

func (b *folderBundle) store() archive.Store { return b.src.store() }
func (b *folderBundle) seal(t *testing.T, g *archivetest.Generated, key ed25519.PrivateKey) {
	dir := filepath.Join(t.TempDir(), "bundle")
	makeBundle(t, b.src, g, key, dir)
	st, err := folderstore.OpenReadOnly(dir)
	if err != nil {
		t.Fatal(err)
	}
	b.folderBackend = &folderBackend{root: dir, st: st}
}

// zipBundle: the same as a zip, read in place; tampering rewrites the zip
// with one entry changed or left out (the others copied as they are), as
// someone with the file and a zip tool would.
type zipBundle struct {
	src  *folderBackend
	file string
}

func newZipBundle(t *testing.T) backend { return &zipBundle{src: newFolder(t)} }

func (b *zipBundle) store() archive.Store { return b.src.store() }
func (b *zipBundle) seal(t *testing.T, g *archivetest.Generated, key ed25519.PrivateKey) {
	b.file = filepath.Join(t.TempDir(), "evidence.zip")
	makeBundle(t, b.src, g, key, b.file)
}
func (b *zipBundle) location() []string { return []string{b.file} }
func (b *zipBundle) reader(t *testing.T) archive.Reader {
	l, err := audit.Open(t.Context(), b.file, audit.S3Access{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l.Reader
}
func (b *zipBundle) open(t *testing.T) *zip.ReadCloser {
	zr, err := zip.OpenReader(b.file)
	if err != nil {
		t.Fatal(err)
	}
	return zr
}
func (b *zipBundle) get(t *testing.T, key string) []byte {
	zr := b.open(t)
	defer zr.Close()
	for _, f := range zr.File {
		if f.Name == key {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			data, err := io.ReadAll(rc)
			if err != nil {
				t.Fatal(err)
			}
			return data
		}
	}
	t.Fatalf("%s: no entry %s", b.file, key)
	return nil
}

// rewrite copies the zip, replacing (data != nil) or leaving out key.
func (b *zipBundle) rewrite(t *testing.T, key string, data []byte) {
	zr := b.open(t)
	defer zr.Close()
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	done := false
	for _, f := range zr.File {
		if f.Name != key {
			if err := zw.Copy(f); err != nil {
				t.Fatal(err)
			}
			continue
		}
		done = true
		if data != nil {
			w, err := zw.CreateHeader(&zip.FileHeader{Name: key, Method: zip.Store, Modified: f.Modified})
			if err != nil {
				t.Fatal(err)
			}
			w.Write(data)
		}
	}
	if !done && data != nil {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: key, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b.file, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
func (b *zipBundle) put(t *testing.T, key string, data []byte) { b.rewrite(t, key, data) }
func (b *zipBundle) remove(t *testing.T, key string)           { b.rewrite(t, key, nil) }
func (b *zipBundle) keys(t *testing.T, prefix string) []string {
	zr := b.open(t)
	defer zr.Close()
	var out []string
	for _, f := range zr.File {
		if strings.HasPrefix(f.Name, prefix) {
			out = append(out, f.Name)
		}
	}
	return out
}

func TestTamperingFolderBundle(t *testing.T) { testTampering(t, newFolderBundle) }
func TestTamperingZipBundle(t *testing.T)    { testTampering(t, newZipBundle) }

// TestZipBundle: a zip bundle is deterministic (the same archive and as-of
// give the same bytes: entries sorted, stored, dated the as-of), holds the
// README, HTML report and verify report, is read in place by verify, ls,
// fetch and query with no config, and a byte changed inside the zip file
// itself is an object changed (exit 3), not a zip error.
func TestZipBundle(t *testing.T) {
	src := newFolder(t)
	key := newKey(t)
	g, err := archivetest.Generate(t.Context(), src.store(), genOptions(key))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	a, c := filepath.Join(dir, "a.zip"), filepath.Join(dir, "b.zip")
	makeBundle(t, src, g, key, a)
	makeBundle(t, src, g, key, c)
	da, _ := os.ReadFile(a)
	dc, _ := os.ReadFile(c)
	if len(da) == 0 || !bytes.Equal(da, dc) {
		t.Fatalf("two bundles of the same archive and as-of differ (%d and %d bytes)", len(da), len(dc))
	}
	if _, err := os.Stat(a + ".tmp"); !os.IsNotExist(err) {
		t.Fatalf("temporary file left: %v", err)
	}
	zr, err := zip.OpenReader(a)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
		if f.Method != zip.Store || !f.Modified.Equal(g.AsOf) || f.Mode().Perm() != 0o444 {
			t.Fatalf("%s: method %d, modified %s, mode %s", f.Name, f.Method, f.Modified, f.Mode())
		}
	}
	zr.Close()
	if !slices.IsSorted(names) {
		t.Fatalf("entries not sorted: %v", names)
	}
	for _, n := range []string{"README.md", "report.html", "verify-report.json", audit.BundleFile, g.Objects["logins"][0], g.Daily[0], "audit/prod/_definitions/logins/v000001.json"} {
		if !slices.Contains(names, n) {
			t.Fatalf("no %s in the bundle: %v", n, names)
		}
	}
	// A second bundle to the same name is refused.
	if _, err := audit.Bundle(t.Context(), src.reader(t), audit.Options{Prefix: "audit/prod", AsOf: g.AsOf}, a); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("bundle over an existing file: %v", err)
	}

	pem, _ := archive.MarshalPublicKey(key.Public().(ed25519.PublicKey))
	pub := filepath.Join(dir, "trusted.pem")
	os.WriteFile(pub, pem, 0o644)
	run := func(args ...string) (string, string, int) {
		var out, errb bytes.Buffer
		code := cli.Main(t.Context(), "test", args, &out, &errb)
		return out.String(), errb.String(), code
	}
	// Verified offline, as of when it was made (no --as-of).
	if out, errOut, code := run("archive", "verify", a, "--public-key", pub); code != 0 || !strings.Contains(out, "VERIFIED: 15 objects") || !strings.Contains(errOut, "an evidence bundle of file://") {
		t.Fatalf("verify the zip: exit %d\n%s%s", code, out, errOut)
	}
	if out, errOut, code := run("archive", "ls", a, "errors"); code != 0 || strings.Count(out, "\n") != 9 || !strings.Contains(out, g.Objects["errors"][7]) {
		t.Fatalf("ls the zip: exit %d\n%s%s", code, out, errOut)
	}
	fetched := t.TempDir()
	if out, errOut, code := run("archive", "fetch", a, "logins", g.Windows["logins"][3].ID(), "-o", fetched); code != 0 || !strings.Contains(errOut, "fetched 1 objects of 1 units") {
		t.Fatalf("fetch %s from the zip: exit %d\n%s%s", g.Windows["logins"][3].ID(), code, out, errOut)
	}
	if got, want := readFile(t, filepath.Join(fetched, filepath.Base(g.Objects["logins"][2]))), src.get(t, g.Objects["logins"][2]); !bytes.Equal(got, want) {
		t.Fatalf("fetched %q, archived %q", got, want)
	}
	out, errOut, code := run("archive", "query", a, "--sql", `SELECT count(*) FILTER (WHERE Status = 'failed') AS failed, count(*) AS n FROM errors`, "--format", "csv")
	if code != 0 || out != "failed,n\n8,24\n" {
		t.Fatalf("query the zip: exit %d\n%s%s", code, out, errOut)
	}

	// One byte of an object changed in the zip file itself.
	zr, _ = zip.OpenReader(a)
	var off int64
	for _, f := range zr.File {
		if f.Name == g.Objects["errors"][4] {
			off, _ = f.DataOffset()
		}
	}
	zr.Close()
	data, _ := os.ReadFile(a)
	data[off+30] ^= 1
	os.WriteFile(a, data, 0o644)
	if out, errOut, code := run("archive", "verify", a, "--public-key", pub); code != cli.ExitVerifyFailed ||
		!strings.Contains(out, audit.ObjectChanged+": ") || !strings.Contains(out, "at "+g.Objects["errors"][4]+"\n") {
		t.Fatalf("verify a zip with a changed byte: exit %d\n%s%s", code, out, errOut)
	}
	// Not a zip at all: could not verify.
	os.WriteFile(c, []byte("not a zip"), 0o644)
	if out, errOut, code := run("archive", "verify", c); code != 1 || !strings.Contains(errOut, "b.zip") {
		t.Fatalf("verify a file that is not a zip: exit %d\n%s%s", code, out, errOut)
	}
	_ = time.Second
}

func readFile(t *testing.T, p string) []byte {
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
