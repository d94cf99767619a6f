package workbook

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.sql from the compiler")

// goldenCase is a test element with the settings that come from the
// schedule and the source.
type goldenCase struct {
	Schema   string   `yaml:"schema"` // audit or fx
	Timezone string   `yaml:"timezone"`
	Window   string   `yaml:"window"`
	DedupeBy []string `yaml:"dedupe_by"`
	Element  Element  `yaml:"element"`
}

// TestGolden compiles each testdata/golden/*.yaml for both dialects and
// compares with the .duckdb.sql and .snowflake.sql files. The DuckDB SQL is
// also executed (on empty tables, to check that it binds), and both are
// checked with DuckDB's parser to be one SELECT.
func TestGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/golden/*.yaml")
	if len(files) == 0 {
		t.Fatal("no golden cases")
	}
	db := openDB(t)
	mustExec(t, db, auditDDL)
	mustExec(t, db, fxDDL)
	for _, f := range files {
		base := strings.TrimSuffix(f, ".yaml")
		t.Run(filepath.Base(base), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			dec := yaml.NewDecoder(strings.NewReader(string(raw)))
			dec.KnownFields(true)
			var gc goldenCase
			if err := dec.Decode(&gc); err != nil {
				t.Fatal(err)
			}
			schema := auditSchema()
			if gc.Schema == "fx" {
				schema = fxSchema()
			}
			opts := Options{Parser: duckParser{db}, DedupeBy: gc.DedupeBy}
			if gc.Timezone != "" {
				opts.Timezone = mustLoad(t, gc.Timezone)
			}
			if gc.Window != "" {
				opts.Window = &WindowHook{Column: gc.Window}
			}
			for _, d := range []Dialect{DuckDB, Snowflake} {
				opts.Dialect = d
				c, err := Compile(&gc.Element, schema, opts)
				if err != nil {
					t.Fatalf("%s: %v", d, err)
				}
				var b strings.Builder
				var ps, cs []string
				for _, p := range c.Params {
					ps = append(ps, p.Name+" "+p.Type)
				}
				for _, col := range c.Columns {
					cs = append(cs, fmt.Sprintf("%q %s", col.Name, col.Type.Name()))
				}
				fmt.Fprintf(&b, "-- params: %s\n-- columns: %s\n%s\n", strings.Join(ps, ", "), strings.Join(cs, ", "), c.SQL)
				path := base + "." + string(d) + ".sql"
				if *update {
					if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run with -update)", err)
				}
				if b.String() != string(want) {
					t.Errorf("%s differs from %s (run with -update to accept):\n%s", d, path, b.String())
				}
				if err := (duckParser{db}).checkCompiled(c.SQL); err != nil {
					t.Errorf("%s: %v", d, err)
				}
				if d == DuckDB {
					now := time.Date(2027, 3, 14, 12, 0, 0, 0, time.UTC)
					args, err := c.Bind(Values{Now: now, WindowStart: now.Add(-24 * time.Hour), WindowEnd: now})
					if err != nil {
						t.Fatal(err)
					}
					query(t, db, c.SQL, args...)
				}
			}
		})
	}
}
