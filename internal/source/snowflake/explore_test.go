package snowflake

import (
	"bytes"
	"testing"

	"github.com/exportd/exportd/internal/source"
)

func TestExplore(t *testing.T) {
	s, _ := openTest(t, emu.Host, emu.Port,
		`CREATE TABLE T (N NUMBER(38,0), D NUMBER(12,2), BIG NUMBER(38,10), F FLOAT, S TEXT, B BOOLEAN, DT DATE, TM TIME, NTZ TIMESTAMP_NTZ, LTZ TIMESTAMP_LTZ, TZ TIMESTAMP_TZ, V VARIANT, O OBJECT, A ARRAY, BIN BINARY)`,
		`INSERT INTO T SELECT 1, 12.5, 12345678901234567890.0123456789, 0.1, 'a,b', true, '2026-01-02', '13:14:15.5', '2026-01-01 09:30:00.123', '2026-01-01T09:30:00+09:00'::TIMESTAMP_LTZ, '2026-01-01T09:30:00-05:00'::TIMESTAMP_TZ, PARSE_JSON('{"b":1,"a":[1,2]}'), OBJECT_CONSTRUCT('k', 'v'), ARRAY_CONSTRUCT(1,'x'), TO_BINARY('0001FF', 'HEX')`,
		`INSERT INTO T (N) VALUES (NULL)`)
	cols, err := s.Describe(t.Context(), source.Query{SQL: "SELECT * FROM T"})
	t.Logf("describe %v %v", cols, err)
	var b bytes.Buffer
	res, err := s.ExportCSV(t.Context(), source.Query{SQL: "SELECT * FROM T WHERE N >= ? OR N IS NULL", Args: []any{"0"}}, &b)
	t.Logf("%+v %v\n%s", res, err, b.String())
	cc, err := s.Columns(t.Context(), "T")
	t.Logf("columns %v %v", cc, err)
	n, err := s.Count(t.Context(), source.Query{SQL: "SELECT * FROM T"})
	t.Logf("count %d %v", n, err)
}
