package cli_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/exportd/exportd/internal/cli"
)

// TestNoRowsCommandsDoNotBuildTheDemo: next, explain and validate export
// nothing, so once a command has opened the demo source (and cached its
// columns) they check elements against the cache and never open it again —
// its init files, which generate the whole AUDIT_LOGS table, do not run.
// The sign of an open is the source's spool folder, which Open creates.
// Their output is the same as with the source opened, and a change to the
// init files makes the next command open the source again.
func TestNoRowsCommandsDoNotBuildTheDemo(t *testing.T) {
	cfg := demoConfig(t)
	root := filepath.Dir(filepath.Dir(cfg))
	spool := filepath.Join(root, "state", "spool")
	opened := func() bool {
		_, err := os.Stat(filepath.Join(spool, "demo"))
		return err == nil
	}
	commands := [][]string{
		{"explain", "daily-login-activity"},
		{"explain", "audit-log-rows", "--dialect", "snowflake"},
		{"next", "audit-log-rows", "-n", "3", "--from", "2027-03-13T00:00:00Z"},
		{"validate"},
	}
	cmd := func(args []string) string {
		t.Helper()
		out, errOut, code := run(t, append([]string{"--config", cfg, "--now", demoEnd}, args...)...)
		if code != cli.ExitOK {
			t.Fatalf("%v: exit %d\n%s%s", args, code, out, errOut)
		}
		return out
	}

	// A fresh copy has no cache: the first command opens the source.
	want := map[int]string{}
	for i, args := range commands {
		want[i] = cmd(args)
		if i == 0 && !opened() {
			t.Fatalf("%v on a fresh copy (no cached columns) did not open the demo source", args)
		}
	}

	// From now on the cache answers.
	if err := os.RemoveAll(spool); err != nil {
		t.Fatal(err)
	}
	for i, args := range commands {
		if got := cmd(args); got != want[i] {
			t.Errorf("%v from the cached columns:\n%s\nwant (source opened):\n%s", args, got, want[i])
		}
		if opened() {
			t.Fatalf("%v opened the demo source (ran its init files) although its columns are cached", args)
		}
	}

	// validate --online reads the live columns.
	cmd([]string{"validate", "--online"})
	if !opened() {
		t.Error("validate --online did not open the demo source")
	}

	// An init file that changes invalidates the cached columns.
	if err := os.RemoveAll(spool); err != nil {
		t.Fatal(err)
	}
	initFile := filepath.Join(root, "config", "demo", "audit_logs.sql")
	data, err := os.ReadFile(initFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(initFile, append(data, []byte("\n-- edited\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := cmd([]string{"validate"}); got != want[3] {
		t.Errorf("validate after an init change: %s, want %s", got, want[3])
	}
	if !opened() {
		t.Error("validate after the init file changed used columns cached from the old file")
	}
}
