package snowflake

import (
	"bytes"
	"math"
	"os"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/exportd/exportd/internal/render"
	"github.com/exportd/exportd/internal/source"
)

// TestGoldenArrowInput feeds the values of render's Snowflake golden rows
// (render/testdata/snowflake_rows.csv, whose bytes the DuckDB golden tests
// pin) as Arrow records in Snowflake's own wire layout — NUMBER as scaled
// integers of the narrowest width or Decimal128, FLOAT as doubles,
// TIMESTAMP_NTZ/LTZ as scaled int64 or {epoch, fraction} structs,
// TIMESTAMP_TZ as {epoch, fraction, timezone} or {value, timezone} structs,
// VARIANT as Snowflake's indented JSON, BINARY as bytes — through the
// source's converter and the row encoder, and wants the same bytes.
func TestGoldenArrowInput(t *testing.T) {
	want, err := os.ReadFile("../../render/testdata/snowflake_rows.csv")
	if err != nil {
		t.Fatal(err)
	}
	cols := []source.Column{
		{Name: "EVENT_ID", Type: "NUMBER(38,0)"}, {Name: "AMOUNT", Type: "NUMBER(12,2)"}, {Name: "RATIO", Type: "FLOAT"},
		{Name: "ACTOR", Type: "TEXT"}, {Name: "OK", Type: "BOOLEAN"}, {Name: "DAY", Type: "DATE"},
		{Name: "AT_NTZ", Type: "TIMESTAMP_NTZ(9)"}, {Name: "AT_LTZ", Type: "TIMESTAMP_LTZ(9)"}, {Name: "AT_TZ", Type: "TIMESTAMP_TZ(9)"},
		{Name: "PAYLOAD", Type: "VARIANT"}, {Name: "RAW", Type: "BINARY"},
	}
	meta := []colMeta{{"fixed", 0}, {"fixed", 2}, {"real", 0}, {"text", 0}, {"boolean", 0}, {"date", 0},
		{"timestamp_ntz", 9}, {"timestamp_ltz", 9}, {"timestamp_tz", 9}, {"variant", 0}, {"binary", 0}}
	rcols := make([]render.Column, len(cols))
	for i, c := range cols {
		rcols[i] = render.Column{Name: c.Name, Type: c.Type}
	}
	var out bytes.Buffer
	enc, err := render.NewWriter(&out, rcols, render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	day := func(y int, m time.Month, d int) int32 {
		return int32(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
	}
	ns := func(t time.Time) int64 { return t.UnixNano() }
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	ny, _ := time.LoadLocation("America/New_York")
	nsTZ := func(y int, m time.Month, d, h, mi int, loc *time.Location) int64 {
		return time.Date(y, m, d, h, mi, 0, 0, loc).UnixNano()
	}
	ntz := time.Date(2026, 1, 1, 9, 30, 0, 123456789, time.UTC)
	pretty := "{\n  \"ip\": \"10.0.0.1\",\n  \"tags\": [\n    \"a\",\n    \"b\"\n  ]\n}"

	// Chunk 1 (rows 1-2): narrow integers, scaled int64 NTZ, {epoch,
	// fraction} LTZ, {value, timezone} TZ.
	{
		b8 := array.NewInt8Builder(mem)
		b8.AppendValues([]int8{1, 2}, nil)
		amt := array.NewInt16Builder(mem)
		amt.AppendValues([]int16{1250, -5}, nil)
		ratio := array.NewFloat64Builder(mem)
		ratio.AppendValues([]float64{0.1, 1e20}, nil)
		actor := array.NewStringBuilder(mem)
		actor.AppendValues([]string{"alice@example.com", ""}, nil)
		ok := array.NewBooleanBuilder(mem)
		ok.AppendValues([]bool{true, false}, nil)
		dt := array.NewDate32Builder(mem)
		dt.AppendValues([]arrow.Date32{arrow.Date32(day(2026, 1, 1)), arrow.Date32(day(1969, 12, 31))}, nil)
		at := array.NewInt64Builder(mem)
		at.AppendValues([]int64{ns(ntz), ns(time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC))}, nil)
		ltzType := arrow.StructOf(arrow.Field{Name: "epoch", Type: arrow.PrimitiveTypes.Int64}, arrow.Field{Name: "fraction", Type: arrow.PrimitiveTypes.Int32})
		ltz := array.NewStructBuilder(mem, ltzType)
		for _, v := range []time.Time{time.Date(2026, 1, 1, 9, 30, 0, 0, tokyo), time.Date(2026, 3, 8, 2, 30, 0, 0, time.UTC)} {
			ltz.Append(true)
			ltz.FieldBuilder(0).(*array.Int64Builder).Append(v.Unix())
			ltz.FieldBuilder(1).(*array.Int32Builder).Append(int32(v.Nanosecond()))
		}
		tzType := arrow.StructOf(arrow.Field{Name: "value", Type: arrow.PrimitiveTypes.Int64}, arrow.Field{Name: "timezone", Type: arrow.PrimitiveTypes.Int32})
		tz := array.NewStructBuilder(mem, tzType)
		for _, v := range []struct {
			ns  int64
			off int32
		}{{nsTZ(2026, 1, 1, 9, 30, ny), 1440 - 300}, {nsTZ(2026, 11, 1, 1, 30, ny), 1440 - 240}} {
			tz.Append(true)
			tz.FieldBuilder(0).(*array.Int64Builder).Append(v.ns)
			tz.FieldBuilder(1).(*array.Int32Builder).Append(v.off)
		}
		payload := array.NewStringBuilder(mem)
		payload.Append(pretty)
		payload.AppendNull()
		raw := array.NewBinaryBuilder(mem, arrow.BinaryTypes.Binary)
		raw.Append([]byte{0, 1})
		raw.AppendNull()
		writeTestRecord(t, enc, cols, meta, 2, b8, amt, ratio, actor, ok, dt, at, ltz, tz, payload, raw)
	}
	// Chunk 2 (rows 3-5): Decimal128 and int64, {epoch, fraction} NTZ,
	// scaled int64 LTZ, {epoch, fraction, timezone} TZ, NULLs marked only
	// on a struct's fields.
	{
		id := array.NewDecimal128Builder(mem, &arrow.Decimal128Type{Precision: 38, Scale: 0})
		big, _ := decimal128.FromString("99999999999999999999999999999999999999", 38, 0)
		id.Append(big)
		id.Append(decimal128.FromI64(-3))
		id.AppendNull()
		amt := array.NewInt64Builder(mem)
		amt.Append(999999999999)
		amt.AppendNull()
		amt.AppendNull()
		ratio := array.NewFloat64Builder(mem)
		ratio.Append(-2.5e-7)
		ratio.Append(nanValue())
		ratio.AppendNull()
		actor := array.NewStringBuilder(mem)
		actor.Append("O'Brien, \"Bob\"\r\nline 2")
		actor.Append("  spaced  ")
		actor.AppendNull()
		ok := array.NewBooleanBuilder(mem)
		ok.AppendNull()
		ok.Append(false)
		ok.AppendNull()
		dt := array.NewDate32Builder(mem)
		dt.AppendNull()
		dt.Append(arrow.Date32(day(10, 2, 3)))
		dt.AppendNull()
		ntzType := arrow.StructOf(arrow.Field{Name: "epoch", Type: arrow.PrimitiveTypes.Int64}, arrow.Field{Name: "fraction", Type: arrow.PrimitiveTypes.Int32})
		at := array.NewStructBuilder(mem, ntzType)
		at.Append(true)
		at.FieldBuilder(0).(*array.Int64Builder).AppendNull()
		at.FieldBuilder(1).(*array.Int32Builder).AppendNull()
		at.Append(true)
		at.FieldBuilder(0).(*array.Int64Builder).Append(time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC).Unix())
		at.FieldBuilder(1).(*array.Int32Builder).Append(0)
		at.AppendNull()
		at.FieldBuilder(0).(*array.Int64Builder).AppendNull()
		at.FieldBuilder(1).(*array.Int32Builder).AppendNull()
		ltz := array.NewInt64Builder(mem)
		ltz.AppendNull()
		ltz.Append(time.Date(2024, 2, 29, 12, 0, 0, 0, tokyo).UnixNano())
		ltz.AppendNull()
		tzType := arrow.StructOf(arrow.Field{Name: "epoch", Type: arrow.PrimitiveTypes.Int64}, arrow.Field{Name: "fraction", Type: arrow.PrimitiveTypes.Int32},
			arrow.Field{Name: "timezone", Type: arrow.PrimitiveTypes.Int32})
		tz := array.NewStructBuilder(mem, tzType)
		tz.Append(true)
		tz.FieldBuilder(0).(*array.Int64Builder).AppendNull()
		tz.FieldBuilder(1).(*array.Int32Builder).AppendNull()
		tz.FieldBuilder(2).(*array.Int32Builder).Append(1440)
		tz.Append(true)
		tz.FieldBuilder(0).(*array.Int64Builder).Append(time.Date(2024, 2, 29, 12, 0, 0, 0, tokyo).Unix())
		tz.FieldBuilder(1).(*array.Int32Builder).Append(0)
		tz.FieldBuilder(2).(*array.Int32Builder).Append(1440 + 540)
		tz.AppendNull()
		tz.FieldBuilder(0).(*array.Int64Builder).AppendNull()
		tz.FieldBuilder(1).(*array.Int32Builder).AppendNull()
		tz.FieldBuilder(2).(*array.Int32Builder).AppendNull()
		payload := array.NewStringBuilder(mem)
		payload.Append("#comment")
		payload.Append("null")
		payload.AppendNull()
		raw := array.NewBinaryBuilder(mem, arrow.BinaryTypes.Binary)
		raw.Append([]byte{})
		raw.Append([]byte("#,\n"))
		raw.AppendNull()
		writeTestRecord(t, enc, cols, meta, 3, id, amt, ratio, actor, ok, dt, at, ltz, tz, payload, raw)
	}
	// Row 3's AMOUNT is 9999999999.99: the int64 column above holds it scaled.
	st, err := enc.Close()
	if err != nil {
		t.Fatal(err)
	}
	if st.Rows != 5 {
		t.Errorf("rows = %d, want 5", st.Rows)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Errorf("Arrow input differs from the golden file:\n got %q\nwant %q", out.String(), want)
	}
}

type arrayBuilder interface {
	NewArray() arrow.Array
	Release()
}

func writeTestRecord(t *testing.T, enc *render.Writer, cols []source.Column, meta []colMeta, n int64, bs ...arrayBuilder) {
	t.Helper()
	arrs := make([]arrow.Array, len(bs))
	fields := make([]arrow.Field, len(bs))
	for i, b := range bs {
		arrs[i] = b.NewArray()
		b.Release()
		fields[i] = arrow.Field{Name: cols[i].Name, Type: arrs[i].DataType(), Nullable: true}
	}
	rec := array.NewRecord(arrow.NewSchema(fields, nil), arrs, n)
	for _, a := range arrs {
		a.Release()
	}
	defer rec.Release()
	got, err := writeRecord(enc, rec, cols, meta)
	if err != nil || got != n {
		t.Fatalf("writeRecord: %d rows, %v", got, err)
	}
}

func nanValue() float64 { return math.NaN() }
