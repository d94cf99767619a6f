package snowflake

import (
	"bytes"
	"context"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	sf "github.com/snowflakedb/gosnowflake/v2"
	"github.com/snowflakedb/gosnowflake/v2/arrowbatches"

	"github.com/exportd/exportd/internal/render"
	"github.com/exportd/exportd/internal/source"
)

// attempts is how often a query is sent when the session is gone or the
// network failed before any byte was written: once, then once more on a new
// session. Later failures go to the schedule's retry policy.
const attempts = 2

// queryCtx adds the driver options every query uses.
func queryCtx(ctx context.Context) context.Context {
	if tag := source.QueryTag(ctx); tag != "" {
		ctx = sf.WithQueryTag(ctx, tag)
	}
	return ctx
}

func namedArgs(args []any) []driver.NamedValue {
	nv := make([]driver.NamedValue, len(args))
	for i, a := range args {
		nv[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
	}
	return nv
}

// errRetry tells run that the connection is bad and the call may be retried.
type errRetry struct{ err error }

func (e *errRetry) Error() string { return e.err.Error() }

// run runs stmt on a pooled connection and hands the driver's rows to fn.
// When the query fails with an expired session or a network error and fn
// has not been called, the connection is dropped and the query sent once
// more on a new one.
func (s *Source) run(ctx context.Context, op, stmt string, args []any, qctx func(context.Context) context.Context,
	fn func(rows driver.Rows, queryID string) error) error {
	var last error
	for attempt := 1; attempt <= attempts; attempt++ {
		called := false
		conn, err := s.db.Conn(ctx)
		if err != nil {
			werr, retry := s.classify(ctx, op+" (connect)", err, "")
			if retry && attempt < attempts {
				last = werr
				continue
			}
			return werr
		}
		var result error
		rawErr := conn.Raw(func(dc any) error {
			qc, ok := dc.(driver.QueryerContext)
			if !ok {
				return errors.New("driver connection cannot query")
			}
			c := qctx(queryCtx(ctx))
			t0 := time.Now()
			rows, err := qc.QueryContext(c, stmt, namedArgs(args))
			trace("query", t0)
			if err != nil {
				werr, retry := s.classify(ctx, op, err, "")
				if retry {
					result = &errRetry{werr}
					return driver.ErrBadConn // drop this session from the pool
				}
				result = werr
				return nil
			}
			defer rows.Close()
			qid := ""
			if sr, ok := rows.(sf.SnowflakeRows); ok {
				qid = sr.GetQueryID()
			}
			called = true
			if err := fn(rows, qid); err != nil {
				result = err
			}
			return nil
		})
		conn.Close()
		var re *errRetry
		switch {
		case errors.As(result, &re):
			last = re.err
			if attempt < attempts && !called && ctx.Err() == nil {
				s.log.Warn("snowflake session gone or network failed; retrying on a new session",
					zap.String("source", s.name), zap.String("op", op), zap.Error(re.err))
				continue
			}
			return re.err
		case result != nil:
			return result
		case rawErr != nil && !errors.Is(rawErr, driver.ErrBadConn):
			werr, _ := s.classify(ctx, op, rawErr, "")
			return werr
		}
		return nil
	}
	return last
}

// columnsOf reads the result's columns from the driver's rows.
func columnsOf(rows driver.Rows) []source.Column {
	names := rows.Columns()
	cols := make([]source.Column, len(names))
	tn, _ := rows.(driver.RowsColumnTypeDatabaseTypeName)
	ps, _ := rows.(driver.RowsColumnTypePrecisionScale)
	for i, n := range names {
		t := ""
		if tn != nil {
			t = tn.ColumnTypeDatabaseTypeName(i)
		}
		var p, sc int64
		if ps != nil {
			p, sc, _ = ps.ColumnTypePrecisionScale(i)
		}
		cols[i] = source.Column{Name: n, Type: typeName(t, p, sc)}
	}
	return cols
}

// typeName turns the driver's type (FIXED, REAL, TEXT, ...) into
// Snowflake's SQL name, which render.KindOf and the workbook know.
func typeName(t string, precision, scale int64) string {
	switch strings.ToUpper(t) {
	case "FIXED", "NUMBER":
		if precision == 0 {
			precision = 38
		}
		return fmt.Sprintf("NUMBER(%d,%d)", precision, scale)
	case "REAL":
		return "FLOAT"
	case "TEXT":
		return "VARCHAR"
	}
	return strings.ToUpper(t)
}

// Describe returns the output columns of q without running it.
func (s *Source) Describe(ctx context.Context, q source.Query) ([]source.Column, error) {
	var cols []source.Column
	err := s.run(ctx, "describe query", q.SQL, q.Args, sf.WithDescribeOnly, func(rows driver.Rows, _ string) error {
		cols = columnsOf(rows)
		return nil
	})
	return cols, err
}

// Count returns the number of rows q produces.
func (s *Source) Count(ctx context.Context, q source.Query) (int64, error) {
	var n int64
	err := s.run(ctx, "count rows", "SELECT COUNT(*) FROM ("+q.SQL+")", q.Args, noCtx, func(rows driver.Rows, qid string) error {
		v := make([]driver.Value, 1)
		if err := rows.Next(v); err != nil {
			werr, _ := s.classify(ctx, "count rows", err, qid)
			return werr
		}
		switch x := v[0].(type) {
		case int64:
			n = x
		case string:
			var err error
			if n, err = strconv.ParseInt(x, 10, 64); err != nil {
				return fmt.Errorf("snowflake source %q: count rows: %q is not a count", s.name, x)
			}
		default:
			return fmt.Errorf("snowflake source %q: count rows: unexpected %T", s.name, x)
		}
		return nil
	})
	return n, err
}

func noCtx(ctx context.Context) context.Context { return ctx }

func arrowCtx(ctx context.Context) context.Context {
	ctx = arrowbatches.WithArrowBatches(ctx)
	ctx = sf.WithHigherPrecision(ctx) // FIXED stays integers + scale: exact
	return arrowbatches.WithTimestampOption(ctx, arrowbatches.UseOriginalTimestamp)
}

// ExportCSV runs q and streams its result, one Arrow chunk at a time, through
// the row encoder into w.
func (s *Source) ExportCSV(ctx context.Context, q source.Query, w io.Writer) (source.Result, error) {
	var res source.Result
	err := s.run(ctx, "export query", q.SQL, q.Args, arrowCtx, func(rows driver.Rows, qid string) error {
		res.QueryID = qid
		res.Columns = columnsOf(rows)
		rcols := make([]render.Column, len(res.Columns))
		for i, c := range res.Columns {
			rcols[i] = render.Column{Name: c.Name, Type: c.Type}
		}
		enc, err := render.NewWriter(w, rcols, render.Options{})
		if err != nil {
			return fmt.Errorf("snowflake source %q: %w", s.name, err)
		}
		n, err := s.stream(ctx, rows, qid, res.Columns, enc)
		if err != nil {
			return err // the encoder is dropped unflushed: nothing more reaches w
		}
		st, err := enc.Close()
		if err != nil {
			return fmt.Errorf("snowflake source %q: write csv: %w", s.name, err)
		}
		if st.Rows != n {
			return fmt.Errorf("snowflake source %q: wrote %d rows of %d", s.name, st.Rows, n)
		}
		res.Rows = st.Rows
		return nil
	})
	if err != nil {
		return source.Result{QueryID: res.QueryID}, err
	}
	return res, nil
}

// stream fetches the batches one after another (the driver downloads a
// chunk when it is fetched) and writes their rows.
func (s *Source) stream(ctx context.Context, rows driver.Rows, qid string, cols []source.Column, enc *render.Writer) (int64, error) {
	sr, ok := rows.(sf.SnowflakeRows)
	if !ok {
		return 0, fmt.Errorf("snowflake source %q: the driver returned no Snowflake rows", s.name)
	}
	batches, err := arrowbatches.GetArrowBatches(sr)
	if err != nil {
		werr, _ := s.classify(ctx, "export query: read result", err, qid)
		return 0, werr
	}
	var n int64
	for _, b := range batches {
		t0 := time.Now()
		recs, err := b.WithContext(arrowCtx(ctx)).Fetch()
		trace("fetch", t0)
		if err != nil {
			werr, _ := s.classify(ctx, "export query: fetch result chunk", err, qid)
			return n, werr
		}
		rts := b.GetRowTypes()
		meta := make([]colMeta, len(rts))
		for j, rt := range rts {
			meta[j] = colMeta{typ: rt.Type, scale: int(rt.Scale)}
		}
		for ri, rec := range *recs {
			t0 := time.Now()
			k, err := writeRecord(enc, rec, cols, meta)
			trace("encode", t0)
			n += k
			rec.Release()
			if err != nil {
				releaseFrom(*recs, ri+1)
				return n, fmt.Errorf("snowflake source %q: %w [query ID %s]", s.name, err, qid)
			}
			if err := ctx.Err(); err != nil {
				releaseFrom(*recs, ri+1)
				return n, fmt.Errorf("snowflake source %q: export query: %w", s.name, context.Cause(ctx))
			}
		}
	}
	return n, nil
}

// phaseTrace, when set (benchmarks only), receives the time of each phase
// of an export: query (until the first chunk is in), fetch (download and
// decode of a chunk), encode (CSV).
var phaseTrace func(phase string, d time.Duration)

func trace(phase string, since time.Time) {
	if phaseTrace != nil {
		phaseTrace(phase, time.Since(since))
	}
}

// colMeta is what the driver says of a result column: its lower-case
// Snowflake type (fixed, real, text, timestamp_ntz, ...) and scale.
type colMeta struct {
	typ   string
	scale int
}

// writeRecord writes the rows of one Arrow record in Snowflake's layout,
// each cell straight from its Arrow array into the encoder's typed calls (no
// value is boxed, so a row leaves no garbage behind).
func writeRecord(enc *render.Writer, rec arrow.Record, cols []source.Column, meta []colMeta) (int64, error) {
	if int(rec.NumCols()) != len(cols) || len(meta) != len(cols) {
		return 0, fmt.Errorf("result chunk has %d columns, want %d", rec.NumCols(), len(cols))
	}
	cells := make([]cellFunc, len(cols))
	for j := range cols {
		c, err := converter(meta[j].typ, meta[j].scale, rec.Column(j))
		if err != nil {
			return 0, fmt.Errorf("column %q: %w", cols[j].Name, err)
		}
		cells[j] = c
	}
	var n int64
	for i := 0; i < int(rec.NumRows()); i++ {
		for _, c := range cells {
			c(enc, i)
		}
		if err := enc.EndRow(); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func releaseFrom(recs []arrow.Record, i int) {
	for ; i < len(recs); i++ {
		recs[i].Release()
	}
}

// cellFunc writes row i of a column as one cell.
type cellFunc func(enc *render.Writer, i int)

// converter returns the cellFunc of col: the value render.Writer formats
// like DuckDB's COPY. typ is the driver's lower-case Snowflake type; col is
// Snowflake's own Arrow layout (higher precision, original timestamps).
func converter(typ string, scale int, col arrow.Array) (cellFunc, error) {
	// cell wraps the non-NULL case with the column's NULL check.
	cell := func(f cellFunc) cellFunc {
		if col.NullN() == 0 {
			return f
		}
		return func(enc *render.Writer, i int) {
			if col.IsNull(i) {
				enc.Null()
				return
			}
			f(enc, i)
		}
	}
	switch typ {
	case "fixed":
		switch a := col.(type) {
		case *array.Int8:
			return cell(fixed(func(i int) int64 { return int64(a.Value(i)) }, scale)), nil
		case *array.Int16:
			return cell(fixed(func(i int) int64 { return int64(a.Value(i)) }, scale)), nil
		case *array.Int32:
			return cell(fixed(func(i int) int64 { return int64(a.Value(i)) }, scale)), nil
		case *array.Int64:
			return cell(fixed(a.Value, scale)), nil
		case *array.Decimal128:
			return cell(func(enc *render.Writer, i int) { enc.Text(scaled(a.Value(i).BigInt().String(), scale)) }), nil
		}
	case "real":
		if a, ok := col.(*array.Float64); ok {
			return cell(func(enc *render.Writer, i int) { enc.Float(a.Value(i)) }), nil
		}
	case "text":
		if a, ok := col.(*array.String); ok {
			return cell(func(enc *render.Writer, i int) { enc.Text(a.Value(i)) }), nil
		}
	case "variant", "object", "array":
		if a, ok := col.(*array.String); ok {
			return cell(func(enc *render.Writer, i int) { enc.Text(compactJSON(a.Value(i))) }), nil
		}
	case "boolean":
		if a, ok := col.(*array.Boolean); ok {
			return cell(func(enc *render.Writer, i int) { enc.Bool(a.Value(i)) }), nil
		}
	case "date":
		if a, ok := col.(*array.Date32); ok {
			return cell(func(enc *render.Writer, i int) { enc.Time(time.Unix(int64(a.Value(i))*86400, 0).UTC()) }), nil
		}
	case "time":
		var v func(int) int64
		switch a := col.(type) {
		case *array.Int64:
			v = a.Value
		case *array.Int32:
			v = func(i int) int64 { return int64(a.Value(i)) }
		case *array.Time64:
			v = func(i int) int64 { return int64(a.Value(i)) }
			scale = 9
		}
		if v != nil {
			mul := pow10[9-scale]
			return cell(func(enc *render.Writer, i int) { enc.Time(time.Unix(0, v(i)*mul).UTC()) }), nil
		}
	case "timestamp_ntz", "timestamp_ltz", "timestamp_tz":
		// NTZ is a wall clock, LTZ and TZ are instants; all three are
		// printed in UTC (a TZ offset changes nothing in the output).
		switch a := col.(type) {
		case *array.Int64:
			return cell(func(enc *render.Writer, i int) { enc.Time(scaledTime(a.Value(i), scale)) }), nil
		case *array.Timestamp:
			// Arrow's own timestamp (fakesnow sends NTZ so).
			unit := a.DataType().(*arrow.TimestampType).Unit
			return cell(func(enc *render.Writer, i int) { enc.Time(a.Value(i).ToTime(unit).UTC()) }), nil
		case *array.Struct:
			// A NULL may be marked on the struct or only on its fields.
			if a.NumField() == 0 {
				return func(enc *render.Writer, _ int) { enc.Null() }, nil
			}
			f0 := a.Field(0)
			structCell := func(f cellFunc) cellFunc {
				if a.NullN() == 0 && f0.NullN() == 0 {
					return f
				}
				return func(enc *render.Writer, i int) {
					if a.IsNull(i) || f0.IsNull(i) {
						enc.Null()
						return
					}
					f(enc, i)
				}
			}
			switch {
			case a.NumField() == 2 && typ == "timestamp_tz":
				if v, ok := f0.(*array.Int64); ok {
					return structCell(func(enc *render.Writer, i int) { enc.Time(scaledTime(v.Value(i), scale)) }), nil
				}
			case a.NumField() >= 2:
				ep, ok1 := f0.(*array.Int64)
				fr, ok2 := a.Field(1).(*array.Int32)
				if ok1 && ok2 {
					return structCell(func(enc *render.Writer, i int) {
						enc.Time(time.Unix(ep.Value(i), int64(fr.Value(i))).UTC())
					}), nil
				}
			}
		}
	case "binary":
		if a, ok := col.(*array.Binary); ok {
			return cell(func(enc *render.Writer, i int) { enc.Value(a.Value(i)) }), nil
		}
	}
	return nil, fmt.Errorf("Snowflake type %s in Arrow layout %s is not supported", strings.ToUpper(typ), col.DataType())
}

var pow10 = func() [19]int64 {
	var p [19]int64
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

func scaledTime(v int64, scale int) time.Time {
	if scale < 0 || scale > 9 {
		scale = 9
	}
	d := pow10[scale]
	sec, frac := v/d, v%d
	if frac < 0 {
		sec--
		frac += d
	}
	return time.Unix(sec, frac*pow10[9-scale]).UTC()
}

func fixed(v func(int) int64, scale int) cellFunc {
	if scale == 0 {
		return func(enc *render.Writer, i int) { enc.Int(v(i)) }
	}
	return func(enc *render.Writer, i int) { enc.Text(scaled(strconv.FormatInt(v(i), 10), scale)) }
}

// scaled puts the decimal point into an integer's digits: ("-1234", 2) is
// "-12.34", ("5", 3) is "0.005". Exact: no float on the way.
func scaled(digits string, scale int) string {
	if scale <= 0 {
		return digits
	}
	neg := strings.HasPrefix(digits, "-")
	if neg {
		digits = digits[1:]
	}
	if len(digits) <= scale {
		digits = strings.Repeat("0", scale-len(digits)+1) + digits
	}
	out := digits[:len(digits)-scale] + "." + digits[len(digits)-scale:]
	if neg {
		out = "-" + out
	}
	return out
}

// compactJSON returns Snowflake's (indented) JSON text of a VARIANT, OBJECT
// or ARRAY as compact JSON, keys and numbers as Snowflake wrote them.
func compactJSON(s string) string {
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		return s
	}
	return b.String()
}
