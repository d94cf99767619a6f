package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// newcomerMarker, on the line before a fenced block of README.md, says that
// TestREADMENewcomer runs the block.
const newcomerMarker = "<!-- newcomer -->"

// notRun are the README's shell blocks the newcomer test does not run, each
// with the reason, keyed by the block's first line and the sha256 of its
// text (dedented): when such a block changes, or a new shell block
// appears unmarked, the test fails until it is marked or listed here again.
var notRun = []struct{ first, sum, why string }{
	{"openssl genrsa 2048 | openssl pkcs8 -topk8 -inform PEM -out exportd_key.p8 -nocrypt", "",
		"the key pair of a Snowflake account's user: needs a Snowflake account"},
	{"aws s3api create-bucket --bucket acme-audit-archive --object-lock-enabled-for-bucket", "",
		"needs AWS: creates the production bucket; deploy/'s TestBucketLifecycle checks the lifecycle file against the production config"},
	{"exportd archive verify s3://bucket/sigma/prod/ --public-key exportd-signing.pub.pem   # AWS credential chain", "",
		"needs AWS: an S3 archive and its signing key"},
	{`exportd archive query ./copy-of-the-archive --sql "SELECT date_trunc('month', \"Request Time\") AS month, count(*) AS failed`, "",
		"an auditor's copy of an archive (a placeholder path); internal/archive/archivesql tests the --sql query"},
	{"docker build --build-arg VERSION=1.0.0 --build-arg REVISION=$(git rev-parse HEAD) -t exportd:1.0.0 .", "",
		"needs Docker and AWS credentials; deploy/'s tests check the Dockerfile"},
	{"kubectl create namespace exportd", "",
		"needs a Kubernetes cluster and AWS; deploy/'s tests check the manifests"},
	{"install -m 0755 bin/exportd /usr/local/bin/exportd", "",
		"installs into the host's system folders and starts a systemd service with AWS and Snowflake secrets; deploy/'s tests check the unit"},
}

// snowflakeDir is the folder the README's Snowflake walkthrough gives
// snowenv; the test gives it a folder of its own instead.
const snowflakeDir = "/tmp/exportd-snowflake"

// notRunLines are lines of marked blocks that the test leaves out, and why.
var notRunLines = map[string]string{
	"make test                           # every test (what CI runs; see below for what it needs)": "the test command itself, which runs this test",
}

// readmeBlock is a fenced block of README.md.
type readmeBlock struct {
	line   int    // of the opening fence
	lang   string // sh, yaml, ... or "" for a bare fence
	text   string // the lines inside, without the fence's indentation
	marked bool
}

func readmeBlocks(readme string) ([]readmeBlock, error) {
	var (
		blocks []readmeBlock
		cur    *readmeBlock
		indent int
		prev   string // the last non-blank line outside blocks
		body   []string
	)
	for i, l := range strings.Split(readme, "\n") {
		trimmed := strings.TrimSpace(l)
		if cur == nil {
			if strings.HasPrefix(trimmed, "```") {
				indent = len(l) - len(strings.TrimLeft(l, " "))
				cur = &readmeBlock{line: i + 1, lang: strings.TrimPrefix(trimmed, "```"), marked: prev == newcomerMarker}
				body = nil
			} else if trimmed != "" {
				prev = trimmed
			}
			continue
		}
		if trimmed == "```" {
			cur.text = strings.Join(body, "\n") + "\n"
			blocks = append(blocks, *cur)
			cur, prev = nil, ""
			continue
		}
		pad := min(indent, len(l)-len(strings.TrimLeft(l, " ")))
		body = append(body, l[pad:])
	}
	if cur != nil {
		return nil, fmt.Errorf("README.md:%d: block not closed", cur.line)
	}
	return blocks, nil
}

// commandWords start the first line of a bare fenced block that holds
// commands (others are diagrams, layouts and messages).
var commandWords = map[string]bool{"$": true, "exportd": true, "go": true, "docker": true, "kubectl": true,
	"install": true, "systemctl": true, "openssl": true, "curl": true, "make": true}

func isShell(b readmeBlock) bool {
	if b.lang == "sh" || b.lang == "console" || b.lang == "bash" {
		return true
	}
	f := strings.Fields(b.text)
	return b.lang == "" && len(f) > 0 && commandWords[f[0]]
}

func blockSum(text string) string {
	s := sha256.Sum256([]byte(text))
	return hex.EncodeToString(s[:6])
}

func firstLine(text string) string { return strings.SplitN(text, "\n", 2)[0] }

