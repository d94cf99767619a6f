package export_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"database/sql"
	"encoding/hex"
	"encoding/pem"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	sf "github.com/snowflakedb/gosnowflake/v2"

	"github.com/exportd/exportd/internal/archive/s3store"
	"github.com/exportd/exportd/internal/domain"
	"github.com/exportd/exportd/internal/source/snowflake"
	"github.com/exportd/exportd/internal/workbook"
)

// liveEnv reads the SNOWFLAKE_TEST_* variables; the live suite skips
// without them (the only tests allowed to).
//
//	SNOWFLAKE_TEST_ACCOUNT, SNOWFLAKE_TEST_USER, SNOWFLAKE_TEST_ROLE,
//	SNOWFLAKE_TEST_WAREHOUSE, SNOWFLAKE_TEST_DATABASE, SNOWFLAKE_TEST_SCHEMA
//	SNOWFLAKE_TEST_PRIVATE_KEY_FILE (PKCS#8 PEM, unencrypted) or SNOWFLAKE_TEST_PASSWORD
//	SNOWFLAKE_TEST_STORAGE_INTEGRATION  e.g. AUDIT_S3
//	SNOWFLAKE_TEST_S3_URI               s3://bucket/prefix/ inside its STORAGE_ALLOWED_LOCATIONS
//	                                    (AWS credentials and AWS_REGION from the default chain)
func liveEnv(t *testing.T, names ...string) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, n := range append([]string{"ACCOUNT", "USER", "WAREHOUSE", "DATABASE", "SCHEMA"}, names...) {
		v := os.Getenv("SNOWFLAKE_TEST_" + n)
		if v == "" {
			t.Skipf("SNOWFLAKE_TEST_%s is not set: the live Snowflake suite runs only against a real account", n)
		}
		env[n] = v
	}
	env["ROLE"] = os.Getenv("SNOWFLAKE_TEST_ROLE")
	env["PRIVATE_KEY_FILE"] = os.Getenv("SNOWFLAKE_TEST_PRIVATE_KEY_FILE")
	env["PASSWORD"] = os.Getenv("SNOWFLAKE_TEST_PASSWORD")
	if env["PRIVATE_KEY_FILE"] == "" && env["PASSWORD"] == "" {
		t.Skip("set SNOWFLAKE_TEST_PRIVATE_KEY_FILE or SNOWFLAKE_TEST_PASSWORD")
	}
	return env
}

func liveDB(t *testing.T, env map[string]string) *sql.DB {
	t.Helper()
	cfg := sf.Config{Account: env["ACCOUNT"], User: env["USER"], Role: env["ROLE"], Warehouse: env["WAREHOUSE"],
		Database: env["DATABASE"], Schema: env["SCHEMA"], Tracing: "off", Application: "exportd-live-test"}
	if f := env["PRIVATE_KEY_FILE"]; f != "" {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		block, _ := pem.Decode(data)
		if block == nil {
			t.Fatal("SNOWFLAKE_TEST_PRIVATE_KEY_FILE is not PEM")
		}
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			t.Fatal("SNOWFLAKE_TEST_PRIVATE_KEY_FILE is not an unencrypted PKCS#8 key")
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			t.Fatal("SNOWFLAKE_TEST_PRIVATE_KEY_FILE is not an RSA key")
		}
		cfg.Authenticator, cfg.PrivateKey = sf.AuthTypeJwt, rk
	} else {
		cfg.Password = env["PASSWORD"]
	}
	db := sql.OpenDB(sf.NewConnector(sf.SnowflakeDriver{}, cfg))
	t.Cleanup(func() { db.Close() })
	return db
}

