package render_test

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"io"
	"math"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/exportd/exportd/internal/render"
)

// field renders v alone in a column of type typ and returns the data line without its newline.
func field(t *testing.T, typ string, v any) (string, error) {
	t.Helper()
	var out bytes.Buffer
	w, err := render.NewWriter(&out, []render.Column{{Name: "c", Type: typ}}, render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	werr := w.Write([]any{v})
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	s := strings.TrimPrefix(out.String(), "c\n")

	// The typed cell calls must write the same bytes and give the same error.
	var typed bytes.Buffer
	w, err = render.NewWriter(&typed, []render.Column{{Name: "c", Type: typ}}, render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	terr := writeTyped(w, []any{v})
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if typed.String() != out.String() || (terr == nil) != (werr == nil) {
		t.Errorf("%s %T(%v): typed cells wrote %q (error %v), Write wrote %q (error %v)", typ, v, v, typed.String(), terr, out.String(), werr)
	}
	return strings.TrimSuffix(s, "\n"), werr
}

// writeTyped writes row through the typed cell calls, picking the call by each value's Go type.
func writeTyped(w *render.Writer, row []any) error {
	for _, v := range row {
		switch x := v.(type) {
		case nil:
			w.Null()
		case string:
			w.Text(x)
		case int64:
			w.Int(x)
		case float64:
			w.Float(x)
		case bool:
			w.Bool(x)
		case time.Time:
			w.Time(x)
		default:
			w.Value(x)
		}
	}
	return w.EndRow()
}

type stringer string

func (s stringer) String() string { return string(s) }

func TestKindOf(t *testing.T) {
	cases := []struct {
		want  render.Kind
		types []string
	}{
		{render.KindBoolean, []string{"BOOLEAN", "boolean"}},
		{render.KindInteger, []string{"TINYINT", "HUGEINT", "UBIGINT", "UHUGEINT", "BIGNUM", "INT"}},
		{render.KindDecimal, []string{"DECIMAL(38,10)", "decimal(18, 3)", "NUMBER(38,0)", "NUMBER", "FIXED", "NUMERIC(9,2)"}},
		{render.KindFloat, []string{"FLOAT", "DOUBLE", "REAL", "double precision"}},
		{render.KindVarchar, []string{"VARCHAR", "VARCHAR(16777216)", "TEXT", "STRING", "ENUM('a','b')"}},
		{render.KindDate, []string{"DATE"}},
		{render.KindTimestamp, []string{"TIMESTAMP", "TIMESTAMP_NTZ(9)", "DATETIME"}},
		{render.KindTimestampTZ, []string{"TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE", "timestamp(3) with time zone", "TIMESTAMP_TZ(9)", "TIMESTAMP_LTZ"}},
		{render.KindTimestampUnit, []string{"TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS"}},
		{render.KindTime, []string{"TIME", "TIME(9)"}},
		{render.KindTimeTZ, []string{"TIMETZ", "TIME WITH TIME ZONE"}},
		{render.KindInterval, []string{"INTERVAL"}},
		{render.KindUUID, []string{"UUID"}},
		{render.KindBlob, []string{"BLOB", "BINARY"}},
		{render.KindNested, []string{"INTEGER[]", "VARCHAR[3]", `STRUCT("k" VARCHAR)`, "MAP(VARCHAR, INTEGER)", "JSON", `STRUCT(a INTEGER)[]`}},
		{render.KindOther, []string{"VARIANT", "OBJECT", "ARRAY", "BIT", "GEOMETRY", ""}},
	}
	for _, c := range cases {
		for _, typ := range c.types {
			if got := render.KindOf(typ); got != c.want {
				t.Errorf("KindOf(%q) = %v, want %v", typ, got, c.want)
			}
		}
	}
}

// TestFieldFormats pins the value rules one at a time, including values in the shapes a Snowflake
// driver hands over (numbers as text, times with zones) that the DuckDB test cannot produce.
func TestFieldFormats(t *testing.T) {
	la, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		t.Fatal(err)
	}
	plus5 := time.FixedZone("", 5*3600)
	cases := []struct {
		typ  string
		v    any
		want string
	}{
		{"VARCHAR", "", `""`},
		{"VARCHAR", nil, ``},
		{"VARCHAR", " x ", ` x `},
		{"VARCHAR", "a#b", `"a#b"`},
		{"VARCHAR", []byte("x,y"), `"x,y"`},
		{"VARCHAR", stringer(`say "hi"`), `"say ""hi"""`},
		{"VARCHAR", sql.NullString{String: "ok", Valid: true}, `ok`},
		{"VARCHAR", sql.NullString{}, ``},
		{"VARCHAR", int64(-7), `-7`},
		{"TEXT", 0.5, `0.5`},
		{"INTEGER", int8(-5), `-5`},
		{"UBIGINT", uint64(math.MaxUint64), `18446744073709551615`},
		{"HUGEINT", new(big.Int).Lsh(big.NewInt(-1), 126), `-85070591730234615865843651857942052864`},
		{"NUMBER(38,0)", "+007", `7`},
		{"BIGINT", "-0", `0`},
		{"BIGINT", float64(3), `3`},
		{"BIGINT", sql.NullInt64{Int64: 42, Valid: true}, `42`},
		{"NUMBER(10,2)", "1.5", `1.50`},
		{"NUMBER(10,2)", "-0.50", `-0.50`},
		{"NUMBER(10,2)", "1.500", `1.50`},
		{"NUMBER(10,2)", "1.005", `1.005`}, // never rounded
		{"NUMBER(10,2)", "-0", `0.00`},
		{"NUMBER(10,2)", ".5", `0.50`},
		{"NUMBER(10,2)", float64(0.1), `0.10`},
		{"NUMBER(10,2)", int64(5), `5.00`},
		{"NUMBER(38,0)", int64(-12), `-12`},
		{"NUMBER", int64(7), `7`},
		{"NUMBER(10,2)", sql.NullString{String: "2.5", Valid: true}, `2.50`},
		{"NUMBER(38,20)", big.NewFloat(0.25), `0.25000000000000000000`},
		{"DECIMAL(3,3)", "0.5", `.500`},
		{"DECIMAL(3,3)", "-0.5", `-.500`},
		{"DECIMAL(38,10)", duckdb.Decimal{Width: 38, Scale: 10, Value: big.NewInt(-15)}, `-0.0000000015`},
		{"DECIMAL(5,0)", duckdb.Decimal{Width: 5, Scale: 0, Value: big.NewInt(1200)}, `1200`},
		{"FIXED", "1.50", `1.50`},
		{"NUMBER", "-12.3400", `-12.3400`},
		{"REAL", "1.000000000000000e+00", `1.0`},
		{"DOUBLE", "1e100", `1e+100`},
		{"DOUBLE", "NaN", `nan`},
		{"DOUBLE", "-inf", `-inf`},
		{"DOUBLE", int64(3), `3.0`},
		{"DOUBLE", float64(0.1), `0.1`},
		{"DOUBLE", float64(1e-7), `1e-07`},
		{"DOUBLE", float64(1e20), `1e+20`},
		{"DOUBLE", math.Copysign(0, -1), `-0.0`},
		{"DOUBLE", math.Copysign(math.NaN(), -1), `-nan`},
		{"FLOAT", float32(0.1), `0.1`},
		{"FLOAT", float32(722354368), `722354368.0`}, // DuckDB's {fmt} fallback, see grisu.go
		{"DOUBLE", duckdb.Decimal{Width: 4, Scale: 2, Value: big.NewInt(125)}, `1.25`},
		{"BOOLEAN", true, `true`},
		{"BOOLEAN", "1", `true`},
		{"BOOLEAN", "FALSE", `false`},
		{"BOOLEAN", int64(0), `false`},
		{"DATE", time.Date(2024, 1, 2, 23, 0, 0, 0, la), `2024-01-02`},
		{"DATE", time.Date(1969, 7, 20, 0, 0, 0, 0, time.UTC), `1969-07-20`},
		{"DATE", "2024-01-02", `2024-01-02`},
		{"TIMESTAMP_NTZ(9)", time.Date(2024, 1, 2, 3, 4, 5, 999_999_999, plus5), `2024-01-02T03:04:05Z`},
		{"TIMESTAMP_TZ(9)", time.Date(2024, 1, 2, 3, 4, 5, 999_999_999, plus5), `2024-01-01T22:04:05Z`},
		{"TIMESTAMP_LTZ(9)", time.Date(2024, 3, 10, 1, 59, 59, 0, la), `2024-03-10T09:59:59Z`},
		{"TIMESTAMPTZ", time.Date(1969, 12, 31, 23, 59, 59, 500_000_000, time.UTC), `1969-12-31T23:59:59Z`},
		{"TIME(9)", time.Date(0, 1, 1, 1, 2, 3, 500, time.UTC), `01:02:03.0000005`},
		{"TIMETZ", time.Date(1, 1, 1, 1, 2, 3, 0, time.FixedZone("", -(5*3600+30*60))), `01:02:03-05:30`},
		{"TIMESTAMP_NS", time.Date(2024, 1, 2, 3, 4, 5, 120_000_000, time.UTC), `2024-01-02 03:04:05.12`},
		{"INTERVAL", render.Interval{Months: 14, Days: 3, Micros: 14_706_700_000}, `1 year 2 months 3 days 04:05:06.7`},
		{"INTERVAL", duckdb.Interval{Months: -1}, `-1 month`},
		{"INTERVAL", 90 * time.Minute, `01:30:00`},
		{"INTERVAL", render.Interval{}, `00:00:00`},
		{"UUID", [16]byte{0x55, 0x0e, 0x84, 0, 0xe2, 0x9b, 0x41, 0xd4, 0xa7, 0x16, 0x44, 0x66, 0x55, 0x44, 0, 0}, `550e8400-e29b-41d4-a716-446655440000`},
		{"UUID", duckdb.UUID{0xff, 15: 1}, `ff000000-0000-0000-0000-000000000001`},
		{"UUID", "550e8400-e29b-41d4-a716-446655440000", `550e8400-e29b-41d4-a716-446655440000`},
		{"BINARY", []byte{0, 'a', ','}, `"\x00a,"`},
		{"BLOB", []byte{}, `""`},
		{"BLOB", []byte(nil), ``},
		{"HUGEINT", (*big.Int)(nil), ``},
		{"VARIANT", `{"a":1}`, `"{""a"":1}"`},
		{"BIT", "101", `101`},
	}
	for _, c := range cases {
		got, err := field(t, c.typ, c.v)
		if err != nil {
			t.Errorf("%s %T(%v): %v", c.typ, c.v, c.v, err)
			continue
		}
		if got != c.want {
			t.Errorf("%s %T(%v) = %q, want %q", c.typ, c.v, c.v, got, c.want)
		}
	}
}

func TestFieldRefused(t *testing.T) {
	cases := []struct {
		typ string
		v   any
	}{
		{"INTEGER", "12a"},
		{"INTEGER", ""},
		{"BIGINT", 3.5},
		{"NUMBER(10,2)", "1e3"},
		{"NUMBER(10,2)", "1.2.3"},
		{"NUMBER(10,2)", math.Inf(1)},
		{"DOUBLE", "abc"},
		{"BOOLEAN", "maybe"},
		{"INTEGER[]", []any{int32(1)}},
		{"JSON", "x"},
		{"VARCHAR", map[string]any{"k": 1}},
		{"DATE", struct{}{}},
	}
	for _, c := range cases {
		got, err := field(t, c.typ, c.v)
		if !errors.Is(err, render.ErrUnsupportedValue) {
			t.Errorf("%s %T(%v): err = %v, want ErrUnsupportedValue", c.typ, c.v, c.v, err)
		}
		if got != "" {
			t.Errorf("%s %T(%v): refused row still wrote %q", c.typ, c.v, c.v, got)
		}
	}
}

// snowflakeColumns and snowflakeRows look like what gosnowflake returns for an audit export.
var snowflakeColumns = []render.Column{
	{Name: "EVENT_ID", Type: "NUMBER(38,0)"},
	{Name: "AMOUNT", Type: "NUMBER(12,2)"},
	{Name: "RATIO", Type: "FLOAT"},
	{Name: "ACTOR", Type: "TEXT"},
	{Name: "OK", Type: "BOOLEAN"},
	{Name: "DAY", Type: "DATE"},
	{Name: "AT_NTZ", Type: "TIMESTAMP_NTZ(9)"},
	{Name: "AT_LTZ", Type: "TIMESTAMP_LTZ(9)"},
	{Name: "AT_TZ", Type: "TIMESTAMP_TZ(9)"},
	{Name: "PAYLOAD", Type: "VARIANT"},
	{Name: "RAW", Type: "BINARY"},
}

func snowflakeRows(t *testing.T) [][]any {
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	return [][]any{
		{"1", "12.50", "0.1", "alice@example.com", true, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
			time.Date(2026, 1, 1, 9, 30, 0, 123456789, time.UTC), time.Date(2026, 1, 1, 9, 30, 0, 0, tokyo),
			time.Date(2026, 1, 1, 9, 30, 0, 0, ny), `{"ip":"10.0.0.1","tags":["a","b"]}`, []byte("\x00\x01")},
		{"2", "-0.05", "1e20", "", false, time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC),
			time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC), time.Date(2026, 3, 8, 2, 30, 0, 0, time.UTC),
			time.Date(2026, 11, 1, 1, 30, 0, 0, ny), nil, nil},
		{"99999999999999999999999999999999999999", "9999999999.99", "-2.5e-7", "O'Brien, \"Bob\"\r\nline 2",
			nil, nil, nil, nil, nil, "#comment", []byte{}},
		{"-3", nil, "NaN", "  spaced  ", "0", time.Date(10, 2, 3, 0, 0, 0, 0, time.UTC),
			time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC), time.Date(2024, 2, 29, 12, 0, 0, 0, tokyo),
			time.Date(2024, 2, 29, 12, 0, 0, 0, tokyo), "null", []byte("#,\n")},
		{nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil},
	}
}

