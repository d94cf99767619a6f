package snowflake

import (
	"database/sql"
	"errors"
	"strings"
	"testing"

	sf "github.com/snowflakedb/gosnowflake/v2"

	"github.com/exportd/exportd/internal/source"
	"github.com/exportd/exportd/internal/testenv"
)

func TestCheckStorageLocation(t *testing.T) {
	allowed := []string{"s3://acme-audit/audit/", "s3://other/x/"}
	blocked := []string{"s3://acme-audit/audit/legal-hold/"}
	for loc, ok := range map[string]bool{
		"s3://acme-audit/audit/logins/":       true,
		"s3://acme-audit/audit":               false, // it holds the blocked legal-hold/
		"s3://acme-audit/audit-evil/":         false, // a '/' boundary, not a string prefix
		"s3://acme-audit/":                    false,
		"s3://acme-audit/audit/legal-hold/a/": false,
		"s3://other/x/y/":                     true,
	} {
		err := CheckStorageLocation(loc, allowed, blocked)
		if (err == nil) != ok {
			t.Errorf("%s: %v, want allowed %v", loc, err, ok)
		}
	}
	if err := CheckStorageLocation("s3://any/where/", []string{"*"}, nil); err != nil {
		t.Errorf("*: %v", err)
	}
}

// TestUnloader: DESC INTEGRATION is read into locations; an unload runs
// on a session the hook sees set up, its DETAILED_OUTPUT and query ID come
// back, and Snowflake's errors keep their code, message and query ID.
func TestUnloader(t *testing.T) {
	f := testenv.StartFakesnow(t)
	p := testenv.StartSnowProxy(t, f)
	gw := testenv.VersityGW(t)
	bucket := gw.Bucket(t, false)
	open := func(host string, port int) *sql.DB {
		db := sql.OpenDB(sf.NewConnector(sf.SnowflakeDriver{}, sf.Config{Account: "acct", User: "u", Password: "p",
			Database: "DB1", Schema: "PUBLIC", Protocol: "http", Host: host, Port: port, Tracing: "off", DisableOCSPChecks: true}))
		t.Cleanup(func() { db.Close() })
		return db
	}
	direct := open(f.Host, f.Port)
	for _, q := range []string{"CREATE DATABASE IF NOT EXISTS DB1", "CREATE SCHEMA IF NOT EXISTS DB1.PUBLIC"} {
		if _, err := direct.ExecContext(t.Context(), q); err != nil {
			t.Fatal(err)
		}
	}
	hook := &testenv.SnowUnload{DB: direct, S3: gw.Client(),
		Integrations: map[string][]string{"AUDIT_S3": {"s3://" + bucket + "/audit", "s3://" + bucket + "/more/"}}}
	p.SetHook(hook.Hook)
	ul := NewUnloader("warehouse", open(p.Host, p.Port))

	allowed, blocked, err := ul.StorageAllowedLocations(t.Context(), "AUDIT_S3")
	if err != nil || len(allowed) != 2 || allowed[0] != "s3://"+bucket+"/audit/" || len(blocked) != 0 {
		t.Fatalf("allowed %v blocked %v: %v", allowed, blocked, err)
	}
	if _, _, err := ul.StorageAllowedLocations(t.Context(), "NOPE"); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("unknown integration: %v", err)
	}
	if _, _, err := ul.StorageAllowedLocations(t.Context(), "X; DROP TABLE T"); err == nil {
		t.Error("an integration name that is not an identifier was sent")
	}

	stmt := "COPY INTO 's3://" + bucket + "/audit/a.csv'\nFROM (\nSELECT 1 AS \"n\", 'x' AS \"s\"\n)\nSTORAGE_INTEGRATION = AUDIT_S3\n" +
		"FILE_FORMAT = (TYPE = CSV FIELD_DELIMITER = ',' RECORD_DELIMITER = '\\n' FIELD_OPTIONALLY_ENCLOSED_BY = NONE ESCAPE_UNENCLOSED_FIELD = NONE ESCAPE = NONE " +
		"NULL_IF = ('') EMPTY_FIELD_AS_NULL = FALSE DATE_FORMAT = 'YYYY-MM-DD' TIME_FORMAT = 'HH24:MI:SS' TIMESTAMP_FORMAT = 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"' " +
		"BINARY_FORMAT = HEX COMPRESSION = NONE)\nHEADER = TRUE SINGLE = TRUE MAX_FILE_SIZE = 5 OVERWRITE = FALSE DETAILED_OUTPUT = TRUE"
	res, err := ul.Unload(t.Context(), strings.Replace(stmt, "MAX_FILE_SIZE = 5 ", "MAX_FILE_SIZE = 1000 ", 1), "exportd:s:u")
	if err != nil || res.QueryID == "" || len(res.Files) != 1 || res.Files[0].Rows != 1 || res.Files[0].Name != "a.csv" || res.Files[0].Size != int64(len("n,s\n1,x\n")) {
		t.Fatalf("unload: %+v, %v", res, err)
	}
	_, err = ul.Unload(t.Context(), stmt, "exportd:s:u")
	var ue *Error
	if !errors.As(err, &ue) || ue.QueryID == "" || !IsFileTooLarge(err) {
		t.Fatalf("too large: %#v", err)
	}
	_, err = ul.Unload(t.Context(), strings.Replace(stmt, "SELECT 1", "SELEC 1", 1), "")
	if err == nil || !errors.Is(err, source.ErrQuery) || IsFileTooLarge(err) {
		t.Fatalf("bad statement: %v", err)
	}
	if _, err := ul.Unload(t.Context(), "SELECT 1", ""); err == nil {
		t.Error("a statement other than COPY INTO <location> was run")
	}
	if n := len(hook.Statements()); n != 3 {
		t.Errorf("the hook answered %d COPY statements, want 3", n)
	}
}
