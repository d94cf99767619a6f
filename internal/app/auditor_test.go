package app_test

import (
	"bytes"
	"compress/gzip"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// verifyJSON is archive verify --json's answer.
type verifyJSON struct {
	Verified bool `json:"verified"`
	Reports  []struct {
		Location  string `json:"location"`
		Schedules []struct {
			Schedule  string `json:"schedule"`
			Manifests int    `json:"manifests"`
			Objects   int    `json:"objects"`
			Rows      int64  `json:"rows"`
			Expected  int    `json:"expected_windows"`
			Present   int    `json:"present_windows"`
		} `json:"schedules"`
		Findings []struct {
			Code string `json:"code"`
			Key  string `json:"key"`
		} `json:"findings"`
	} `json:"reports"`
}

// TestArchiveVerifyAndList runs the auditor commands on the archive that
// serve --once wrote for the demo, with the daemon config: verify (the same
// verifier as verify LOCATION, the config saying only where the archive
// is) says VERIFIED for both schedules and list shows every unit in commit
// order. Then the archive is tampered with, as only someone outside
// exportd could: a changed object, a changed manifest, a deleted manifest.
// verify names each with its key and exits 3.
func TestArchiveVerifyAndList(t *testing.T) {
	cfg := demoDir(t)
	if out, code := runCLI(t, cfg, "--now", demoEnd, "serve", "--once"); code != 0 {
		t.Fatalf("serve --once: exit %d\n%s", code, tail(out))
	}
	out, code := runCLI(t, cfg, "--now", demoEnd, "archive", "verify", "--json")
	var res verifyJSON
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != 0 || !res.Verified || len(res.Reports) != 1 || len(res.Reports[0].Schedules) != 2 {
		t.Fatalf("verify --json of a fresh archive: exit %d, %v\n%s", code, err, tail(out))
	}
	r := res.Reports[0].Schedules[0]
	n := r.Manifests
	if r.Schedule != "audit-log-rows" || n < 80 || r.Objects != n || r.Rows == 0 || r.Present != r.Expected || r.Expected < 80 {
		t.Fatalf("verify of audit-log-rows: %+v", r)
	}
	out, code = runCLI(t, cfg, "--now", demoEnd, "archive", "verify")
	if code != 0 || !strings.Contains(out, "VERIFIED: ") || !strings.Contains(out, "daily-login-activity") {
		t.Fatalf("verify of a fresh archive: exit %d\n%s", code, out)
	}
	// ls and bundle take the config's schedules as well as a location.
	if out, code := runCLI(t, cfg, "archive", "ls", "daily-login-activity"); code != 0 || !strings.Contains(out, "daily-login-activity/dt=2026-10-31/") {
		t.Fatalf("ls with the config: exit %d\n%s", code, tail(out))
	}
	snaps, _ := filepath.Glob(filepath.Join(filepath.Dir(cfg), "..", "archive", "sigma", "audit", "daily-login-activity", "*", "*.csv"))
	if len(snaps) != 1 {
		t.Fatalf("snapshots: %v", snaps)
	}
	snap, _ := os.ReadFile(snaps[0])
	wantRows := fmt.Sprintf("n\n%d\n", bytes.Count(snap, []byte("\n"))-1)
	if out, code := runCLI(t, cfg, "archive", "query", "daily-login-activity", "--sql", "SELECT count(*) AS n FROM daily_login_activity"); code != 0 || !strings.HasPrefix(out, wantRows) {
		t.Fatalf("query --sql with the config: exit %d, want %q\n%s", code, wantRows, tail(out))
	}
	zipFile := filepath.Join(t.TempDir(), "evidence.zip")
	if out, code := runCLI(t, cfg, "archive", "bundle", "--as-of", demoEnd, "--from", "2026-10-01", "--to", "2026-10-08", "-o", zipFile); code != 0 {
		t.Fatalf("bundle with the config: exit %d\n%s", code, tail(out))
	}
	if out, code := runCLI(t, cfg, "archive", "verify", zipFile); code != 0 || !strings.Contains(out, "VERIFIED: 7 objects") {
		t.Fatalf("verify the bundle: exit %d\n%s", code, tail(out))
	}
	// Later, with nothing archived since: the windows since are missing.
	if out, code := runCLI(t, cfg, "--now", "2026-11-03T00:00:00Z", "archive", "verify", "audit-log-rows"); code != 3 || !strings.Contains(out, "missing-windows: ") {
		t.Fatalf("verify two days later: exit %d\n%s", code, tail(out))
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
		name      string
		do        func() func()
		want, key string
	}{
		{"changed object", func() func() {
			return tamper(objects[40], func(b []byte) []byte { b[len(b)/2] ^= 1; return b })
		}, "object-changed: ", rel(objects[40])},
		{"changed manifest", func() func() {
			return tamper(manifests[10], func(b []byte) []byte { return []byte(strings.Replace(string(b), `"rows": `, `"rows": 1`, 1)) })
		}, "manifest-changed: ", rel(manifests[10])},
		{"deleted manifest", func() func() {
			p := manifests[20]
			orig, _ := os.ReadFile(p)
			os.Remove(p)
			return func() { os.WriteFile(p, orig, 0o444) }
		}, "manifest-deleted: ", rel(manifests[20])},
	} {
		restore := c.do()
		out, code := runCLI(t, cfg, "--now", demoEnd, "archive", "verify", "audit-log-rows")
		restore()
		if code != 3 || !strings.Contains(out, "FAILED: 1 finding(s)") || !strings.Contains(out, c.want) || !strings.Contains(out, "at "+c.key+"\n") {
			t.Errorf("%s: exit %d, want 3 and %q at %s in\n%s", c.name, code, c.want, c.key, out)
		}
	}
	// A config the archive cannot be read with: could not verify, exit 1.
	if out, code := runCLI(t, cfg, "--now", demoEnd, "archive", "verify", "no-such-schedule"); code != 1 || !strings.Contains(out, "no-such-schedule") {
		t.Errorf("verify of an unknown schedule: exit %d\n%s", code, tail(out))
	}
	if out, code := runCLI(t, cfg, "--now", demoEnd, "archive", "verify"); code != 0 {
		t.Fatalf("verify after restoring: exit %d\n%s", code, tail(out))
	}
}

// TestSignedDigests: with signing.private_key set, serve --once writes a
// signed digest of every commit; archive verify --public-key checks them
// all, and finds a changed digest, a missing one and the wrong key. A key
// that is not an Ed25519 PEM key is a config error that never shows it.
func TestSignedDigests(t *testing.T) {
	cfg := demoDir(t)
	dir := filepath.Dir(cfg)
	writeKey := func(name string) ed25519.PublicKey {
		pub, key, _ := ed25519.GenerateKey(nil)
		der, _ := x509.MarshalPKCS8PrivateKey(key)
		pubDER, _ := x509.MarshalPKIXPublicKey(pub)
		os.WriteFile(filepath.Join(dir, name+".pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
		os.WriteFile(filepath.Join(dir, name+".pub.pem"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o644)
		return pub
	}
	writeKey("signing")
	writeKey("other")
	data, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, append(data, "signing: {private_key: \"file:signing.pem\"}\n"...), 0o644)

	// A bad key first: a config error at the field, the key not shown.
	os.WriteFile(filepath.Join(dir, "bad.pem"), []byte("-----BEGIN PRIVATE KEY-----\nc2VjcmV0LXZhbHVlLTQy\n-----END PRIVATE KEY-----\n"), 0o600)
	os.WriteFile(cfg, append(data, "signing: {private_key: \"file:bad.pem\"}\n"...), 0o644)
	out, code := runCLI(t, cfg, "validate")
	if code != 1 || !strings.Contains(out, "signing.private_key: not an Ed25519 private key in PEM") || strings.Contains(out, "c2VjcmV0LXZhbHVlLTQy") {
		t.Fatalf("validate with a bad key: exit %d\n%s", code, out)
	}
	os.WriteFile(cfg, append(data, "signing: {private_key: \"file:signing.pem\"}\n"...), 0o644)

	if out, code := runCLI(t, cfg, "--now", demoEnd, "serve", "--once"); code != 0 {
		t.Fatalf("serve --once: exit %d\n%s", code, tail(out))
	}
	pub := filepath.Join(dir, "signing.pub.pem")
	out, code = runCLI(t, cfg, "--now", demoEnd, "archive", "verify", "--public-key", pub)
	if code != 0 || !strings.Contains(out, "VERIFIED: ") || !strings.Contains(out, "given from outside the archive") {
		t.Fatalf("verify with the public key: exit %d\n%s", code, out)
	}
	if out, code := runCLI(t, cfg, "--now", demoEnd, "archive", "verify", "--public-key", filepath.Join(dir, "other.pub.pem")); code != 3 || !strings.Contains(out, "key-untrusted: ") {
		t.Fatalf("verify with another key: exit %d\n%s", code, tail(out))
	}
	digests, _ := filepath.Glob(filepath.Join(dir, "..", "archive", "sigma", "audit", "_digests", "audit-log-rows", "*.json"))
	sort.Strings(digests)
	if len(digests) < 80 {
		t.Fatalf("%d digests of audit-log-rows", len(digests))
	}
	// The newest digest changed: its signature fails.
	newest := digests[len(digests)-1]
	orig, _ := os.ReadFile(newest)
	os.Chmod(newest, 0o644)
	changed := slices.Clone(orig)
	i := bytes.Index(changed, []byte(`"signed_at": "`)) + len(`"signed_at": "`) + 3 // the year's last digit
	changed[i] = '0' + (changed[i]-'0'+1)%10
	os.WriteFile(newest, changed, 0o644)
	rel := func(p string) string {
		r, _ := filepath.Rel(filepath.Join(dir, "..", "archive"), p)
		return filepath.ToSlash(r)
	}
	out, code = runCLI(t, cfg, "--now", demoEnd, "archive", "verify", "audit-log-rows", "--public-key", pub)
	if code != 3 || !strings.Contains(out, "signature-bad: ") || !strings.Contains(out, "at "+rel(newest)+"\n") {
		t.Fatalf("a changed digest: exit %d\n%s", code, tail(out))
	}
	// Gone: the newest manifest is not covered.
	os.Remove(newest)
	out, code = runCLI(t, cfg, "--now", demoEnd, "archive", "verify", "audit-log-rows", "--public-key", pub)
	if code != 3 || !strings.Contains(out, "digest-missing: ") || !strings.Contains(out, fmt.Sprint(len(digests))) {
		t.Fatalf("a missing digest: exit %d\n%s", code, tail(out))
	}
}

// TestArchiveFetch copies archived files out with their manifests, checks
// them on the way, and leaves nothing behind for a changed object.
func TestArchiveFetch(t *testing.T) {
	cfg := demoDir(t)
	if out, code := runCLI(t, cfg, "--now", demoEnd, "serve", "--once"); code != 0 {
		t.Fatalf("serve --once: exit %d\n%s", code, tail(out))
	}
	out := t.TempDir()
	res, code := runCLI(t, cfg, "archive", "fetch", "audit-log-rows", "--from", "2026-10-01", "--to", "2026-10-04", "--out", out)
	if code != 0 || !strings.Contains(res, "fetched 3 objects of 3 units") {
		t.Fatalf("fetch of three days: exit %d\n%s", code, tail(res))
	}
	got, _ := filepath.Glob(filepath.Join(out, "*"))
	if len(got) != 6 {
		t.Fatalf("fetched files: %v, want 3 objects and 3 manifests", got)
	}
	for _, f := range got {
		if !strings.HasSuffix(f, ".manifest.json") {
			continue
		}
		data, _ := os.ReadFile(f)
		var m struct {
			Objects []struct {
				Key    string `json:"key"`
				SHA256 string `json:"sha256"`
			} `json:"objects"`
		}
		if err := json.Unmarshal(data, &m); err != nil || len(m.Objects) != 1 {
			t.Fatalf("%s: %v", f, err)
		}
		obj, err := os.ReadFile(filepath.Join(out, filepath.Base(m.Objects[0].Key)))
		if err != nil {
			t.Fatal(err)
		}
		if sum := sha256.Sum256(obj); hex.EncodeToString(sum[:]) != m.Objects[0].SHA256 {
			t.Errorf("%s: fetched bytes do not match the manifest", m.Objects[0].Key)
		}
	}
	// One unit by id to stdout.
	res, code = runCLI(t, cfg, "archive", "fetch", "daily-login-activity", "--out", "-")
	if code != 0 || !strings.HasPrefix(res, "Day of Request Time,Success,Failure\n") {
		t.Fatalf("fetch to stdout: exit %d\n%s", code, tail(res))
	}
	// A changed object: exit 1, no file.
	objs, _ := filepath.Glob(filepath.Join(filepath.Dir(cfg), "..", "archive", "sigma", "audit", "audit-log-rows", "dt=2026-10-05", "*.csv.gz"))
	if len(objs) != 1 {
		t.Fatalf("objects of 2026-10-05: %v", objs)
	}
	os.Chmod(objs[0], 0o644)
	data, _ := os.ReadFile(objs[0])
	data[len(data)/2] ^= 1
	os.WriteFile(objs[0], data, 0o644)
	out2 := t.TempDir()
	res, code = runCLI(t, cfg, "archive", "fetch", "audit-log-rows", "--from", "2026-10-05", "--to", "2026-10-06", "--out", out2)
	if code != 1 || !strings.Contains(res, "the object was changed after it was archived") {
		t.Fatalf("fetch of a changed object: exit %d\n%s", code, tail(res))
	}
	if left, _ := filepath.Glob(filepath.Join(out2, "*")); len(left) != 0 {
		t.Fatalf("a changed object left files behind: %v", left)
	}
	if _, code := runCLI(t, cfg, "archive", "fetch", "audit-log-rows", "20200101T000000Z-20200102T000000Z"); code != 2 {
		t.Errorf("fetch of a unit that is not archived: exit %d, want 2", code)
	}
}

// TestArchiveQuery runs a workbook element (Daily Login Activity) over three
// archived days of raw audit rows and checks each count against the rows
// read straight from the archived files; a bad element is reported with
// its file and formula column.
func TestArchiveQuery(t *testing.T) {
	cfg := demoDir(t)
	if out, code := runCLI(t, cfg, "--now", demoEnd, "serve", "--once"); code != 0 {
		t.Fatalf("serve --once: exit %d\n%s", code, tail(out))
	}
	el := filepath.Join(t.TempDir(), "daily.yaml")
	os.WriteFile(el, []byte(`filters: ['[Event Type] = "LOGIN"']
group_by: [{formula: "[Request Time]", truncate: day}]
columns:
  - {name: Success, formula: 'CountIf([Event Status] = "SUCCESS")'}
  - {name: Failure, formula: 'CountIf([Event Status] = "FAILURE")'}
order_by: [{column: Day of Request Time}]
`), 0o644)
	cmd := exec.Command(os.Args[0], "--config", cfg, "--log-format", "json", "archive", "query", "audit-log-rows",
		"--from", "2026-10-01", "--to", "2026-10-04", "--element", el)
	cmd.Env = append(os.Environ(), "EXPORTD_TEST_MAIN=cli")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("query: %v\n%s", err, tail(stderr.String()))
	}
	// The same counts from the archived files, read here.
	want := "Day of Request Time,Success,Failure\n"
	for _, day := range []string{"2026-10-01", "2026-10-02", "2026-10-03"} {
		files, _ := filepath.Glob(filepath.Join(filepath.Dir(cfg), "..", "archive", "sigma", "audit", "audit-log-rows", "dt="+day, "*.csv.gz"))
		if len(files) != 1 {
			t.Fatalf("day %s: %v", day, files)
		}
		f, _ := os.Open(files[0])
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(zr).ReadAll()
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		col := map[string]int{}
		for i, h := range recs[0] {
			col[h] = i
		}
		var ok, failed int
		for _, r := range recs[1:] {
			if r[col["Event Type"]] == "LOGIN" && r[col["Event Status"]] == "SUCCESS" {
				ok++
			}
			if r[col["Event Type"]] == "LOGIN" && r[col["Event Status"]] == "FAILURE" {
				failed++
			}
		}
		want += fmt.Sprintf("%s,%d,%d\n", day, ok, failed)
	}
	if stdout.String() != want || !strings.Contains(stderr.String(), "3 rows from 3 archived units") {
		t.Fatalf("query result:\n%s\nwant:\n%s\n%s", stdout.String(), want, tail(stderr.String()))
	}

	os.WriteFile(el, []byte("columns: [{name: N, formula: 'CountIf([Event Stauts] = \"SUCCESS\")'}]\n"), 0o644)
	out, code := runCLI(t, cfg, "archive", "query", "audit-log-rows", "--from", "2026-10-01", "--to", "2026-10-02", "--element", el)
	if code != 1 || !strings.Contains(out, el) || !strings.Contains(out, "did you mean [Event Status]") {
		t.Errorf("a bad formula: exit %d\n%s", code, tail(out))
	}
	os.WriteFile(el, []byte("filterz: []\n"), 0o644)
	out, code = runCLI(t, cfg, "archive", "query", "audit-log-rows", "--element", el)
	if code != 2 || !strings.Contains(out, "line 1") || !strings.Contains(out, "filterz") {
		t.Errorf("an unknown field: exit %d\n%s", code, tail(out))
	}
}
