package snowflake

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/exportd/exportd/internal/testenv"
)

// emu is the fakesnow server the tests of this package share.
var emu *testenv.Fakesnow

func TestMain(m *testing.M) {
	if v := os.Getenv("EXPORTD_BENCH_ARROW_ROWS"); v != "" {
		benchChild(v) // a benchmark's child process: no emulator
	}
	dir, err := os.MkdirTemp("", "exportd-fakesnow-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	emu, err = testenv.NewFakesnow(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "the Snowflake tests need the fakesnow emulator:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	_ = emu.Stop()
	os.RemoveAll(dir)
	os.Exit(code)
}

// testPassword is the password the tests log in with; every output is
// checked not to contain it.
const testPassword = "sf-test-pw-Vb8q2Lx9"

// newDB returns a fresh database name for t.
func newDB(t testing.TB) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "T_" + strings.ToUpper(hex.EncodeToString(b[:]))
}

// openTest opens a Source on the emulator (or on host:port, e.g. a proxy)
// with a database of its own, created and set up by setup statements.
func openTest(t testing.TB, host string, port int, setup ...string) (*Source, string) {
	t.Helper()
	db := newDB(t)
	admin, err := Open(context.Background(), Options{Name: "admin", Account: "acct", User: "admin", Database: db,
		Password: testPassword, Protocol: "http", Host: emu.Host, Port: emu.Port})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	stmts := append([]string{"CREATE DATABASE IF NOT EXISTS " + db, "CREATE SCHEMA IF NOT EXISTS " + db + ".PUBLIC"}, setup...)
	for _, st := range stmts {
		if _, err := admin.db.ExecContext(context.Background(), st); err != nil {
			t.Fatalf("%s: %v\n%s", st, err, emu.LogTail())
		}
	}
	s, err := Open(context.Background(), Options{Name: "wh", Account: "acct", User: "exportd", Database: db, Schema: "PUBLIC",
		Password: testPassword, Protocol: "http", Host: host, Port: port})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, db
}
