package testenv

import (
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TestVersityGW: the server starts, serves a bucket with Object Lock, keeps
// its data across a kill and a restart on the same address, and stops.
func TestVersityGW(t *testing.T) {
	srv := VersityGW(t)
	ctx := t.Context()
	bucket := srv.Bucket(t, true)
	c := srv.Client()
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("a/b.txt"), Body: strings.NewReader("hello")}); err != nil {
		t.Fatal(err)
	}
	lc, err := c.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: aws.String(bucket)})
	if err != nil || lc.ObjectLockConfiguration == nil || lc.ObjectLockConfiguration.ObjectLockEnabled != s3types.ObjectLockEnabledEnabled {
		t.Fatalf("object lock configuration = %+v, %v", lc, err)
	}
	pid := srv.PID()
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	if srv.PID() == pid || srv.PID() == 0 {
		t.Fatalf("restart kept pid %d", pid)
	}
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("a/b.txt")})
	if err != nil {
		t.Fatalf("after restart: %v", err)
	}
	data, _ := io.ReadAll(out.Body)
	out.Body.Close()
	if string(data) != "hello" {
		t.Fatalf("after restart the object holds %q", data)
	}
	if err := srv.Stop(); err != nil || srv.PID() != 0 {
		t.Fatalf("Stop: %v, pid %d", err, srv.PID())
	}
	if _, err := c.ListBuckets(ctx, &s3.ListBucketsInput{}); err == nil {
		t.Fatal("the stopped server still answers")
	}
}

func TestToolsDir(t *testing.T) {
	t.Setenv("EXPORTD_TOOLS_DIR", "/opt/tools")
	if d, err := ToolsDir(); err != nil || d != "/opt/tools" {
		t.Fatalf("ToolsDir = %q, %v", d, err)
	}
	t.Setenv("EXPORTD_TOOLS_DIR", "")
	t.Setenv("HOME", "/home/ci")
	if d, err := ToolsDir(); err != nil || d != "/home/ci/.cache/exportd-tools" {
		t.Fatalf("ToolsDir = %q, %v", d, err)
	}
}

// TestInstallFailsLoudly: without the binary and without a Go toolchain to
// install it, the harness returns an error (tests then fail, never skip).
func TestInstallFailsLoudly(t *testing.T) {
	t.Setenv("EXPORTD_TOOLS_DIR", t.TempDir())
	t.Setenv("PATH", t.TempDir())
	bin, err := InstallVersityGW()
	if err == nil || !strings.Contains(err.Error(), "install versitygw") {
		t.Fatalf("InstallVersityGW = %q, %v; want an install error", bin, err)
	}
	if _, err := StartVersityGW(t.TempDir()); err == nil {
		t.Fatal("StartVersityGW succeeded without a binary")
	}
}
