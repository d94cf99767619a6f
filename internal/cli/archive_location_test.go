package cli

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/archive/archivetest"
	"github.com/exportd/exportd/internal/archive/folderstore"
	"github.com/exportd/exportd/internal/archive/s3store"
	"github.com/exportd/exportd/internal/testenv"
)

func run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	// No config file exists where the command runs: the LOCATION form
	// must not need one.
	t.Chdir(t.TempDir())
	code := Main(t.Context(), "test", args, &out, &errb)
	return out.String(), errb.String(), code
}

func genArchive(t *testing.T, st archive.Store) (*archivetest.Generated, string) {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	g, err := archivetest.Generate(t.Context(), st, archivetest.GenOptions{
		Prefix:    "audit",
		Schedules: []archivetest.GenSchedule{{Name: "logins", Every: "day"}, {Name: "errors", Every: "hour"}},
		Start:     time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC), Days: 5, Key: key,
	})
	if err != nil {
		t.Fatal(err)
	}
	pem, _ := archive.MarshalPublicKey(key.Public().(ed25519.PublicKey))
	pub := filepath.Join(t.TempDir(), "signing.pub.pem")
	if err := os.WriteFile(pub, pem, 0o644); err != nil {
		t.Fatal(err)
	}
	return g, pub
}

// TestVerifyLocationFolder: archive verify on a folder, with no config:
// exit 0 when untouched, 3 naming the object when a byte changed, 1 when
// the location cannot be read.
func TestVerifyLocationFolder(t *testing.T) {
	root := t.TempDir()
	st, err := folderstore.New(root)
	if err != nil {
		t.Fatal(err)
	}
	g, pub := genArchive(t, st)
	asOf := g.AsOf.Format(time.RFC3339)
	out, errOut, code := run(t, "archive", "verify", root, "--as-of", asOf, "--public-key", pub)
	if code != 0 || !strings.Contains(out, "VERIFIED: 125 objects") || !strings.Contains(out, "given from outside the archive") {
		t.Fatalf("untouched: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = run(t, "archive", "verify", root, "--as-of", asOf)
	if code != 0 || !strings.Contains(errOut, "ARCHIVE'S OWN KEYS ONLY") {
		t.Fatalf("without --public-key: exit %d\n%s%s", code, out, errOut)
	}
	obj := filepath.Join(root, g.Objects["errors"][30])
	data, _ := os.ReadFile(obj)
	data[40] ^= 1
	os.Remove(obj)
	os.WriteFile(obj, data, 0o644)
	out, errOut, code = run(t, "archive", "verify", root, "--as-of", asOf, "--public-key", pub, "--json")
	var rep struct {
		Verified bool `json:"verified"`
		Reports  []struct {
			Findings []struct{ Code, Key string } `json:"findings"`
		} `json:"reports"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != ExitVerifyFailed || rep.Verified || len(rep.Reports) != 1 ||
		len(rep.Reports[0].Findings) != 1 || rep.Reports[0].Findings[0].Code != "object-changed" || rep.Reports[0].Findings[0].Key != g.Objects["errors"][30] {
		t.Fatalf("changed byte: exit %d, %v\n%s%s", code, err, out, errOut)
	}
	// The folder of the destination prefix works as well as the root.
	if out, errOut, code := run(t, "archive", "verify", filepath.Join(root, "audit"), "logins", "--as-of", asOf, "--public-key", pub); code != 0 {
		t.Fatalf("verify the prefix folder: exit %d\n%s%s", code, out, errOut)
	}
	// Only the schedule asked for is checked.
	if _, _, code = run(t, "archive", "verify", root, "logins", "--as-of", asOf, "--public-key", pub); code != 0 {
		t.Fatalf("verify logins only: exit %d", code)
	}
	for _, args := range [][]string{
		{"archive", "verify", filepath.Join(root, "nothing-here")},
		{"archive", "verify", root, "no-such-schedule", "--as-of", asOf},
		{"archive", "verify", root, "--as-of", "yesterday"},
		{"archive", "verify", root, "--public-key", filepath.Join(root, "missing.pem")},
	} {
		if out, errOut, code := run(t, args...); code != ExitFailure {
			t.Fatalf("%v: exit %d, want 1\n%s%s", args, code, out, errOut)
		}
	}
}

// TestVerifyLocationS3: the same on a bucket, credentials from the AWS
// chain (here the environment), no config.
func TestVerifyLocationS3(t *testing.T) {
	gw := testenv.VersityGW(t)
	bucket := gw.Bucket(t, false)
	st, err := s3store.New(t.Context(), s3store.Options{Bucket: bucket, Endpoint: gw.Endpoint, ForcePathStyle: true, Region: testenv.Region, Credentials: gw.Credentials()})
	if err != nil {
		t.Fatal(err)
	}
	g, pub := genArchive(t, st)
	t.Setenv("AWS_ACCESS_KEY_ID", gw.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", gw.SecretKey)
	t.Setenv("AWS_REGION", testenv.Region)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	args := []string{"archive", "verify", "s3://" + bucket + "/audit/", "--endpoint", gw.Endpoint, "--path-style", "--as-of", g.AsOf.Format(time.RFC3339), "--public-key", pub}
	if out, errOut, code := run(t, args...); code != 0 || !strings.Contains(out, "VERIFIED: 125 objects") {
		t.Fatalf("untouched: exit %d\n%s%s", code, out, errOut)
	}
	// An evidence bundle of two days, verified offline, then tampered.
	bundle := filepath.Join(t.TempDir(), "bundle")
	bargs := []string{"archive", "bundle", "s3://" + bucket + "/audit/", "--endpoint", gw.Endpoint, "--path-style", "--as-of", g.AsOf.Format(time.RFC3339),
		"--public-key", pub, "--from", "2026-05-02", "--to", "2026-05-04", "-o", bundle}
	if out, errOut, code := run(t, bargs...); code != 0 || !strings.Contains(out, "bundle written") {
		t.Fatalf("bundle: exit %d\n%s%s", code, out, errOut)
	}
	html, _ := os.ReadFile(filepath.Join(bundle, "report.html"))
	if !strings.Contains(string(html), "Completeness per schedule and month") || !strings.Contains(string(html), "2026-05") {
		t.Fatalf("report.html:\n%s", html)
	}
	for _, f := range []string{"verify-report.json", "lock-settings.json", "README.md", "exportd-bundle.json"} {
		if _, err := os.Stat(filepath.Join(bundle, f)); err != nil {
			t.Fatal(err)
		}
	}
	if out, errOut, code := run(t, "archive", "verify", bundle, "--public-key", pub); code != 0 || !strings.Contains(out, "VERIFIED: 50 objects") {
		t.Fatalf("verify the bundle: exit %d\n%s%s", code, out, errOut)
	}
	// ls, query and fetch read the bundle's period when given none: it
	// holds the objects of that period only.
	if out, errOut, code := run(t, "archive", "query", bundle, "--sql", `SELECT count(*) AS n FROM "logins"`); code != 0 || !strings.Contains(errOut, "archived objects loaded") {
		t.Fatalf("query the bundle: exit %d\n%s%s", code, out, errOut)
	}
	if out, errOut, code := run(t, "archive", "fetch", bundle, "logins", "-o", filepath.Join(t.TempDir(), "fetched")); code != 0 || !strings.Contains(errOut, "fetched") {
		t.Fatalf("fetch from the bundle: exit %d\n%s%s", code, out, errOut)
	}
	if out, errOut, code := run(t, "archive", "ls", bundle, "logins"); code != 0 || strings.Contains(out, g.Windows["logins"][0].ID()) {
		t.Fatalf("ls the bundle: exit %d, lists a window outside its period (%s)\n%s%s", code, g.Windows["logins"][0].ID(), out, errOut)
	}
	inBundle := filepath.Join(bundle, g.Objects["errors"][30])
	data, _ := os.ReadFile(inBundle)
	data[len(data)-2] ^= 1
	os.Remove(inBundle)
	os.WriteFile(inBundle, data, 0o644)
	if out, errOut, code := run(t, "archive", "verify", bundle, "--public-key", pub); code != ExitVerifyFailed || !strings.Contains(out, "object-changed") {
		t.Fatalf("verify a tampered bundle: exit %d\n%s%s", code, out, errOut)
	}
	// The newest manifest of logins deleted (and so its window).
	if err := deleteKey(t, gw, bucket, g.Manifests["logins"][4]); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := run(t, args...)
	if code != ExitVerifyFailed || !strings.Contains(out, "manifest-deleted") || !strings.Contains(out, g.Windows["logins"][4].ID()) {
		t.Fatalf("deleted manifest: exit %d\n%s%s", code, out, errOut)
	}
}

func deleteKey(t *testing.T, gw *testenv.Server, bucket, key string) error {
	_, err := gw.Client().DeleteObject(t.Context(), &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	return err
}

// TestArchiveLs: archive ls LOCATION lists the units from the archive
// alone, with --from/--to and one schedule.
func TestArchiveLs(t *testing.T) {
	root := t.TempDir()
	st, err := folderstore.New(root)
	if err != nil {
		t.Fatal(err)
	}
	g, _ := genArchive(t, st)
	out, errOut, code := run(t, "archive", "ls", root, "logins", "--json")
	var es []struct {
		Schedule, Key, SHA256 string
		Rows                  int64
	}
	if err := json.Unmarshal([]byte(out), &es); err != nil || code != 0 || len(es) != 5 || es[2].Key != g.Objects["logins"][2] || es[2].Rows != 3 || len(es[2].SHA256) != 64 {
		t.Fatalf("ls --json: exit %d %v\n%s%s", code, err, out, errOut)
	}
	out, errOut, code = run(t, "archive", "ls", root, "--from", "2026-05-03", "--to", "2026-05-04")
	if code != 0 || strings.Count(out, "\nlogins ") != 1 || strings.Count(out, "\nerrors ") != 24 || !strings.Contains(out, "SHA256") {
		t.Fatalf("ls a day: exit %d\n%s%s", code, out, errOut)
	}
}

// TestArchiveQuerySQL: archive query LOCATION --sql, one table per
// schedule, no config.
func TestArchiveQuerySQL(t *testing.T) {
	root := t.TempDir()
	st, err := folderstore.New(root)
	if err != nil {
		t.Fatal(err)
	}
	genArchive(t, st)
	out, errOut, code := run(t, "archive", "query", root, "--sql", `SELECT count(*) AS n FROM logins UNION ALL SELECT count(*) FROM "errors" WHERE "Status" = 'failed'`)
	if code != 0 || out != "n\n15\n120\n" || !strings.Contains(errOut, "125 archived objects loaded") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if _, errOut, code := run(t, "archive", "query", root, "logins", "--sql", "SELECT * FROM read_csv('/etc/hostname')"); code != ExitFailure {
		t.Fatalf("external access: exit %d\n%s", code, errOut)
	}
}

// TestArchiveHoldS3: hold places a legal hold on a period's objects and
// manifests (a locked bucket), recorded in the archive; ls and verify show
// it; release lifts it.
func TestArchiveHoldS3(t *testing.T) {
	gw := testenv.VersityGW(t)
	bucket := gw.Bucket(t, true)
	st, err := s3store.New(t.Context(), s3store.Options{Bucket: bucket, Endpoint: gw.Endpoint, ForcePathStyle: true, Region: testenv.Region,
		Credentials: gw.Credentials(), ObjectLock: &s3store.ObjectLock{Mode: s3store.LockGovernance, Retain: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	genArchive(t, st)
	t.Setenv("AWS_ACCESS_KEY_ID", gw.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", gw.SecretKey)
	t.Setenv("AWS_REGION", testenv.Region)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	loc := []string{"s3://" + bucket + "/audit/", "logins", "--endpoint", gw.Endpoint, "--path-style"}
	if out, errOut, code := run(t, append([]string{"archive", "hold"}, append(loc, "--from", "2026-05-02", "--to", "2026-05-04")...)...); code != ExitFailure {
		t.Fatalf("hold without a reason: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code := run(t, append([]string{"archive", "hold"}, append(loc, "--from", "2026-05-02", "--to", "2026-05-04", "--reason", "case 4711", "--by", "auditor")...)...)
	if code != 0 || !strings.Contains(out, "placed on 4 objects and manifests") {
		t.Fatalf("hold: exit %d\n%s%s", code, out, errOut)
	}
	out, _, code = run(t, append([]string{"archive", "ls"}, append(loc, "--json")...)...)
	var es []struct {
		Key       string
		LegalHold bool `json:"legal_hold"`
	}
	if err := json.Unmarshal([]byte(out), &es); err != nil || code != 0 || len(es) != 5 {
		t.Fatalf("ls: %v\n%s", err, out)
	}
	for i, e := range es {
		if e.LegalHold != (i == 1 || i == 2) {
			t.Fatalf("%s: legal hold %v", e.Key, e.LegalHold)
		}
	}
	recs := keysUnder(t, gw, bucket, "audit/_holds/")
	if len(recs) != 1 || !strings.HasSuffix(recs[0], "-placed.json") {
		t.Fatalf("hold records: %v", recs)
	}
	if out, errOut, code := run(t, append([]string{"archive", "release"}, append(loc, "--from", "2026-05-02", "--to", "2026-05-04", "--reason", "case 4711 closed", "--by", "auditor")...)...); code != 0 {
		t.Fatalf("release: exit %d\n%s%s", code, out, errOut)
	}
	out, _, _ = run(t, append([]string{"archive", "ls"}, append(loc, "--json")...)...)
	if strings.Contains(out, `"legal_hold": true`) {
		t.Fatalf("still held:\n%s", out)
	}
}

func keysUnder(t *testing.T, gw *testenv.Server, bucket, prefix string) []string {
	out, err := gw.Client().ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	return keys
}
