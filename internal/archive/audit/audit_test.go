package audit_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"go.uber.org/goleak"

	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/archive/archivetest"
	"github.com/exportd/exportd/internal/archive/audit"
	"github.com/exportd/exportd/internal/archive/folderstore"
	"github.com/exportd/exportd/internal/archive/s3store"
	"github.com/exportd/exportd/internal/cli"
	"github.com/exportd/exportd/internal/domain"
	"github.com/exportd/exportd/internal/testenv"
)

var gw *testenv.Server

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "exportd-audit-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	gw, err = testenv.StartVersityGW(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "audit tests need versitygw:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	// The command line reaches the test server through the AWS
	// credential chain, as an auditor's would.
	for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": gw.AccessKey, "AWS_SECRET_ACCESS_KEY": gw.SecretKey, "AWS_REGION": testenv.Region,
		"AWS_CONFIG_FILE": filepath.Join(dir, "no-aws-config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "no-aws-credentials")} {
		os.Setenv(k, v)
	}
	code := m.Run()
	_ = gw.Stop()
	os.RemoveAll(dir)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutines leaked:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// backend is an archive store plus raw access to it, the way someone with
// write access to the bucket or folder would tamper with it.
type backend interface {
	// location is the archive as the command line names it.
	location() []string
	store() archive.Store
	reader(t *testing.T) archive.Reader
	get(t *testing.T, key string) []byte
	put(t *testing.T, key string, data []byte)
	remove(t *testing.T, key string)
	keys(t *testing.T, prefix string) []string
}

type folderBackend struct {
	root string
	st   *folderstore.Store
}

func newFolder(t *testing.T) *folderBackend { return newFolderAt(t, t.TempDir()) }

func newFolderAt(t testing.TB, root string) *folderBackend {
	st, err := folderstore.New(root)
	if err != nil {
		t.Fatal(err)
	}
	return &folderBackend{root: root, st: st}
}

