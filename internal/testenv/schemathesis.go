package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// SchemathesisVersion is the schemathesis release (PyPI) that fuzzes the
// HTTP API against docs/openapi.yaml.
const SchemathesisVersion = "4.32.5"

// InstallSchemathesis returns the path of schemathesis's `st` command,
// installing it first, if it is missing, into a Python virtual environment
// in the tools folder (python3 -m venv, then pip install of the pinned
// version). Concurrent test binaries wait for one install.
func InstallSchemathesis() (string, error) {
	tools, err := ToolsDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(tools, "schemathesis-"+SchemathesisVersion)
	bin := filepath.Join(dir, "bin", "st")
	if fi, err := os.Stat(bin); err == nil && fi.Mode()&0o111 != 0 {
		return bin, nil
	}
	if err := os.MkdirAll(tools, 0o755); err != nil {
		return "", fmt.Errorf("install schemathesis: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(tools, "schemathesis-"+SchemathesisVersion+".lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return "", fmt.Errorf("install schemathesis: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("install schemathesis: lock: %w", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) //nolint:errcheck
	if _, err := os.Stat(bin); err == nil {
		return bin, nil // another process installed it while we waited
	}
	// A half-made environment from an interrupted install is made anew.
	if err := os.RemoveAll(dir); err != nil {
		return "", fmt.Errorf("install schemathesis: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	for _, args := range [][]string{
		{"python3", "-m", "venv", dir},
		{filepath.Join(dir, "bin", "pip"), "install", "--quiet", "--disable-pip-version-check", "schemathesis==" + SchemathesisVersion},
	} {
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Dir = os.TempDir()
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("install schemathesis %s into %s (the API contract test needs it; it needs python3 with venv and PyPI): %s: %w\n%s",
				SchemathesisVersion, dir, args[0], err, out)
		}
	}
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("install schemathesis: pip install succeeded but %s is missing: %w", bin, err)
	}
	return bin, nil
}