// TestSnowflakeLiveUnload unloads a window of typed rows through a real
// storage integration into a real bucket, end to end (staging, promote,
// read-back, count check, manifest), and compares the bytes with the
// README's rendering rules; it also checks the location against DESC
// INTEGRATION. Everything it writes is under a fresh prefix it removes.
func TestSnowflakeLiveUnload(t *testing.T) {
	env := liveEnv(t, "STORAGE_INTEGRATION", "S3_URI")
	ctx := t.Context()
	db := liveDB(t, env)
	ul := snowflake.NewUnloader("live", db)
	integration := env["STORAGE_INTEGRATION"]
	allowed, blocked, err := ul.StorageAllowedLocations(ctx, integration)
	if err != nil {
		t.Fatal(err)
	}
	if err := snowflake.CheckStorageLocation(env["S3_URI"], allowed, blocked); err != nil {
		t.Fatalf("SNOWFLAKE_TEST_S3_URI: %v", err)
	}
	bucket, prefix, _ := strings.Cut(strings.TrimPrefix(env["S3_URI"], "s3://"), "/")
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	prefix = strings.TrimSuffix(prefix, "/")
	if prefix != "" {
		prefix += "/"
	}
	prefix += "exportd-live-" + hex.EncodeToString(rnd[:])
	store, err := s3store.New(ctx, s3store.Options{Bucket: bucket, Prefix: prefix, Region: os.Getenv("AWS_REGION")})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if _, err := store.DeleteVersions(ctx, prefix+"/", false); err != nil {
			t.Errorf("clean up %s: %v", prefix, err)
		}
		store.Close()
	}()

	const rowsSQL = `SELECT * FROM (VALUES
  (1, 'a,b', '', NULL, TO_TIMESTAMP_NTZ('2027-03-13 01:02:03.5'), TRUE),
  (2, 'say "hi" #1', 'x', 'y', TO_TIMESTAMP_NTZ('2027-03-13 23:59:59'), FALSE),
  (3, NULL, 'two' || CHR(10) || 'lines', '', TO_TIMESTAMP_NTZ('2027-03-14 00:00:00'), NULL)
) AS v (ID, S, E, N, TS, B)`
	schema := workbook.Schema{Columns: []workbook.Column{{Name: "ID", Type: workbook.Integer}, {Name: "S", Type: workbook.Text},
		{Name: "E", Type: workbook.Text}, {Name: "N", Type: workbook.Text}, {Name: "TS", Type: workbook.Datetime}, {Name: "B", Type: workbook.Logical}}}
	el := workbook.Element{From: workbook.From{SQL: rowsSQL}, Columns: []workbook.CalcColumn{
		{Name: "Id", Formula: "[Id]"}, {Name: "S", Formula: "[S]"}, {Name: "E", Formula: "[E]"}, {Name: "N", Formula: "[N]"},
		{Name: "Ts", Formula: "[Ts]"}, {Name: "Day", Formula: "Date([Ts])"}, {Name: "B", Formula: "[B]"}},
		OrderBy: []workbook.Order{{Column: "Id"}}}
	c, err := workbook.Compile(&el, schema, workbook.Options{Dialect: workbook.Snowflake, Timezone: time.UTC,
		Window: &workbook.WindowHook{Column: "Ts"}})
	if err != nil {
		t.Fatal(err)
	}
	e := &unloadEnv{sfDB: db, sfComp: c}
	j := e.unloadJob(t, store, "live", false, workbook.MaxSingleFileSize)
	j.Unload.Integration = integration
	stmt := j.Unload.Statement
	j.Unload.Statement = func(u domain.Unit, loc string, parts bool) (string, error) {
		s, err := stmt(u, loc, parts)
		return strings.Replace(s, "STORAGE_INTEGRATION = AUDIT_S3", "STORAGE_INTEGRATION = "+integration, 1), err
	}
	j.Layout.Prefix, j.Retain = prefix, 0
	if _, err := j.Run(ctx, day13, 1); err != nil {
		t.Fatal(err)
	}
	m := readManifest(t, j, day13)
	rc, _, err := store.Get(ctx, m.Objects[0].Key)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	// The README's rules: quoted only where needed, "" apart from NULL,
	// UTC timestamps to the second, dates, true/false.
	want := "Id,S,E,N,Ts,Day,B\n" +
		"1,\"a,b\",\"\",,2027-03-13T01:02:03Z,2027-03-13,true\n" +
		"2,\"say \"\"hi\"\" #1\",x,y,2027-03-13T23:59:59Z,2027-03-13,false\n"
	if string(got) != want || m.Unload.QueryID == "" || m.Objects[0].Rows != 2 {
		t.Errorf("unloaded (query ID %q, %d rows):\n%s\nwant:\n%s", m.Unload.QueryID, m.Objects[0].Rows, got, want)
	}
}