// preamble runs the README's commands as written: `go run ./cmd/exportd`
// and `exportd` are the binary built once; `serve` without --once goes to
// the background (as in its own shell), and the next command waits until
// it answers and its catch-up is over.
const preamble = `set -euo pipefail
exportd() {
  if [ "${1-}" = serve ] && [[ " $* " != *" --once "* ]]; then
    "$EXPORTD_BIN" "$@" >>"$SERVE_LOG" 2>&1 &
    echo $! >>"$SERVE_PIDS"
    for _ in $(seq 1200); do "$EXPORTD_BIN" healthcheck >/dev/null 2>&1 && break; sleep 0.1; done
    "$EXPORTD_BIN" healthcheck
    for _ in $(seq 1200); do "$EXPORTD_BIN" status --json | grep -q '"status": "running"' || return 0; sleep 0.1; done
    echo "serve: the catch-up did not end" >&2; return 1
  fi
  "$EXPORTD_BIN" "$@"
}
snowenv() {
  "$SNOWENV_BIN" "$@" >>"$SNOWENV_LOG" 2>&1 &
  local pid=$!
  echo $pid >>"$SERVE_PIDS"
  for _ in $(seq 6000); do
    grep -q '^ready' "$SNOWENV_LOG" && return 0
    kill -0 $pid 2>/dev/null || { echo "snowenv exited:" >&2; cat "$SNOWENV_LOG" >&2; return 1; }
    sleep 0.1
  done
  echo "snowenv: not ready after 10 minutes" >&2; cat "$SNOWENV_LOG" >&2; return 1
}
go() {
  if [ "${1-}" = run ] && [ "${2-}" = ./cmd/exportd ]; then shift 2; exportd "$@"
  elif [ "${1-}" = run ] && [ "${2-}" = ./internal/testenv/cmd/snowenv ]; then shift 2; snowenv "$@"
  else command go "$@"; fi
}
`

