package testenv

import (
	"database/sql"
	"errors"
	"net/http"
	"strings"
	"testing"

	_ "github.com/exportd/exportd/internal/source/snowflake/nominicore"
	sf "github.com/snowflakedb/gosnowflake/v2"
)

// TestFakesnow: the real gosnowflake driver logs in to the emulator over
// http, runs a query with a bind parameter and reads its Arrow result, and the
// server stops at the end.
func TestFakesnow(t *testing.T) {
	f := StartFakesnow(t)
	cfg := &sf.Config{Account: "acct", User: "u", Password: "p", Database: "SMOKE", Schema: "PUBLIC",
		Protocol: "http", Host: f.Host, Port: f.Port, Tracing: "off", DisableOCSPChecks: true}
	db := sql.OpenDB(sf.NewConnector(sf.SnowflakeDriver{}, *cfg))
	defer db.Close()
	ctx := t.Context()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS SMOKE"); err != nil {
		t.Fatalf("create database: %v\n%s", err, f.LogTail())
	}
	var n int64
	var s string
	if err := db.QueryRowContext(ctx, "SELECT 40 + ?, 'x' || ?", 2, "y").Scan(&n, &s); err != nil {
		t.Fatalf("query: %v\n%s", err, f.LogTail())
	}
	if n != 42 || s != "xy" {
		t.Fatalf("got %d %q, want 42 \"xy\"", n, s)
	}
	if err := f.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := db.PingContext(ctx); err == nil {
		// A pooled connection may still answer from cache; a new query must not.
		if _, err := db.ExecContext(ctx, "SELECT 1"); err == nil {
			t.Fatal("the emulator still answers after Stop")
		}
	}
}

// TestSnowProxy: requests pass through to the emulator until the hook
// answers one, and the driver sees the hook's Snowflake error.
func TestSnowProxy(t *testing.T) {
	f := StartFakesnow(t)
	p := StartSnowProxy(t, f)
	cfg := sf.Config{Account: "acct", User: "u", Password: "p", Protocol: "http", Host: p.Host, Port: p.Port,
		Tracing: "off", DisableOCSPChecks: true}
	db := sql.OpenDB(sf.NewConnector(sf.SnowflakeDriver{}, cfg))
	defer db.Close()
	var n int
	if err := db.QueryRowContext(t.Context(), "SELECT 7").Scan(&n); err != nil || n != 7 {
		t.Fatalf("through the proxy: %d, %v", n, err)
	}
	p.SetHook(func(w http.ResponseWriter, r *SnowRequest) bool {
		if r.SQL == "SELECT 8" {
			WriteSnowError(w, "002003", "SQL compilation error: hooked", "42S02", "01-hooked")
			return true
		}
		return false
	})
	err := db.QueryRowContext(t.Context(), "SELECT 8").Scan(&n)
	var se *sf.SnowflakeError
	if !errors.As(err, &se) || se.Number != 2003 || se.QueryID != "01-hooked" || !strings.Contains(se.Message, "hooked") {
		t.Fatalf("hooked query: %#v", err)
	}
	if err := db.QueryRowContext(t.Context(), "SELECT 9").Scan(&n); err != nil || n != 9 {
		t.Fatalf("after the hook: %d, %v", n, err)
	}
	paths := p.Requests()
	if len(paths) < 4 || paths[0] != "/session/v1/login-request" {
		t.Fatalf("requests seen: %v", paths)
	}
}
