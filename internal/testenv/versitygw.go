// Package testenv starts the real servers that tests run against. Today
// that is versitygw, an S3 server on a local folder: the archive's S3 store
// is tested against it, never against a fake. A test that cannot get its
// server fails; it never skips.
package testenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// VersityGWVersion is the versitygw release the tests run against.
const VersityGWVersion = "v1.8.0"

// Region is the region the test server and its clients use.
const Region = "us-east-1"

// Server is a running versitygw on 127.0.0.1.
type Server struct {
	// Endpoint is the server's URL, e.g. http://127.0.0.1:41234.
	Endpoint  string
	AccessKey string
	SecretKey string
	// Dir holds the server's data (buckets), versions and log.
	Dir string

	bin  string
	addr string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
	log  *os.File
}

// ToolsDir is where test tools are installed: $EXPORTD_TOOLS_DIR, or
// $HOME/.cache/exportd-tools.
func ToolsDir() (string, error) {
	if d := os.Getenv("EXPORTD_TOOLS_DIR"); d != "" {
		return d, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("tools folder: set EXPORTD_TOOLS_DIR or HOME: %w", err)
	}
	return filepath.Join(home, ".cache", "exportd-tools"), nil
}

// InstallVersityGW returns the path of the versitygw binary, installing it
// into the tools folder with `go install` first if it is missing (about 80
// seconds). Concurrent test binaries wait for one install.
func InstallVersityGW() (string, error) {
	tools, err := ToolsDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(tools, "versitygw-"+VersityGWVersion)
	bin := filepath.Join(dir, "versitygw")
	if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("install versitygw: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(tools, "versitygw-"+VersityGWVersion+".lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return "", fmt.Errorf("install versitygw: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("install versitygw: lock: %w", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) //nolint:errcheck
	if _, err := os.Stat(bin); err == nil {
		return bin, nil // another process installed it while we waited
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "install", "github.com/versity/versitygw/cmd/versitygw@"+VersityGWVersion)
	// Outside any module, so that the install never touches our go.mod.
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOWORK=off", "GOFLAGS=-buildvcs=false")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("install versitygw %s into %s (go install failed; the tests need it): %w\n%s", VersityGWVersion, dir, err, out)
	}
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("install versitygw: go install succeeded but %s is missing: %w", bin, err)
	}
	return bin, nil
}

// VersityGW starts a versitygw for t (installing it if needed) and stops it
// when t ends. It fails t if the server cannot be installed or started.
func VersityGW(t testing.TB) *Server {
	t.Helper()
	s, err := StartVersityGW(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop() })
	return s
}

// StartVersityGW starts a versitygw keeping its data under dir. It is for
// TestMain, which shares one server among a test binary's tests; the caller
// stops it.
func StartVersityGW(dir string) (*Server, error) {
	bin, err := InstallVersityGW()
	if err != nil {
		return nil, err
	}
	for _, d := range []string{"data", "versions"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &Server{
		AccessKey: "exportd-test-access",
		SecretKey: "exportd-test-secret-0123456789",
		Dir:       dir,
		bin:       bin,
		addr:      "127.0.0.1:" + strconv.Itoa(port),
	}
	s.Endpoint = "http://" + s.addr
	if err := s.Start(); err != nil {
		return nil, err
	}
	return s, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Start starts the server process (again, after Kill or Stop) on the same
// address and folder, and waits until it answers.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return errors.New("versitygw: already running")
	}
	logf, err := os.OpenFile(filepath.Join(s.Dir, "versitygw.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(s.bin, "--port", s.addr, "--access", s.AccessKey, "--secret", s.SecretKey, "--quiet",
		"posix", "--versioning-dir", filepath.Join(s.Dir, "versions"), filepath.Join(s.Dir, "data"))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start versitygw %s: %w", s.bin, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	s.cmd, s.done, s.log = cmd, done, logf
	deadline := time.Now().Add(30 * time.Second)
	hc := &http.Client{Timeout: time.Second}
	for {
		select {
		case <-done:
			s.cmd = nil
			logf.Close()
			return fmt.Errorf("versitygw exited at start-up: %s", s.logTail())
		default:
		}
		// Any HTTP answer (an unsigned request gets 403) means it serves.
		if resp, err := hc.Get(s.Endpoint + "/"); err == nil {
			resp.Body.Close()
			hc.CloseIdleConnections()
			return nil
		}
		if time.Now().After(deadline) {
			s.killLocked()
			return fmt.Errorf("versitygw did not answer on %s within 30s: %s", s.addr, s.logTail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *Server) logTail() string {
	data, _ := os.ReadFile(filepath.Join(s.Dir, "versitygw.log"))
	if len(data) > 4000 {
		data = data[len(data)-4000:]
	}
	return string(bytes.TrimSpace(data))
}

// PID is the server's process id, or 0 when it is not running.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Kill kills the server process at once (SIGKILL), as a crash would.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.killLocked()
}

func (s *Server) killLocked() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.log.Close()
	s.cmd = nil
}

// Stop stops the server (SIGTERM, then SIGKILL after 5s).
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return nil
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.log.Close()
	s.cmd = nil
	return nil
}

// Restart kills the server and starts it again on the same address and
// folder.
func (s *Server) Restart() error {
	s.Kill()
	return s.Start()
}

// Credentials are the server's root credentials.
func (s *Server) Credentials() aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, "")
}

// Client is an S3 client with the server's root credentials, for setting
// up and inspecting buckets in tests.
func (s *Server) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:       Region,
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
		Credentials:  s.Credentials(),
		HTTPClient:   &http.Client{Transport: &http.Transport{DisableKeepAlives: true}},
	})
}

// CreateBucket creates a bucket, with Object Lock enabled (which also
// enables versioning) when objectLock is set.
func (s *Server) CreateBucket(ctx context.Context, name string, objectLock bool) error {
	in := &s3.CreateBucketInput{Bucket: aws.String(name)}
	if objectLock {
		in.ObjectLockEnabledForBucket = aws.Bool(true)
	}
	if _, err := s.Client().CreateBucket(ctx, in); err != nil {
		return fmt.Errorf("create bucket %s: %w", name, err)
	}
	return nil
}

// EnableVersioning turns versioning on for a bucket.
func (s *Server) EnableVersioning(ctx context.Context, name string) error {
	_, err := s.Client().PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String(name),
		VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}})
	if err != nil {
		return fmt.Errorf("enable versioning on %s: %w", name, err)
	}
	return nil
}

// Bucket creates a bucket with a fresh name for t and returns the name.
func (s *Server) Bucket(t testing.TB, objectLock bool) string {
	t.Helper()
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	name := "t-" + hex.EncodeToString(rnd[:])
	if err := s.CreateBucket(t.Context(), name, objectLock); err != nil {
		t.Fatal(err)
	}
	return name
}