func TestGoldenSnowflakeRows(t *testing.T) {
	var out bytes.Buffer
	w, err := render.NewWriter(&out, snowflakeColumns, render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rows := snowflakeRows(t)
	for _, r := range rows {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	st, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	if st.Rows != int64(len(rows)) {
		t.Errorf("Rows = %d, want %d", st.Rows, len(rows))
	}
	checkGolden(t, "snowflake_rows.csv", out.Bytes())
	n, err := render.CountRows(bytes.NewReader(out.Bytes()), false)
	if err != nil || n != int64(len(rows)) {
		t.Errorf("CountRows = %d, %v; want %d", n, err, len(rows))
	}
}

func TestNewWriterErrors(t *testing.T) {
	if _, err := render.NewWriter(io.Discard, nil, render.Options{}); err == nil {
		t.Error("no columns: want an error")
	}
	_, err := render.NewWriter(io.Discard, []render.Column{
		{Name: "ok", Type: "DECIMAL(10,2)"}, {Name: "w", Type: "DECIMAL(x,2)"}, {Name: "s", Type: "NUMBER(5,7)"},
	}, render.Options{})
	if err == nil || !strings.Contains(err.Error(), `"w"`) || !strings.Contains(err.Error(), `"s"`) ||
		strings.Contains(err.Error(), `"ok"`) {
		t.Errorf("bad decimal types: err = %v, want both bad columns named", err)
	}
}

func TestWriteRowErrorsLeaveNoTrace(t *testing.T) {
	var out bytes.Buffer
	w, err := render.NewWriter(&out, []render.Column{{Name: "a", Type: "INTEGER"}, {Name: "b", Type: "VARCHAR"}},
		render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(w.Write([]any{int32(1), "one"}))
	if err := w.Write([]any{int32(2)}); !errors.Is(err, render.ErrColumnCount) {
		t.Errorf("short row: err = %v, want ErrColumnCount", err)
	}
	err = w.Write([]any{int32(2), []any{"x"}})
	if !errors.Is(err, render.ErrUnsupportedValue) || !strings.Contains(err.Error(), `row 2 column "b"`) {
		t.Errorf("bad value: err = %v, want ErrUnsupportedValue naming row 2 column b", err)
	}
	must(w.Write([]any{int32(3), "three"}))
	st, err := w.Close()
	must(err)
	if want := "a,b\n1,one\n3,three\n"; out.String() != want || st.Rows != 2 {
		t.Errorf("got %q with %d rows, want %q with 2", out.String(), st.Rows, want)
	}
	if err := w.Write([]any{int32(4), "four"}); !errors.Is(err, render.ErrClosed) {
		t.Errorf("write after close: err = %v, want ErrClosed", err)
	}
	if st2, err := w.Close(); err != nil || st2 != st {
		t.Errorf("second Close = %+v, %v; want %+v, nil", st2, err, st)
	}
}

// The typed cell calls keep the same promise: a short, long or bad row writes nothing of itself.
func TestTypedRowErrorsLeaveNoTrace(t *testing.T) {
	var out bytes.Buffer
	w, err := render.NewWriter(&out, []render.Column{{Name: "a", Type: "INTEGER"}, {Name: "b", Type: "VARCHAR"}},
		render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	w.Int(1)
	w.Text("one")
	if err := w.EndRow(); err != nil {
		t.Fatal(err)
	}
	w.Int(2)
	if err := w.EndRow(); !errors.Is(err, render.ErrColumnCount) {
		t.Errorf("short row: err = %v, want ErrColumnCount", err)
	}
	w.Int(2)
	w.Text("two")
	w.Null()
	if err := w.EndRow(); !errors.Is(err, render.ErrColumnCount) {
		t.Errorf("long row: err = %v, want ErrColumnCount", err)
	}
	w.Text("x2")
	w.Value([]any{"x"})
	if err := w.EndRow(); !errors.Is(err, render.ErrUnsupportedValue) || !strings.Contains(err.Error(), `row 2 column "a"`) {
		t.Errorf("bad value: err = %v, want ErrUnsupportedValue naming row 2 column a (the first error of the row)", err)
	}
	w.Null()
	w.Text("three")
	if err := w.EndRow(); err != nil {
		t.Fatal(err)
	}
	st, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	if want := "a,b\n1,one\n,three\n"; out.String() != want || st.Rows != 2 {
		t.Errorf("got %q with %d rows, want %q with 2", out.String(), st.Rows, want)
	}
	w.Int(4)
	w.Text("four")
	if err := w.EndRow(); !errors.Is(err, render.ErrClosed) {
		t.Errorf("row after close: err = %v, want ErrClosed", err)
	}
}

// failingDst accepts limit bytes and then fails; it also notes whether anyone closed it.
type failingDst struct {
	buf    bytes.Buffer
	limit  int
	closed bool
}

var errDiskFull = errors.New("disk full")

func (f *failingDst) Write(p []byte) (int, error) {
	room := f.limit - f.buf.Len()
	if room >= len(p) {
		return f.buf.Write(p)
	}
	f.buf.Write(p[:max(room, 0)])
	return max(room, 0), errDiskFull
}

func (f *failingDst) Close() error { f.closed = true; return nil }

func TestDestinationFailureIsSticky(t *testing.T) {
	dst := &failingDst{limit: 100_000}
	w, err := render.NewWriter(dst, []render.Column{{Name: "s", Type: "VARCHAR"}}, render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	row := []any{strings.Repeat("x", 1000)}
	var werr error
	for i := 0; i < 1000 && werr == nil; i++ {
		werr = w.Write(row)
	}
	if !errors.Is(werr, errDiskFull) {
		t.Fatalf("write: err = %v, want the destination's error", werr)
	}
	if err := w.Write(row); !errors.Is(err, errDiskFull) {
		t.Errorf("write after failure: err = %v, want the same error", err)
	}
	st, err := w.Close()
	if !errors.Is(err, errDiskFull) {
		t.Errorf("close: err = %v, want the destination's error", err)
	}
	sum := sha256.Sum256(dst.buf.Bytes())
	if st.Bytes != int64(dst.buf.Len()) || st.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("stats %+v do not describe the %d bytes the destination kept", st, dst.buf.Len())
	}
	if dst.closed {
		t.Error("Close closed the destination; the caller owns it")
	}
}

// recordingDst remembers the size of every write.
type recordingDst struct {
	n      int64
	writes []int
}

func (r *recordingDst) Write(p []byte) (int, error) {
	r.n += int64(len(p))
	r.writes = append(r.writes, len(p))
	return len(p), nil
}

// TestStreams shows that rows leave the Writer while it is still being fed, in bounded pieces,
// for plain and gzipped output: the result is never held whole.
func TestStreams(t *testing.T) {
	for _, gz := range []bool{false, true} {
		dst := &recordingDst{}
		w, err := render.NewWriter(dst, []render.Column{{Name: "id", Type: "BIGINT"}, {Name: "s", Type: "VARCHAR"}},
			render.Options{Gzip: gz, GzipLevel: gzip.BestSpeed})
		if err != nil {
			t.Fatal(err)
		}
		var rendered int64
		for i := range 200_000 {
			s := strings.Repeat(string(rune('a'+i%26)), 1+i%50) + string(rune('A'+(i*7)%26))
			if err := w.Write([]any{int64(i), s}); err != nil {
				t.Fatal(err)
			}
			rendered += int64(len(s)) + 8
		}
		before := dst.n
		st, err := w.Close()
		if err != nil {
			t.Fatal(err)
		}
		if before < st.Bytes/2 {
			t.Errorf("gzip=%v: only %d of %d bytes reached the destination before Close", gz, before, st.Bytes)
		}
		for _, n := range dst.writes {
			if n > 256<<10 {
				t.Errorf("gzip=%v: a %d-byte write; want bounded pieces", gz, n)
				break
			}
		}
		if rendered < 4<<20 {
			t.Fatalf("test too small: %d bytes", rendered)
		}
	}
}

func TestSinkStats(t *testing.T) {
	data := bytes.Repeat([]byte("id,name\n1,\"a,b\"\n2,x\n"), 50_000)
	for _, gz := range []bool{false, true} {
		var obj bytes.Buffer
		s := render.NewSink(&obj, render.Options{Gzip: gz})
		// Uneven pieces, as a FIFO reader would deliver them.
		for rest := data; len(rest) > 0; {
			n := min(len(rest), 1+len(rest)%7919)
			if _, err := s.Write(rest[:n]); err != nil {
				t.Fatal(err)
			}
			rest = rest[n:]
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		st := s.Stats()
		sum := sha256.Sum256(obj.Bytes())
		if st.Bytes != int64(obj.Len()) || st.SHA256 != hex.EncodeToString(sum[:]) || st.Rows != 0 {
			t.Errorf("gzip=%v: Stats %+v, object has %d bytes sha256 %x", gz, st, obj.Len(), sum)
		}
		plain := obj.Bytes()
		if gz {
			zr, err := gzip.NewReader(bytes.NewReader(obj.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			if plain, err = io.ReadAll(zr); err != nil {
				t.Fatal(err)
			}
			if st.Bytes >= int64(len(data)) {
				t.Errorf("gzip did not compress: %d bytes from %d", st.Bytes, len(data))
			}
		}
		if !bytes.Equal(plain, data) {
			t.Errorf("gzip=%v: round trip changed the data", gz)
		}
		if _, err := s.Write([]byte("x")); !errors.Is(err, render.ErrClosed) {
			t.Errorf("write after close: err = %v, want ErrClosed", err)
		}
	}
}

// TestGzipDeterministic matters for re-runs: the same rows must give the same object hash.
func TestGzipDeterministic(t *testing.T) {
	render1 := func() render.Stats {
		w, err := render.NewWriter(io.Discard, snowflakeColumns, render.Options{Gzip: true})
		if err != nil {
			t.Fatal(err)
		}
		for range 1000 {
			for _, r := range snowflakeRows(t) {
				if err := w.Write(r); err != nil {
					t.Fatal(err)
				}
			}
		}
		st, err := w.Close()
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	if a, b := render1(), render1(); a != b {
		t.Errorf("two renders of the same rows differ: %+v and %+v", a, b)
	}
}

func TestGzipRoundTrip(t *testing.T) {
	var plain, packed bytes.Buffer
	rows := snowflakeRows(t)
	var stats [2]render.Stats
	for i, dst := range []*bytes.Buffer{&plain, &packed} {
		w, err := render.NewWriter(dst, snowflakeColumns, render.Options{Gzip: i == 1})
		if err != nil {
			t.Fatal(err)
		}
		for range 300 {
			for _, r := range rows {
				if err := w.Write(r); err != nil {
					t.Fatal(err)
				}
			}
		}
		if stats[i], err = w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	zr, err := gzip.NewReader(bytes.NewReader(packed.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	unpacked, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(unpacked, plain.Bytes()) {
		t.Error("gunzipped output differs from the plain output")
	}
	want := int64(300 * len(rows))
	for i, obj := range []*bytes.Buffer{&plain, &packed} {
		sum := sha256.Sum256(obj.Bytes())
		if stats[i].Rows != want || stats[i].Bytes != int64(obj.Len()) || stats[i].SHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("gzip=%v: stats %+v, want %d rows, %d bytes, %x", i == 1, stats[i], want, obj.Len(), sum)
		}
		n, err := render.CountRows(bytes.NewReader(obj.Bytes()), i == 1)
		if err != nil || n != want {
			t.Errorf("gzip=%v: CountRows = %d, %v; want %d", i == 1, n, err, want)
		}
	}
}