func (b *folderBackend) store() archive.Store { return b.st }
func (b *folderBackend) location() []string   { return []string{b.root} }
func (b *folderBackend) reader(t *testing.T) archive.Reader {
	r, err := folderstore.OpenReadOnly(b.root)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
func (b *folderBackend) get(t *testing.T, key string) []byte {
	data, err := os.ReadFile(filepath.Join(b.root, key))
	if err != nil {
		t.Fatal(err)
	}
	return data
}
func (b *folderBackend) put(t *testing.T, key string, data []byte) {
	p := filepath.Join(b.root, key)
	os.MkdirAll(filepath.Dir(p), 0o755)
	os.Remove(p) // archived files are read-only links; replace the name
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
func (b *folderBackend) remove(t *testing.T, key string) {
	if err := os.Remove(filepath.Join(b.root, key)); err != nil {
		t.Fatal(err)
	}
}
func (b *folderBackend) keys(t *testing.T, prefix string) []string {
	var out []string
	if err := b.st.List(t.Context(), prefix, func(oi archive.ObjectInfo) error {
		out = append(out, oi.Key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

type s3Backend struct {
	bucket string
	st     *s3store.Store
	client *s3.Client
	locked bool
}

func s3Options(bucket string) s3store.Options {
	return s3store.Options{Bucket: bucket, Endpoint: gw.Endpoint, ForcePathStyle: true, Region: testenv.Region, Credentials: gw.Credentials()}
}

func newS3B(b *testing.B) *s3Backend { return newS3TB(b, false) }

func newS3(t *testing.T, locked bool) *s3Backend { return newS3TB(t, locked) }

func newS3TB(t testing.TB, locked bool) *s3Backend {
	bucket := gw.Bucket(t, locked)
	o := s3Options(bucket)
	if locked {
		o.ObjectLock = &s3store.ObjectLock{Mode: s3store.LockCompliance, Retain: time.Hour}
	}
	st, err := s3store.New(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	return &s3Backend{bucket: bucket, st: st, client: gw.Client(), locked: locked}
}

func (b *s3Backend) store() archive.Store { return b.st }
func (b *s3Backend) location() []string {
	return []string{"s3://" + b.bucket + "/audit/prod/", "--endpoint", gw.Endpoint, "--path-style"}
}
func (b *s3Backend) reader(t *testing.T) archive.Reader { return b.st }
func (b *s3Backend) get(t *testing.T, key string) []byte {
	out, err := b.client.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
func (b *s3Backend) put(t *testing.T, key string, data []byte) {
	if _, err := b.client.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(key), Body: bytes.NewReader(data)}); err != nil {
		t.Fatal(err)
	}
}
func (b *s3Backend) remove(t *testing.T, key string) {
	if _, err := b.client.DeleteObject(t.Context(), &s3.DeleteObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(key)}); err != nil {
		t.Fatal(err)
	}
}
func (b *s3Backend) keys(t *testing.T, prefix string) []string {
	var out []string
	if err := b.st.List(t.Context(), prefix, func(oi archive.ObjectInfo) error {
		out = append(out, oi.Key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

var start = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func newKeyB(b *testing.B) ed25519.PrivateKey { return newKeyTB(b) }

func newKey(t *testing.T) ed25519.PrivateKey { return newKeyTB(t) }

func newKeyTB(t testing.TB) ed25519.PrivateKey {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// genOptions: two daily schedules over eight days, one of them with a
// skipped window, signed.
func genOptions(key ed25519.PrivateKey) archivetest.GenOptions {
	return archivetest.GenOptions{
		Prefix: "audit/prod",
		Schedules: []archivetest.GenSchedule{
			{Name: "logins", Every: "day", Skip: []int{1}},
			{Name: "errors", Every: "day"},
		},
		Start: start, Days: 8, Key: key,
	}
}

func verify(t *testing.T, r archive.Reader, g *archivetest.Generated, key ed25519.PrivateKey, mutate ...func(*audit.Options)) *audit.Report {
	t.Helper()
	o := audit.Options{Prefix: "audit/prod", AsOf: g.AsOf}
	if key != nil {
		o.Keys = []ed25519.PublicKey{key.Public().(ed25519.PublicKey)}
	}
	for _, m := range mutate {
		m(&o)
	}
	rep, err := audit.Verify(t.Context(), r, o)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func findings(rep *audit.Report) string {
	var b strings.Builder
	for _, f := range rep.Findings {
		b.WriteString(f.String() + "\n")
	}
	return b.String()
}

// want checks that the report has exactly the findings listed (code and
// key), each once: one root cause per tampering.
func want(t *testing.T, rep *audit.Report, exp ...[2]string) {
	t.Helper()
	var got, wantS []string
	for _, f := range rep.Findings {
		got = append(got, f.Code+" "+f.Key)
	}
	for _, e := range exp {
		wantS = append(wantS, e[0]+" "+e[1])
	}
	slices.Sort(got)
	slices.Sort(wantS)
	if !slices.Equal(got, wantS) {
		t.Fatalf("findings:\n%s\nwant (code key):\n%s", findings(rep), strings.Join(wantS, "\n"))
	}
}

func windowsOf(f audit.Finding) []string {
	var out []string
	for _, w := range f.Windows {
		out = append(out, w.ID())
	}
	return out
}

func TestTamperingFolder(t *testing.T) {
	testTampering(t, func(t *testing.T) backend { return newFolder(t) })
}
func TestTamperingS3(t *testing.T) {
	testTampering(t, func(t *testing.T) backend { return newS3(t, false) })
}

func testTampering(t *testing.T, newBackend func(t *testing.T) backend) {
	type tc struct {
		name   string
		tamper func(t *testing.T, b backend, g *archivetest.Generated, key ed25519.PrivateKey) [][2]string
		check  func(t *testing.T, rep *audit.Report, g *archivetest.Generated)
	}
	cases := []tc{
		{name: "untouched", tamper: func(t *testing.T, b backend, g *archivetest.Generated, key ed25519.PrivateKey) [][2]string {
			return nil
		}, check: func(t *testing.T, rep *audit.Report, g *archivetest.Generated) {
			if rep.Trust != audit.TrustExternal || len(rep.Schedules) != 2 || rep.DailyDigests != 8 || rep.Objects != 15 {
				t.Fatalf("report: trust %s, %d schedules, %d daily digests, %d objects", rep.Trust, len(rep.Schedules), rep.DailyDigests, rep.Objects)
			}
			for _, s := range rep.Schedules {
				if s.Expected != 8 || s.Present != 8 || s.SignedThrough != 8 || s.Definition != 1 {
					t.Fatalf("%+v", s)
				}
			}
		}},
		{name: "csv-byte-changed", tamper: func(t *testing.T, b backend, g *archivetest.Generated, key ed25519.PrivateKey) [][2]string {
			k := g.Objects["logins"][3]
			data := b.get(t, k)
			data[len(data)-3] ^= 1
			b.put(t, k, data)
			return [][2]string{{audit.ObjectChanged, k}}
		}},
		{name: "object-deleted", tamper: func(t *testing.T, b backend, g *archivetest.Generated, key ed25519.PrivateKey) [][2]string {
			k := g.Objects["errors"][2]
			b.remove(t, k)
			return [][2]string{{audit.ObjectMissing, k}}
		}},
		{name: "manifest-deleted", tamper: func(t *testing.T, b backend, g *archivetest.Generated, key ed25519.PrivateKey) [][2]string {
			k := g.Manifests["logins"][4]
			b.remove(t, k)
			return [][2]string{{audit.ManifestDeleted, k}}
		}, check: func(t *testing.T, rep *audit.Report, g *archivetest.Generated) {
			if w := windowsOf(rep.Findings[0]); !slices.Equal(w, []string{g.Windows["logins"][4].ID()}) {
				t.Fatalf("window named: %v", w)
			}
		}},
		{name: "manifests-swapped", tamper: func(t *testing.T, b backend, g *archivetest.Generated, key ed25519.PrivateKey) [][2]string {
			a, c := g.Manifests["errors"][2], g.Manifests["errors"][5]
			da, dc := b.get(t, a), b.get(t, c)
			b.put(t, a, dc)
			b.put(t, c, da)
			return [][2]string{{audit.ManifestsSwapped, min(a, c)}}
		}},
		{name: "daily-digest-edited", tamper: func(t *testing.T, b backend, g *archivetest.Generated, key ed25519.PrivateKey) [][2]string {
			k := g.Daily[3]
			data := bytes.Replace(b.get(t, k), []byte(`"sequence": 4`), []byte(`"sequence": 3`), 1)
			b.put(t, k, data)
			return [][2]string{{audit.SignatureBad, k}}
		}},
		{name: "daily-digest-signed-by-another-key", tamper: func(t *testing.T, b backend, g *archivetest.Generated, key ed25519.PrivateKey) [][2]string {
			other := newKey(t)
			k := g.Daily[5]
			var d archive.DailyDigest
			if err := json.Unmarshal(b.get(t, k), &d); err != nil {
				t.Fatal(err)
			}
			d.Schedules = d.Schedules[:1] // hide a schedule
			d.KeyID = archive.KeyID(other.Public().(ed25519.PublicKey))
			data, _ := json.MarshalIndent(d, "", "  ")
			b.put(t, k, data)
			b.put(t, archive.SignatureKey(k), ed25519.Sign(other, data))
			pem, _ := archive.MarshalPublicKey(other.Public().(ed25519.PublicKey))
			b.put(t, archive.PublicKeyKey("audit/prod", d.KeyID), pem)
			return [][2]string{{audit.KeyUntrusted, k}}
		}},
		{name: "commit-digest-edited", tamper: func(t *testing.T, b backend, g *archivetest.Generated, key ed25519.PrivateKey) [][2]string {
			// A per-commit digest made to vouch for another manifest.
			k := "audit/prod/_digests/errors/000000000003.json"
			var d archive.Digest
			if err := json.Unmarshal(b.get(t, k), &d); err != nil {
				t.Fatal(err)
			}
			d.ManifestSHA256 = archive.SHA256Hex([]byte("another manifest"))
			data, _ := json.MarshalIndent(d, "", "  ")
			b.put(t, k, data)
			return [][2]string{{audit.SignatureBad, k}}
		}},
		{name: "commit-digest-signed-by-another-key", tamper: func(t *testing.T, b backend, g *archivetest.Generated, key ed25519.PrivateKey) [][2]string {
			other := newKey(t)
			k := "audit/prod/_digests/logins/000000000006.json"
			var d archive.Digest
			if err := json.Unmarshal(b.get(t, k), &d); err != nil {
				t.Fatal(err)
			}
			d = archive.SignDigest(other, d)
			data, _ := json.MarshalIndent(d, "", "  ")
			b.put(t, k, data)
			pem, _ := archive.MarshalPublicKey(other.Public().(ed25519.PublicKey))
			b.put(t, archive.PublicKeyKey("audit/prod", d.KeyID), pem)
			return [][2]string{{audit.KeyUntrusted, k}}
		}},
		{name: "whole-day-removed", tamper: func(t *testing.T, b backend, g *archivetest.Generated, key ed25519.PrivateKey) [][2]string {
			day := g.Windows["logins"][4].Start.Format("2006-01-02")
			var exp [][2]string
			for _, s := range []string{"logins", "errors"} {
				for _, k := range b.keys(t, "audit/prod/"+s+"/dt="+day+"/") {
					b.remove(t, k)
				}
				exp = append(exp, [2]string{audit.ManifestDeleted, g.Manifests[s][4]})
			}
			dk := archive.DailyKey("audit/prod", g.Windows["logins"][4].Start)
			b.remove(t, dk)
			b.remove(t, archive.SignatureKey(dk))
			return append(exp, [2]string{audit.DailyMissing, dk})
		}},
		{name: "newest-three-days-removed-head-rewound", tamper: func(t *testing.T, b backend, g *archivetest.Generated, key ed25519.PrivateKey) [][2]string {
			for _, s := range []string{"logins", "errors"} {
				n := len(g.Manifests[s])
				for i := n - 3; i < n; i++ {
					for _, k := range b.keys(t, "audit/prod/"+s+"/dt="+g.Windows[s][i].Start.Format("2006-01-02")+"/") {
						b.remove(t, k)
					}
					b.remove(t, fmt.Sprintf("audit/prod/_digests/%s/%012d.json", s, i+1))
				}
				mk := g.Manifests[s][n-4]
				data := b.get(t, mk)
				head, _ := json.Marshal(archive.Head{FormatVersion: 1, Schedule: s, Sequence: int64(n - 3), Key: mk, SHA256: archive.SHA256Hex(data), Manifest: data})
				b.put(t, "audit/prod/_head/"+s, head)
			}
			for _, dk := range g.Daily[len(g.Daily)-3:] {
				b.remove(t, dk)
				b.remove(t, archive.SignatureKey(dk))
			}
			return [][2]string{{audit.MissingWindows, "audit/prod/logins/"}, {audit.MissingWindows, "audit/prod/errors/"}, {audit.DailyMissing, g.Daily[len(g.Daily)-3]}}
		}, check: func(t *testing.T, rep *audit.Report, g *archivetest.Generated) {
			for _, f := range rep.Findings {
				if n := len(f.Windows); f.Code == audit.MissingWindows && n != 3 {
					t.Fatalf("%s names %d windows, want the newest 3", f, n)
				}
				if f.Code == audit.DailyMissing && !strings.Contains(f.Message, "3 day(s)") {
					t.Fatalf("%s", f)
				}
			}
		}},
		{name: "head-rewound-manifests-kept", tamper: func(t *testing.T, b backend, g *archivetest.Generated, key ed25519.PrivateKey) [][2]string {
			// Only the head moved back: the newer manifests, their digests
			// and the daily digests that recorded them are all evidence of
			// one rewind, which names the windows it hides.
			mk := g.Manifests["logins"][4]
			data := b.get(t, mk)
			head, _ := json.Marshal(archive.Head{FormatVersion: 1, Schedule: "logins", Sequence: 5, Key: mk, SHA256: archive.SHA256Hex(data), Manifest: data})
			b.put(t, "audit/prod/_head/logins", head)
			return [][2]string{{audit.HeadRewound, "audit/prod/_head/logins"}}
		}, check: func(t *testing.T, rep *audit.Report, g *archivetest.Generated) {
			if w := windowsOf(rep.Findings[0]); len(w) != 3 || w[0] != g.Windows["logins"][5].ID() {
				t.Fatalf("rewind names windows %v", w)
			}
		}},
		{name: "whole-schedule-removed", tamper: func(t *testing.T, b backend, g *archivetest.Generated, key ed25519.PrivateKey) [][2]string {
			for _, p := range []string{"audit/prod/errors/", "audit/prod/_head/errors", "audit/prod/_definitions/errors/", "audit/prod/_digests/errors/", "audit/prod/_claims/errors/"} {
				for _, k := range b.keys(t, p) {
					b.remove(t, k)
				}
			}
			return [][2]string{{audit.ScheduleRemoved, "audit/prod/errors/"}}
		}},
		{name: "definition-record-edited", tamper: func(t *testing.T, b backend, g *archivetest.Generated, key ed25519.PrivateKey) [][2]string {
			k := "audit/prod/_definitions/logins/v000001.json"
			data := bytes.Replace(b.get(t, k), []byte(`"cron": "0 0 * * *"`), []byte(`"cron": "0 6 * * *"`), 1)
			b.put(t, k, data)
			return [][2]string{{audit.DefinitionChanged, k}}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b := newBackend(t)
			key := newKey(t)
			g, err := archivetest.Generate(t.Context(), b.store(), genOptions(key))
			if err != nil {
				t.Fatal(err)
			}
			if s, ok := b.(sealer); ok {
				s.seal(t, g, key)
			}
			exp := c.tamper(t, b, g, key)
			rep := verify(t, b.reader(t), g, key)
			want(t, rep, exp...)
			if c.check != nil {
				c.check(t, rep, g)
			}
			// The command line, from the archive alone: exit 3 naming
			// each root cause's key (0 when untouched).
			pem, _ := archive.MarshalPublicKey(key.Public().(ed25519.PublicKey))
			pub := filepath.Join(t.TempDir(), "trusted.pem")
			os.WriteFile(pub, pem, 0o644)
			var out, errb bytes.Buffer
			args := append(append([]string{"archive", "verify"}, b.location()...), "--as-of", g.AsOf.Format(time.RFC3339), "--public-key", pub)
			code := cli.Main(t.Context(), "test", args, &out, &errb)
			wantCode := cli.ExitVerifyFailed
			if len(exp) == 0 {
				wantCode = 0
			}
			if code != wantCode {
				t.Fatalf("exportd %s: exit %d, want %d\n%s%s", strings.Join(args, " "), code, wantCode, out.String(), errb.String())
			}
			for _, e := range exp {
				if !strings.Contains(out.String(), e[0]+": ") || !strings.Contains(out.String(), "at "+e[1]+"\n") {
					t.Fatalf("the command line does not name %s at %s:\n%s", e[0], e[1], out.String())
				}
			}
		})
	}
}

// TestCopiedFolder: a plain cp -r copy of a folder archive verifies with
// nothing but the copy, and verifying it writes nothing into it.
func TestCopiedFolder(t *testing.T) {
	b := newFolder(t)
	key := newKey(t)
	g, err := archivetest.Generate(t.Context(), b.store(), genOptions(key))
	if err != nil {
		t.Fatal(err)
	}
	cp := filepath.Join(t.TempDir(), "copy")
	if out, err := exec.Command("cp", "-r", b.root, cp).CombinedOutput(); err != nil {
		t.Fatalf("cp -r: %v\n%s", err, out)
	}
	os.RemoveAll(filepath.Join(cp, ".tmp"))
	r, err := folderstore.OpenReadOnly(cp)
	if err != nil {
		t.Fatal(err)
	}
	rep := verify(t, r, g, key)
	want(t, rep)
	if out, code := cliVerify(t, &folderBackend{root: cp}, g, key); code != 0 || !strings.Contains(out, "VERIFIED: 15 objects") {
		t.Fatalf("the command line on the copy: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(cp, ".tmp")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("verify wrote into the copy: %v", err)
	}
	// Without keys from outside, it says loudly what it trusted.
	rep = verify(t, r, g, nil)
	if rep.Trust != audit.TrustArchive || len(rep.Warnings) == 0 || !strings.Contains(rep.Warnings[0], "ARCHIVE'S OWN KEYS ONLY") {
		t.Fatalf("trust %s, warnings %v", rep.Trust, rep.Warnings)
	}
	// As of later, the days since are missing: the archive is complete
	// only up to its last digest and windows.
	rep = verify(t, r, g, key, func(o *audit.Options) { o.AsOf = g.AsOf.Add(48 * time.Hour) })
	want(t, rep, [2]string{audit.MissingWindows, "audit/prod/logins/"}, [2]string{audit.MissingWindows, "audit/prod/errors/"},
		[2]string{audit.DailyMissing, archive.DailyKey("audit/prod", start.Add(9*24*time.Hour))})
}

// TestRetentionS3: on a bucket with Object Lock, an object written without
// retention is named; the others carry the recorded policy.
func TestRetentionS3(t *testing.T) {
	b := newS3(t, true)
	key := newKey(t)
	o := genOptions(key)
	o.Retain, o.Mode = 24*time.Hour*365*2, s3store.LockCompliance
	o.Schedules = o.Schedules[:1]
	o.Days = 4
	// The unit of the third day is written without retention.
	o.NoRetention = start.Add(2*24*time.Hour).Format("20060102T150405Z") + "-" + start.Add(3*24*time.Hour).Format("20060102T150405Z") + ".csv"
	g, err := archivetest.Generate(t.Context(), b.store(), o)
	if err != nil {
		t.Fatal(err)
	}
	rep := verify(t, b.reader(t), g, key)
	want(t, rep, [2]string{audit.RetentionMissing, g.Objects["logins"][1]})
	out, code := cliVerify(t, b, g, key)
	if code != cli.ExitVerifyFailed || !strings.Contains(out, audit.RetentionMissing+": ") || !strings.Contains(out, "at "+g.Objects["logins"][1]+"\n") {
		t.Fatalf("the command line on an object without retention: exit %d\n%s", code, out)
	}
	if rep.BucketLock == nil || !rep.BucketLock.Enabled {
		t.Fatalf("bucket lock: %+v", rep.BucketLock)
	}
	// A locked object cannot be removed: what Object Lock is for.
	_, err = b.client.DeleteObject(t.Context(), &s3.DeleteObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(g.Objects["logins"][0]),
		VersionId: aws.String(headVersion(t, b, g.Objects["logins"][0]))})
	if err == nil {
		t.Fatal("deleting a locked version succeeded")
	}
}

// TestSkippedWithoutReason: a window recorded as skipped must say why.
func TestSkippedWithoutReason(t *testing.T) {
	b := newFolder(t)
	o := genOptions(nil)
	o.Schedules[0].SkipWithoutReason = true
	g, err := archivetest.Generate(t.Context(), b.store(), o)
	if err != nil {
		t.Fatal(err)
	}
	want(t, verify(t, b.reader(t), g, nil), [2]string{audit.ReasonMissing, g.Manifests["logins"][1]})
}

// TestBucketWithoutLockS3: definitions record a retention policy but the
// bucket has no Object Lock: one finding for the bucket, not one per
// object.
func TestBucketWithoutLockS3(t *testing.T) {
	b := newS3(t, false)
	key := newKey(t)
	o := genOptions(key)
	o.Retain, o.Mode = 24*time.Hour, s3store.LockCompliance
	g, err := archivetest.Generate(t.Context(), b.store(), o)
	if err != nil {
		t.Fatal(err)
	}
	want(t, verify(t, b.reader(t), g, key), [2]string{audit.BucketLockDisabled, "audit/prod/_keys"})
}

// cliVerify runs exportd archive verify on the backend's location, as of
// the generated archive's end, trusting key; it returns stdout and the exit
// code.
func cliVerify(t *testing.T, b backend, g *archivetest.Generated, key ed25519.PrivateKey) (string, int) {
	t.Helper()
	pem, _ := archive.MarshalPublicKey(key.Public().(ed25519.PublicKey))
	pub := filepath.Join(t.TempDir(), "trusted.pem")
	if err := os.WriteFile(pub, pem, 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	args := append(append([]string{"archive", "verify"}, b.location()...), "--as-of", g.AsOf.Format(time.RFC3339), "--public-key", pub)
	code := cli.Main(t.Context(), "test", args, &out, &errb)
	return out.String() + errb.String(), code
}

func headVersion(t *testing.T, b *s3Backend, key string) string {
	out, err := b.client.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	if out.ObjectLockMode != s3types.ObjectLockModeCompliance {
		t.Fatalf("lock mode %q", out.ObjectLockMode)
	}
	return aws.ToString(out.VersionId)
}

// TestDefinitionRetentionS3: under Object Lock, a definition record is kept
// locked as long as the newest manifest naming it (the writer extends its
// retain-until before each commit); a record left with the retention it was
// first written with is named, since it could go before the manifests it
// explains.
func TestDefinitionRetentionS3(t *testing.T) {
	for _, once := range []bool{false, true} {
		b := newS3(t, true)
		key := newKey(t)
		o := genOptions(key)
		o.Retain, o.Mode = 24*time.Hour*365*2, s3store.LockCompliance
		o.Schedules = o.Schedules[1:]
		o.Days = 4
		o.DefinitionLockedOnce = once
		g, err := archivetest.Generate(t.Context(), b.store(), o)
		if err != nil {
			t.Fatal(err)
		}
		def := "audit/prod/_definitions/errors/v000001.json"
		st, err := b.st.Stat(t.Context(), def)
		if err != nil {
			t.Fatal(err)
		}
		last := g.Windows["errors"][len(g.Windows["errors"])-1].End.Add(o.Retain)
		rep := verify(t, b.reader(t), g, key)
		if !once {
			if !st.RetainUntil.Equal(last) || st.LockMode != s3store.LockCompliance {
				t.Fatalf("definition record locked %s until %s, want COMPLIANCE until the last window's end + retain, %s", st.LockMode, st.RetainUntil, last)
			}
			want(t, rep)
			continue
		}
		if !st.RetainUntil.Equal(start.Add(o.Retain)) {
			t.Fatalf("definition record locked once until %s, want %s", st.RetainUntil, start.Add(o.Retain))
		}
		want(t, rep, [2]string{audit.RetentionDrift, def})
		if f := rep.Findings[0]; !strings.Contains(f.Message, g.Manifests["errors"][3]) || !strings.Contains(f.Message, last.Format(time.RFC3339)) {
			t.Fatalf("the finding does not name the manifest that needs the record longer: %s", f)
		}
		// The writer repairs it: the next commit extends the record.
		a := &archive.Archive{Store: b.st, Instance: "test:1"}
		l := domain.Layout{Prefix: "audit/prod", Schedule: "errors"}
		if _, err := a.EnsureDefinition(t.Context(), l, archivetest.GenSpec(o.Schedules[0], o), archive.PutOptions{RetainUntil: last}); err != nil {
			t.Fatal(err)
		}
		want(t, verify(t, b.reader(t), g, key))
	}
}
