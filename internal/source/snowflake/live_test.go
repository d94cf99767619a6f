package snowflake

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/exportd/exportd/internal/source"
	"github.com/exportd/exportd/internal/workbook"
)

// liveOptions reads a real Snowflake account from SNOWFLAKE_TEST_*:
// ACCOUNT, USER, DATABASE, SCHEMA, WAREHOUSE, ROLE, one credential
// (PRIVATE_KEY_FILE with optional PRIVATE_KEY_PASSPHRASE, PASSWORD, or
// TOKEN for a programmatic access token) and TABLE (default AUDIT_LOGS, with
// Sigma's audit-log columns). Without SNOWFLAKE_TEST_ACCOUNT the live suite
// skips: it is the only suite allowed to.
func liveOptions(t *testing.T) Options {
	t.Helper()
	acct := os.Getenv("SNOWFLAKE_TEST_ACCOUNT")
	if acct == "" {
		t.Skip("SNOWFLAKE_TEST_ACCOUNT is not set: no live Snowflake account (see README, Tests)")
	}
	o := Options{Name: "live", Account: acct, User: os.Getenv("SNOWFLAKE_TEST_USER"),
		Database: os.Getenv("SNOWFLAKE_TEST_DATABASE"), Schema: os.Getenv("SNOWFLAKE_TEST_SCHEMA"),
		Warehouse: os.Getenv("SNOWFLAKE_TEST_WAREHOUSE"), Role: os.Getenv("SNOWFLAKE_TEST_ROLE")}
	switch {
	case os.Getenv("SNOWFLAKE_TEST_PRIVATE_KEY_FILE") != "":
		key, err := os.ReadFile(os.Getenv("SNOWFLAKE_TEST_PRIVATE_KEY_FILE"))
		if err != nil {
			t.Fatal(err)
		}
		o.Authenticator, o.PrivateKey, o.PrivateKeyPassphrase = AuthKeyPair, string(key), os.Getenv("SNOWFLAKE_TEST_PRIVATE_KEY_PASSPHRASE")
	case os.Getenv("SNOWFLAKE_TEST_TOKEN") != "":
		o.Authenticator, o.Token = AuthPAT, os.Getenv("SNOWFLAKE_TEST_TOKEN")
	default:
		o.Authenticator, o.Password = AuthPassword, os.Getenv("SNOWFLAKE_TEST_PASSWORD")
	}
	return o
}

// TestSnowflakeLiveQuickStart runs the QuickStart element on a real account:
// columns from INFORMATION_SCHEMA, the compiled Snowflake SQL, the CSV, the
// query ID, and every type of the golden rows rendered by Snowflake itself.
func TestSnowflakeLiveQuickStart(t *testing.T) {
	o := liveOptions(t)
	s, err := Open(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	table := os.Getenv("SNOWFLAKE_TEST_TABLE")
	if table == "" {
		table = "AUDIT_LOGS"
	}
	cols, err := s.Columns(t.Context(), table)
	if err != nil {
		t.Fatal(err)
	}
	schema := workbook.Schema{Table: table}
	for _, c := range cols {
		schema.Columns = append(schema.Columns, workbook.Column{Name: c.Name, Type: workbook.TypeFromSQL(workbook.Snowflake, c.Type)})
	}
	el := &workbook.Element{
		From:    workbook.From{Table: table},
		GroupBy: []workbook.Grouping{{Formula: "[Request Time]", Truncate: "day"}},
		Columns: []workbook.CalcColumn{
			{Name: "Success", Formula: `CountIf([Event Type] = "LOGIN", [Event Status] = "SUCCESS")`},
			{Name: "Failure", Formula: `CountIf([Event Type] = "LOGIN", [Event Status] = "FAILURE")`},
		},
		OrderBy: []workbook.Order{{Column: "Day of Request Time"}},
	}
	c, err := workbook.Compile(el, schema, workbook.Options{Dialect: workbook.Snowflake})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	ctx := source.WithQueryTag(t.Context(), "exportd:live-test:quickstart")
	res, err := s.ExportCSV(ctx, source.Query{SQL: c.SQL}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "Day of Request Time,Success,Failure\n") || res.QueryID == "" {
		t.Errorf("QuickStart: %q, query ID %q", out.String(), res.QueryID)
	}
	t.Logf("QuickStart: %d days, query ID %s", res.Rows, res.QueryID)

	// The golden types, rendered from Snowflake's own Arrow.
	var typed bytes.Buffer
	_, err = s.ExportCSV(ctx, source.Query{SQL: `SELECT 99999999999999999999999999999999999999::NUMBER(38,0) AS N,
		9999999999.99::NUMBER(12,2) AS D, 0.1::FLOAT AS F, '2026-01-01 09:30:00.123'::TIMESTAMP_NTZ AS NTZ,
		'2026-01-01 09:30:00 +09:00'::TIMESTAMP_TZ AS TZ, PARSE_JSON('{"a":[1,2]}') AS V, TO_BINARY('0001', 'HEX') AS B`}, &typed)
	if err != nil {
		t.Fatal(err)
	}
	want := "N,D,F,NTZ,TZ,V,B\n99999999999999999999999999999999999999,9999999999.99,0.1,2026-01-01T09:30:00Z,2026-01-01T00:30:00Z,\"{\"\"a\"\":[1,2]}\",\\x00\\x01\n"
	if typed.String() != want {
		t.Errorf("types on Snowflake:\n%s\nwant\n%s", typed.String(), want)
	}
}
