package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// FakesnowVersion is the fakesnow release (a Snowflake emulator that runs
// Snowflake SQL on DuckDB and speaks Snowflake's HTTP protocol) the tests
// run against.
const FakesnowVersion = "0.12.1"

// fakesnowRequirements pins fakesnow and everything it pulls in, so that
// every machine runs the same emulator. snowflake-connector-python is held
// below 5: fakesnow 0.12.1 imports snowflake.connector.converter, which 5.x
// removed.
var fakesnowRequirements = []string{
	"fakesnow[server]==" + FakesnowVersion,
	"snowflake-connector-python==4.8.1",
	"duckdb==2.0.1",
	"sqlglot==30.22.0",
	"pyarrow==26.0.1",
	"starlette==1.10.0",
	"uvicorn==0.55.0",
	"cryptography==50.0.2",
	"pyOpenSSL==26.4.0",
	"pytz==2026.6",
}

// Fakesnow is a running fakesnow server on 127.0.0.1.
type Fakesnow struct {
	// Host and Port are where gosnowflake connects (protocol http).
	Host string
	Port int
	// Dir holds the server's log.
	Dir string

	bin string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	log  *os.File
}

// URL is the server's base URL, e.g. http://127.0.0.1:41234.
func (f *Fakesnow) URL() string { return "http://" + f.Host + ":" + strconv.Itoa(f.Port) }

// InstallFakesnow returns the path of the fakesnow command, installing it
// with pip into a virtual environment in the tools folder first if it is
// missing (about a minute; it needs python3 with venv and pip and access to
// the package index). Concurrent test binaries wait for one install.
func InstallFakesnow() (string, error) {
	tools, err := ToolsDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(tools, "fakesnow-"+FakesnowVersion)
	bin := filepath.Join(dir, "bin", "fakesnow")
	stamp := filepath.Join(dir, ".installed")
	if _, err := os.Stat(stamp); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(tools, 0o755); err != nil {
		return "", fmt.Errorf("install fakesnow: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(tools, "fakesnow-"+FakesnowVersion+".lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return "", fmt.Errorf("install fakesnow: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("install fakesnow: lock: %w", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) //nolint:errcheck
	if _, err := os.Stat(stamp); err == nil {
		return bin, nil // another process installed it while we waited
	}
	// A half-done install (no stamp) is started over.
	if err := os.RemoveAll(dir); err != nil {
		return "", fmt.Errorf("install fakesnow: %w", err)
	}
	python, err := exec.LookPath("python3")
	if err != nil {
		return "", fmt.Errorf("install fakesnow %s: python3 is not on PATH; the Snowflake tests need python3 (>= 3.11) with venv and pip", FakesnowVersion)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	run := func(name string, args ...string) error {
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Dir = tools
		cmd.Env = append(os.Environ(), "PIP_DISABLE_PIP_VERSION_CHECK=1", "PYTHONDONTWRITEBYTECODE=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("install fakesnow %s into %s (%s failed; the Snowflake tests need it): %w\n%s",
				FakesnowVersion, dir, filepath.Base(name)+" "+strings.Join(args, " "), err, tail(out))
		}
		return nil
	}
	if err := run(python, "-m", "venv", dir); err != nil {
		return "", err
	}
	pip := filepath.Join(dir, "bin", "pip")
	if err := run(pip, append([]string{"install", "--quiet", "--no-input"}, fakesnowRequirements...)...); err != nil {
		return "", err
	}
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("install fakesnow: pip succeeded but %s is missing: %w", bin, err)
	}
	if err := os.WriteFile(stamp, []byte(strings.Join(fakesnowRequirements, "\n")+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("install fakesnow: %w", err)
	}
	return bin, nil
}

func tail(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// StartFakesnow starts a fakesnow server (installing it if needed) for t and
// stops it when t ends. It fails t if the server cannot be installed or
// started: the Snowflake tests never skip.
func StartFakesnow(t testing.TB) *Fakesnow {
	t.Helper()
	f, err := NewFakesnow(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Stop() })
	return f
}

// NewFakesnow starts a fakesnow server writing its log under dir. It is for
// TestMain, which shares one server among a test binary's tests; the caller
// stops it. Databases live in the server's memory and are shared by all its
// sessions, so tests that share a server use database names of their own.
func NewFakesnow(dir string) (*Fakesnow, error) {
	bin, err := InstallFakesnow()
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	f := &Fakesnow{Host: "127.0.0.1", Port: port, Dir: dir, bin: bin}
	if err := f.Start(); err != nil {
		return nil, err
	}
	return f, nil
}

// Start starts the server process (again, after Stop) on the same port.
func (f *Fakesnow) Start() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cmd != nil {
		return errors.New("fakesnow: already running")
	}
	logf, err := os.OpenFile(filepath.Join(f.Dir, "fakesnow.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(f.bin, "-s", "-p", strconv.Itoa(f.Port), "--host", f.Host)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1")
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start fakesnow %s: %w", f.bin, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	f.cmd, f.done, f.log = cmd, done, logf
	deadline := time.Now().Add(60 * time.Second)
	hc := &http.Client{Timeout: time.Second}
	defer hc.CloseIdleConnections()
	for {
		select {
		case <-done:
			f.cmd = nil
			logf.Close()
			return fmt.Errorf("fakesnow exited at start-up: %s", f.logTail())
		default:
		}
		// Any HTTP answer (GET / is a 404) means it serves.
		if resp, err := hc.Get(f.URL() + "/"); err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			_ = f.cmd.Process.Kill()
			<-done
			logf.Close()
			f.cmd = nil
			return fmt.Errorf("fakesnow did not answer on %s within 60s: %s", f.URL(), f.logTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (f *Fakesnow) logTail() string {
	data, _ := os.ReadFile(filepath.Join(f.Dir, "fakesnow.log"))
	return tail(data)
}

// LogTail is the end of the server's log, for test failure messages.
func (f *Fakesnow) LogTail() string { return f.logTail() }

// Stop stops the server (SIGTERM, then SIGKILL after 5s).
func (f *Fakesnow) Stop() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cmd == nil {
		return nil
	}
	_ = f.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-f.done:
	case <-time.After(5 * time.Second):
		_ = f.cmd.Process.Kill()
		<-f.done
	}
	f.log.Close()
	f.cmd = nil
	return nil
}

// Python is the python interpreter of the emulator's environment, which has
// the Snowflake connector (for loading test data as a user would).
func (f *Fakesnow) Python() string { return filepath.Join(filepath.Dir(f.bin), "python") }
