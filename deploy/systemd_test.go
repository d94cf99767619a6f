package deploy_test

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

const unitFile = "systemd/exportd.service"

// unit is a parsed systemd unit: section -> key -> values (in order).
type unit map[string]map[string][]string

func parseUnit(t testing.TB) unit {
	t.Helper()
	data, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	u := unit{}
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[':
			section = strings.Trim(line, "[]")
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("%s: %q is not key=value", unitFile, line)
			}
			u[section][k] = append(u[section][k], v)
		}
	}
	return u
}

func (u unit) get(section, key string) string {
	v := u[section][key]
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

// unitRoot lays out a file system root for systemd-analyze --root: the
// unit, the binaries it runs, and the distribution's targets it refers to.
func unitRoot(t *testing.T, unitData []byte) string {
	t.Helper()
	root := t.TempDir()
	for _, dir := range []string{"etc/systemd/system", "usr/local/bin", "bin", "usr/lib/systemd/system"} {
		if err := os.MkdirAll(filepath.Join(root, dir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "etc/systemd/system/exportd.service"), unitData, 0o644); err != nil {
		t.Fatal(err)
	}
	copyExec(t, exportdBin, filepath.Join(root, "usr/local/bin/exportd"))
	// ExecReload's /bin/kill: verify checks only that it is executable.
	kill, err := exec.LookPath("kill")
	if err != nil {
		kill = exportdBin
	}
	copyExec(t, kill, filepath.Join(root, "bin/kill"))
	for _, dir := range []string{"/usr/lib/systemd/system", "/lib/systemd/system"} {
		for _, pat := range []string{"*.target", "*.slice"} {
			files, _ := filepath.Glob(filepath.Join(dir, pat))
			for _, f := range files {
				data, err := os.ReadFile(f)
				if err == nil {
					_ = os.WriteFile(filepath.Join(root, "usr/lib/systemd/system", filepath.Base(f)), data, 0o644)
				}
			}
		}
	}
	return root
}

func copyExec(t testing.TB, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o755); err != nil {
		t.Fatal(err)
	}
}

func systemdAnalyze(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatal("systemd-analyze is not installed (Debian: apt-get install systemd); .ci/run installs it")
	}
	return p
}

// verify runs systemd-analyze verify on the unit installed in a root; it
// prints a line for every problem (and exits 0 for many of them).
func verify(t *testing.T, unitData []byte) (string, error) {
	root := unitRoot(t, unitData)
	cmd := exec.Command(systemdAnalyze(t), "verify", "--root="+root, "--man=no", filepath.Join(root, "etc/systemd/system/exportd.service"))
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestSystemdUnitVerifies(t *testing.T) {
	data, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := verify(t, data); err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	// The check sees a mistake: a misspelt key and a bad value.
	bad := bytes.Replace(data, []byte("ProtectSystem=strict"), []byte("ProtectSystem=sideways\nProtectSystme=strict"), 1)
	if out, _ := verify(t, bad); !strings.Contains(out, "ProtectSystme") || !strings.Contains(out, "sideways") {
		t.Errorf("systemd-analyze verify did not report a broken copy of the unit:\n%s", out)
	}
}

var exposureRE = regexp.MustCompile(`Overall exposure level for exportd\.service: ([0-9]+\.[0-9]+)`)

// TestSystemdUnitExposure: systemd-analyze security rates the unit at most
// 2.0 ("OK"), and the README states the score.
func TestSystemdUnitExposure(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "exportd.service")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(systemdAnalyze(t), "security", "--offline=true", "--no-pager", p).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	m := exposureRE.FindSubmatch(out)
	if m == nil {
		t.Fatalf("no overall exposure level in:\n%s", out)
	}
	score, _ := strconv.ParseFloat(string(m[1]), 64)
	if score > 2.0 {
		t.Errorf("exposure %.1f > 2.0:\n%s", score, out)
	}
	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "exposure level " + string(m[1]); !strings.Contains(string(readme), want) {
		t.Errorf("README.md does not state %q", want)
	}
	if !strings.Contains(string(data), "rates it "+string(m[1])) {
		t.Errorf("%s's comment does not state the score %s", unitFile, m[1])
	}
	t.Logf("systemd-analyze security: exposure %s", m[1])
}

// TestSystemdUnitSettings checks what the unit must hold against the
// production config.
func TestSystemdUnitSettings(t *testing.T) {
	u := parseUnit(t)
	cfg := prodConfig(t)
	want := map[string]string{
		"DynamicUser":     "yes",
		"StateDirectory":  "exportd",
		"ProtectSystem":   "strict",
		"NoNewPrivileges": "yes",
		"PrivateTmp":      "yes",
		"ProtectHome":     "yes",
		"KillSignal":      "SIGTERM",
	}
	for k, v := range want {
		if got := u.get("Service", k); got != v {
			t.Errorf("[Service] %s=%q, want %q", k, got, v)
		}
	}
	if got := "/var/lib/" + u.get("Service", "StateDirectory"); got != cfg.StateDir {
		t.Errorf("StateDirectory is %s, the config's state_dir %s", got, cfg.StateDir)
	}
	if got := u.get("Service", "ExecReload"); got != "/bin/kill -HUP $MAINPID" {
		t.Errorf("ExecReload=%q: want SIGHUP (exportd reloads its config on it)", got)
	}
	exec := strings.Fields(u.get("Service", "ExecStart"))
	if len(exec) != 4 || filepath.Base(exec[0]) != "exportd" || exec[1] != "serve" || exec[2] != "--config" || exec[3] != "/etc/exportd/config/exportd.yaml" {
		t.Errorf("ExecStart=%q, want exportd serve --config /etc/exportd/config/exportd.yaml", exec)
	}
	stop, err := time.ParseDuration(u.get("Service", "TimeoutStopSec") + "s")
	if err != nil || stop <= time.Duration(cfg.Server.ShutdownTimeout) {
		t.Errorf("TimeoutStopSec=%s: want longer than server.shutdown_timeout %v", u.get("Service", "TimeoutStopSec"), time.Duration(cfg.Server.ShutdownTimeout))
	}
	if u.get("Service", "User") != "" {
		t.Error("User= with DynamicUser=yes: let systemd allocate the user")
	}
}