// TestREADMENewcomer follows README.md as a newcomer would, from a fresh
// copy of the repository: every command of the blocks marked
// <!-- newcomer -->, in order, with exportd built once. A block of "$ "
// lines is a transcript: each command's output must be the lines after
// it. Every other shell block of the README is in notRun with the reason
// it is not run (Snowflake accounts, AWS, Docker, ...). The daemon a block
// starts in the background is stopped by the test.
func TestREADMENewcomer(t *testing.T) {
	src, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(src, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := readmeBlocks(string(readme))
	if err != nil {
		t.Fatal(err)
	}

	// Every shell block is run or excused; every excuse still matches.
	var run []readmeBlock
	used := map[int]bool{}
	for _, b := range blocks {
		if b.marked {
			run = append(run, b)
			continue
		}
		if !isShell(b) {
			continue
		}
		found := false
		for i, n := range notRun {
			if n.first == firstLine(b.text) {
				found, used[i] = true, true
				if n.sum != "" && n.sum != blockSum(b.text) {
					t.Errorf("README.md:%d: the block changed (sha256 %s, listed %s): run it (%s) or check the reason again: %s",
						b.line, blockSum(b.text), n.sum, newcomerMarker, n.why)
				}
			}
		}
		if !found {
			t.Errorf("README.md:%d: a shell block the newcomer test neither runs nor excuses: mark it %s or add it to notRun with the reason:\n%s",
				b.line, newcomerMarker, b.text)
		}
	}
	for i, n := range notRun {
		if !used[i] {
			t.Errorf("notRun lists a block that README.md no longer has: %q", n.first)
		}
	}
	for l := range notRunLines {
		if !strings.Contains(string(readme), l) {
			t.Errorf("notRunLines lists a line that README.md no longer has: %q", l)
		}
	}
	if len(run) < 4 {
		t.Fatalf("README.md has %d blocks marked %s", len(run), newcomerMarker)
	}
	if t.Failed() {
		t.FailNow()
	}

	// A fresh copy of the repository, and exportd built once.
	tmp := t.TempDir()
	repo := filepath.Join(tmp, "repo")
	copyRepo(t, src, repo)
	bin := filepath.Join(tmp, "bin", "exportd")
	snowenvBin := filepath.Join(tmp, "bin", "snowenv")
	for _, b := range []struct{ out, pkg string }{{bin, "./cmd/exportd"}, {snowenvBin, "./internal/testenv/cmd/snowenv"}} {
		build := exec.Command("go", "build", "-o", b.out, b.pkg)
		build.Dir = src
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", b.pkg, err, out)
		}
	}

	// The daemon listens on a free port of 127.0.0.1 instead of 8080 (the
	// machine may use it); the commands that name it are told.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := filepath.Join(repo, "config", "exportd.yaml")
	data, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte("listen: 127.0.0.1:8080")) {
		t.Fatal("config/exportd.yaml: no listen: 127.0.0.1:8080")
	}
	if err := os.WriteFile(cfg, bytes.Replace(data, []byte("listen: 127.0.0.1:8080"), []byte("listen: "+addr), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	pids, serveLog := filepath.Join(tmp, "serve.pids"), filepath.Join(tmp, "serve.log")
	var env []string
	for _, kv := range os.Environ() {
		// The tools folder stays: the Snowflake walkthrough's servers are
		// installed there, as make test installs them.
		if (!strings.HasPrefix(kv, "EXPORTD_") || strings.HasPrefix(kv, "EXPORTD_TOOLS_DIR=")) && !strings.HasPrefix(kv, "TERM=") {
			env = append(env, kv)
		}
	}
	env = append(env, "EXPORTD_BIN="+bin, "SERVE_PIDS="+pids, "SERVE_LOG="+serveLog, "EXPORTD_SERVER=http://"+addr, "TERM=dumb",
		"SNOWENV_BIN="+snowenvBin, "SNOWENV_LOG="+filepath.Join(tmp, "snowenv.log"))
	t.Cleanup(func() { stopServers(t, pids, serveLog) })

	sh := func(b readmeBlock, script string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "bash", "-c", preamble+"PS4='+ README.md: '\nset -x\n"+script)
		cmd.Dir, cmd.Env = repo, env
		cmd.WaitDelay = 10 * time.Second
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			log, _ := os.ReadFile(serveLog)
			t.Fatalf("README.md:%d: a command failed (%v):\n%s\nstdout:\n%s\nserve's log:\n%s", b.line, err, stderr.String(), stdout.String(), log)
		}
		return stdout.String()
	}
	for _, b := range run {
		text := strings.ReplaceAll(b.text, "127.0.0.1:8080", addr)
		// The Snowflake walkthrough's folder is the test's own.
		text = strings.ReplaceAll(text, snowflakeDir, filepath.Join(tmp, "exportd-snowflake"))
		if !strings.HasPrefix(text, "$ ") {
			var lines []string
			for _, l := range strings.Split(text, "\n") {
				if _, skip := notRunLines[l]; !skip {
					lines = append(lines, l)
				}
			}
			sh(b, strings.Join(lines, "\n"))
			continue
		}
		// A transcript: "$ command" then its output.
		var cmdLine string
		var want []string
		check := func() {
			if cmdLine == "" {
				return
			}
			got := strings.TrimRight(sh(b, cmdLine), "\n")
			var gotLines []string
			for _, l := range strings.Split(got, "\n") {
				gotLines = append(gotLines, strings.TrimRight(l, " "))
			}
			if w := strings.Join(want, "\n"); strings.Join(gotLines, "\n") != w {
				t.Errorf("README.md:%d: %s printed\n%s\nbut the README shows\n%s", b.line, cmdLine, got, w)
			}
		}
		for _, l := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
			if c, ok := strings.CutPrefix(l, "$ "); ok {
				check()
				cmdLine, want = c, nil
				continue
			}
			want = append(want, strings.TrimRight(l, " "))
		}
		check()
	}
}

// copyRepo copies the files git tracks (the worktree's versions, as a
// fresh clone would have them after checkout of this tree).
func copyRepo(t *testing.T, src, dst string) {
	t.Helper()
	out, err := exec.Command("git", "-C", src, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	for _, f := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		from := filepath.Join(src, f)
		fi, err := os.Lstat(from)
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted in the worktree
		}
		if err != nil {
			t.Fatal(err)
		}
		if !fi.Mode().IsRegular() {
			continue
		}
		data, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		to := filepath.Join(dst, f)
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, data, fi.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
}

// running says whether pid is a live process (not gone, not a zombie
// that nobody reaped yet).
func running(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) state ...: comm may hold spaces and parentheses.
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z'
	}
	return true
}

// stopServers stops the daemons the README's blocks started (SIGTERM, as
// Ctrl-C in their shell would) and waits for them to exit.
func stopServers(t *testing.T, pidFile, logFile string) {
	data, err := os.ReadFile(pidFile)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		t.Error(err)
		return
	}
	for _, f := range strings.Fields(string(data)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			t.Errorf("%s: %q", pidFile, f)
			continue
		}
		if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
			continue // already gone
		}
		deadline := time.Now().Add(90 * time.Second)
		for running(pid) {
			if time.Now().After(deadline) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
				log, _ := os.ReadFile(logFile)
				t.Errorf("serve (pid %d) did not stop on SIGTERM:\n%s", pid, log)
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}
