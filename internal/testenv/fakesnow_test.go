package testenv

import (
	"database/sql"
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
