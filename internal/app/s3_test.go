package app_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"go.uber.org/zap"

	"github.com/exportd/exportd/internal/app"
	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/testenv"
)

// s3Config turns the demo config into one whose "local" destination is an
// s3 integration on the test server, and adds an hourly schedule over the
// last `windows` hours of the demo data.
func s3Config(t *testing.T, srv *testenv.Server, bucket string, windows int, objectLock bool) string {
	t.Helper()
	cfg := demoDir(t)
	t.Setenv("TEST_S3_KEY", srv.AccessKey)
	t.Setenv("TEST_S3_SECRET", srv.SecretKey)
	data, _ := os.ReadFile(cfg)
	lock := ""
	if objectLock {
		lock = "\n    object_lock: {mode: COMPLIANCE, retain: 5y}"
	}
	s := replaceOnce(string(data), "  local:\n    type: folder\n    path: ../archive\n", fmt.Sprintf(`  local:
    type: folder
    path: ../archive
  lake:
    type: s3
    region: us-east-1
    endpoint: %s
    force_path_style: true
    access_key_id: ${TEST_S3_KEY}
    secret_access_key: ${TEST_S3_SECRET}
    allowed_locations: ["s3://%s/audit/"]%s
`, srv.Endpoint, bucket, lock))
	if err := os.WriteFile(cfg, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(filepath.Dir(cfg), "..", "schedules")
	// Only the s3 schedule: the others would write to the folder.
	for _, f := range []string{"audit-log-rows.yaml", "daily-login-activity.yaml"} {
		os.Remove(filepath.Join(dir, f))
	}
	end, _ := time.Parse(time.RFC3339, demoEnd)
	start := end.Add(-time.Duration(windows) * time.Hour)
	sched := fmt.Sprintf(`name: hourly-rows
source: demo
cron: "5 * * * *"
window: {every: hour, column: Request Time, lag: 0s, start: %s}
catch_up: all
element:
  from: {table: AUDIT_LOGS}
  columns:
    - {name: Request Id, formula: "[Request Id]"}
    - {name: Request Time, formula: "[Request Time]"}
    - {name: Event Type, formula: "[Event Type]"}
  order_by: [{column: Request Time}, {column: Request Id}]
destination: {integration: lake, uri: "s3://%s/audit/sigma/"}
`, start.Format(time.RFC3339), bucket)
	if err := os.WriteFile(filepath.Join(dir, "hourly-rows.yaml"), []byte(sched), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestThreeReplicasOneBucket runs three separate exportd processes, each
// catching up the same 200 hourly windows into one bucket.
func TestThreeReplicasOneBucket(t *testing.T) {
	srv := testenv.VersityGW(t)
	bucket := srv.Bucket(t, false)
	const windows = 200
	cfg := s3Config(t, srv, bucket, windows, false)

	var wg sync.WaitGroup
	logs := make([]bytes.Buffer, 3)
	codes := make([]int, 3)
	for i := range 3 {
		wg.Go(func() {
			cmd := exec.Command(os.Args[0], "--config", cfg, "--log-format", "json", "--now", demoEnd, "serve", "--once")
			cmd.Env = append(os.Environ(), "EXPORTD_TEST_MAIN=cli")
			cmd.Stdout, cmd.Stderr = &logs[i], &logs[i]
			if err := cmd.Run(); err != nil {
				if ee, ok := err.(*exec.ExitError); ok {
					codes[i] = ee.ExitCode()
				} else {
					codes[i] = -1
				}
			}
		})
	}
	wg.Wait()
	exported := map[string]int{}
	perProcess := make([]int, 3)
	for i := range 3 {
		if codes[i] != 0 {
			t.Errorf("replica %d: exit %d\n%s", i, codes[i], tail(logs[i].String()))
		}
		sc := bufio.NewScanner(bytes.NewReader(logs[i].Bytes()))
		for sc.Scan() {
			var line struct {
				Msg      string `json:"msg"`
				Unit     string `json:"unit"`
				Repaired bool   `json:"repaired"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "exported" {
				exported[line.Unit]++
				perProcess[i]++
			}
		}
	}
	if len(exported) != windows {
		t.Errorf("%d distinct windows exported, want %d", len(exported), windows)
	}
	for u, n := range exported {
		if n != 1 {
			t.Errorf("window %s exported %d times", u, n)
		}
	}
	t.Logf("windows exported per replica: %v", perProcess)

	// The bucket: 200 objects, 200 manifests, one unbroken chain.
	ctx := context.Background()
	client := srv.Client()
	var objects, manifests []string
	p := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String("audit/sigma/hourly-rows/")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			switch k := aws.ToString(o.Key); {
			case strings.HasSuffix(k, ".manifest.json"):
				manifests = append(manifests, k)
			case strings.HasSuffix(k, ".csv"):
				objects = append(objects, k)
			default:
				t.Errorf("unexpected object %s", k)
			}
		}
	}
	if len(objects) != windows || len(manifests) != windows {
		t.Fatalf("%d objects and %d manifests, want %d of each", len(objects), len(manifests), windows)
	}
	get := func(key string) []byte {
		out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			t.Fatalf("get %s: %v", key, err)
		}
		defer out.Body.Close()
		b, _ := io.ReadAll(out.Body)
		return b
	}
	var head archive.Head
	if err := json.Unmarshal(get("audit/sigma/_head/hourly-rows"), &head); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	key, sum, seq := head.Key, head.SHA256, head.Sequence
	if seq != windows {
		t.Errorf("head sequence %d, want %d", seq, windows)
	}
	for key != "" {
		data := get(key)
		if archive.SHA256Hex(data) != sum {
			t.Fatalf("chain broken at %s: sha256 differs from the link", key)
		}
		m, err := archive.ParseManifest(data)
		if err != nil {
			t.Fatal(err)
		}
		if m.Sequence != seq || seen[key] {
			t.Fatalf("chain broken at %s: sequence %d, want %d", key, m.Sequence, seq)
		}
		seen[key] = true
		obj := get(m.Objects[0].Key)
		if archive.SHA256Hex(obj) != m.Objects[0].SHA256 || m.Objects[0].StoreChecksums["CRC64NVME"] == "" {
			t.Fatalf("object %s does not match its manifest", m.Objects[0].Key)
		}
		seq--
		key, sum = "", ""
		if m.Prev != nil {
			key, sum = m.Prev.Key, m.Prev.SHA256
		}
	}
	if len(seen) != windows || seq != 0 {
		t.Fatalf("chain visits %d manifests, ends at sequence %d", len(seen), seq)
	}
}

func tail(s string) string {
	if len(s) > 3000 {
		return s[len(s)-3000:]
	}
	return s
}

// TestObjectLockThroughTheApp: with object_lock configured, objects and
// manifests are locked until window end + retain, claims and the head are
// not; a bucket without Object Lock is refused at start with a clear error.
func TestObjectLockThroughTheApp(t *testing.T) {
	srv := testenv.VersityGW(t)
	ctx := context.Background()
	client := srv.Client()

	plain := srv.Bucket(t, false)
	cfg := s3Config(t, srv, plain, 2, true)
	out, code := runCLI(t, cfg, "--now", demoEnd, "serve", "--once")
	if code == 0 || !strings.Contains(out, "Object Lock") || !strings.Contains(out, plain) {
		t.Fatalf("object_lock on a bucket without it: exit %d\n%s", code, tail(out))
	}

	locked := srv.Bucket(t, true)
	cfg = s3Config(t, srv, locked, 2, true)
	out, code = runCLI(t, cfg, "--now", demoEnd, "serve", "--once")
	if code != 0 {
		t.Fatalf("serve --once: exit %d\n%s", code, tail(out))
	}
	end, _ := time.Parse(time.RFC3339, demoEnd)
	var checked int
	p := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(locked), Prefix: aws.String("audit/")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			ret, err := client.GetObjectRetention(ctx, &s3.GetObjectRetentionInput{Bucket: aws.String(locked), Key: aws.String(key)})
			isData := strings.HasSuffix(key, ".csv") || strings.HasSuffix(key, ".manifest.json")
			switch {
			case isData && err != nil:
				t.Errorf("%s: no retention: %v", key, err)
			case isData:
				until := aws.ToTime(ret.Retention.RetainUntilDate)
				// The two windows end at demo end - 1h and demo end; 5y is 5×365 days.
				want := end.Add(5 * 365 * 24 * time.Hour)
				if string(ret.Retention.Mode) != "COMPLIANCE" || until.Before(want.Add(-time.Hour)) || until.After(want) {
					t.Errorf("%s: retention %s until %s, want COMPLIANCE until window end + 5y", key, ret.Retention.Mode, until)
				}
				checked++
			case strings.Contains(key, "/_definitions/") || strings.Contains(key, "/_daily/"):
				// Definition records and daily digests are locked like
				// the manifests that name them.
				if err != nil || ret.Retention == nil || string(ret.Retention.Mode) != "COMPLIANCE" {
					t.Errorf("%s: record without retention: %v", key, err)
				}
			case err == nil && ret.Retention != nil && ret.Retention.RetainUntilDate != nil:
				t.Errorf("%s (claim or head) is locked until %s", key, aws.ToTime(ret.Retention.RetainUntilDate))
			}
		}
	}
	if checked != 4 {
		t.Fatalf("%d locked objects and manifests, want 4", checked)
	}
	// A locked object cannot be deleted.
	mk := "audit/sigma/hourly-rows/dt=2026-10-31/20261031T230000Z-20261101T000000Z.manifest.json"
	head, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(locked), Key: aws.String(mk)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(locked), Key: aws.String(mk), VersionId: head.VersionId}); err == nil {
		t.Fatalf("deleting a locked manifest version succeeded")
	}

	// The auditor commands read it through S3.
	if out, code := runCLI(t, cfg, "--now", demoEnd, "archive", "verify", "hourly-rows"); code != 0 || !strings.Contains(out, "VERIFIED: 2 objects") || !strings.Contains(out, "bucket Object Lock: enabled=true") {
		t.Fatalf("archive verify on S3: exit %d\n%s", code, tail(out))
	}
	fetched := t.TempDir()
	if out, code := runCLI(t, cfg, "archive", "fetch", "hourly-rows", "--out", fetched); code != 0 || !strings.Contains(out, "fetched 2 objects of 2 units") {
		t.Fatalf("archive fetch from S3: exit %d\n%s", code, tail(out))
	}

	// A pause marker on the locked bucket can be written, deleted by a
	// resume, and written again.
	a, err := app.Load(ctx, app.Options{ConfigPath: cfg, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	d, err := app.NewDaemon(a, app.DaemonOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	const marker = "audit/sigma/_paused/hourly-rows"
	exists := func() bool {
		_, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(locked), Key: aws.String(marker)})
		return err == nil
	}
	for round := range 2 {
		if err := d.Pause("hourly-rows"); err != nil || !exists() {
			t.Fatalf("pause %d: %v; marker there: %v", round, err, exists())
		}
		if err := d.Resume("hourly-rows"); err != nil || exists() {
			t.Fatalf("resume %d: %v; marker there: %v", round, err, exists())
		}
	}
}
