package workbook

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// TestUnloadStatement compares the COPY INTO <location> of the QuickStart
// (Los Angeles window) with testdata/golden/unload_quickstart.snowflake.sql:
// window bounds written in as literals, every column rendered to its CSV
// field text, the element's order repeated outside the subquery.
func TestUnloadStatement(t *testing.T) {
	raw, err := os.ReadFile("testdata/golden/quickstart_la_window.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var gc goldenCase
	if err := yaml.Unmarshal(raw, &gc); err != nil {
		t.Fatal(err)
	}
	c, err := Compile(&gc.Element, auditSchema(), Options{Dialect: Snowflake, Timezone: mustLoad(t, gc.Timezone),
		Window: &WindowHook{Column: gc.Window}})
	if err != nil {
		t.Fatal(err)
	}
	end := time.Date(2027, 3, 14, 7, 0, 0, 0, time.UTC)
	args, err := c.Bind(Values{Now: end, WindowStart: end.Add(-24 * time.Hour), WindowEnd: end})
	if err != nil {
		t.Fatal(err)
	}
	u := Unload{Location: "s3://audit-bucket/exportd/_claims/la/2027-03-13.unload/a1/data.csv", Integration: "AUDIT_S3",
		MaxFileSize: MaxSingleFileSize}
	got, err := c.UnloadStatement(u, args)
	if err != nil {
		t.Fatal(err)
	}
	path := "testdata/golden/unload_quickstart.snowflake.sql"
	if *update {
		if err := os.WriteFile(path, []byte(got+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if got+"\n" != string(want) {
		t.Errorf("statement differs from %s (run with -update to accept):\n%s", path, got)
	}
	if strings.Contains(got, "?") {
		t.Errorf("a placeholder is left in:\n%s", got)
	}

	u.Gzip, u.Parts, u.MaxFileSize = true, true, 1<<20
	got, err = c.UnloadStatement(u, args)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, "COMPRESSION = GZIP)") || !strings.Contains(got, "SINGLE = FALSE MAX_FILE_SIZE = 1048576 ") {
		t.Errorf("gzip parts statement:\n%s", got)
	}
}

// TestUnloadStatementRefuses: values, locations and names that could
// change the statement are refused, never written in.
func TestUnloadStatementRefuses(t *testing.T) {
	c := &Compiled{Dialect: Snowflake, SQL: "SELECT 1 AS \"n\" FROM t WHERE a >= TO_DATE(?, 'YYYY-MM-DD') AND b = '?'",
		Params: []Param{{"window_start", "date"}}, Columns: []OutputColumn{{Name: "n", Type: Integer}}}
	ok := Unload{Location: "s3://bucket/a/b.csv", Integration: "AUDIT_S3", MaxFileSize: 1 << 20}
	if s, err := c.UnloadStatement(ok, []any{"2027-03-14"}); err != nil || !strings.Contains(s, "TO_DATE('2027-03-14', 'YYYY-MM-DD') AND b = '?'") {
		t.Fatalf("baseline: %v\n%s", err, s)
	}
	for name, tc := range map[string]struct {
		u    Unload
		args []any
	}{
		"quote in value":         {ok, []any{"2027-03-14' OR 1=1 --"}},
		"non-string value":       {ok, []any{42}},
		"too few values":         {ok, nil},
		"too many values":        {ok, []any{"2027-03-14", "2027-03-15"}},
		"quote in location":      {Unload{Location: "s3://bucket/a'b", Integration: "AUDIT_S3", MaxFileSize: 1}, []any{"2027-03-14"}},
		"not s3":                 {Unload{Location: "gcs://bucket/a", Integration: "AUDIT_S3", MaxFileSize: 1}, []any{"2027-03-14"}},
		"dot segment":            {Unload{Location: "s3://bucket/a/../b", Integration: "AUDIT_S3", MaxFileSize: 1}, []any{"2027-03-14"}},
		"integration with space": {Unload{Location: "s3://bucket/a", Integration: "AUDIT S3", MaxFileSize: 1}, []any{"2027-03-14"}},
		"file too large":         {Unload{Location: "s3://bucket/a", Integration: "AUDIT_S3", MaxFileSize: MaxSingleFileSize + 1}, []any{"2027-03-14"}},
	} {
		if s, err := c.UnloadStatement(tc.u, tc.args); !errors.Is(err, ErrUnload) {
			t.Errorf("%s: got %v\n%s", name, err, s)
		}
	}
	bad := *c
	bad.Columns = []OutputColumn{{Name: "a,b", Type: Integer}}
	if _, err := bad.UnloadStatement(ok, []any{"2027-03-14"}); !errors.Is(err, ErrUnload) {
		t.Errorf("column name needing quotes: %v", err)
	}
}
