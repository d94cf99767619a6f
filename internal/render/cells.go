package render

import (
	"fmt"
	"strconv"
	"time"
)

// Typed cells: the row path without an []any. A row is one call per column, in column order
// (Null, Text, Int, Float, Bool, Time or Value), then EndRow. Each call writes the same bytes as
// Write does for the same Go value; the common pairs (text in a text column, a time in a date or
// timestamp column, ...) are formatted straight into the buffer, so a row costs no allocation,
// and every other pair goes through Write's own rules. Errors are kept until EndRow, which
// returns the first one and then writes nothing of the row.

// next starts the next cell: the separator, and the column it belongs to (nil past the last
// column or after Close; EndRow reports both).
func (w *Writer) next() *column {
	j := w.cell
	w.cell++
	if j == 0 {
		w.rowStart = len(w.buf)
	} else {
		w.buf = append(w.buf, ',')
	}
	if j >= len(w.cols) || w.closed {
		return nil
	}
	return &w.cols[j]
}

// value formats v by Write's rules, keeping the row's first error.
func (w *Writer) value(c *column, v any) {
	out, err := appendValue(w.buf, c, v)
	if err != nil {
		if w.rowErr == nil {
			w.rowErr = fmt.Errorf("render: row %d column %q (%s): %w", w.rows+1, c.name, c.typ, err)
		}
		return
	}
	w.buf = out
}

// Null writes a NULL cell.
func (w *Writer) Null() { w.next() }

// Text writes a text cell; in a column that is not text, s is read as Write reads a string.
func (w *Writer) Text(s string) {
	c := w.next()
	switch {
	case c == nil:
	case c.kind == KindVarchar || c.kind == KindOther:
		w.buf = appendText(w.buf, s)
	default:
		w.value(c, s)
	}
}

// Int writes an integer cell.
func (w *Writer) Int(v int64) {
	c := w.next()
	switch {
	case c == nil:
	case c.kind == KindInteger || c.kind == KindDecimal && c.scale <= 0:
		w.buf = strconv.AppendInt(w.buf, v, 10)
	default:
		w.value(c, v)
	}
}

// Float writes a float64 cell.
func (w *Writer) Float(f float64) {
	c := w.next()
	switch {
	case c == nil:
	case c.kind == KindFloat:
		w.buf = appendFloat(w.buf, f, 64)
	default:
		w.value(c, f)
	}
}

// Bool writes a boolean cell.
func (w *Writer) Bool(v bool) {
	c := w.next()
	switch {
	case c == nil:
	case c.kind == KindBoolean:
		w.buf = strconv.AppendBool(w.buf, v)
	default:
		w.value(c, v)
	}
}

// Time writes a date, time or timestamp cell, formatted by its column's kind.
func (w *Writer) Time(t time.Time) {
	c := w.next()
	if c == nil {
		return
	}
	switch c.kind {
	case KindDate:
		w.buf = appendDate(w.buf, t)
	case KindTimestamp:
		w.buf = appendTimestamp(w.buf, t)
	case KindTimestampTZ:
		w.buf = appendTimestamp(w.buf, t.UTC())
	case KindTimestampUnit:
		w.buf = appendTimestampCast(w.buf, t)
	case KindTime:
		w.buf = appendClock(w.buf, t)
	case KindTimeTZ:
		w.buf = appendOffset(appendClock(w.buf, t), t)
	default:
		w.value(c, t)
	}
}

// Value writes any value Write accepts (nil is NULL).
func (w *Writer) Value(v any) {
	c := w.next()
	if c == nil || v == nil {
		return
	}
	if bs, ok := v.([]byte); ok && bs == nil {
		return
	}
	w.value(c, v)
}

// EndRow finishes the row the cell calls wrote. On an error nothing of the row is written; as
// with Write, a row error leaves the Writer usable and a failing destination fails every call.
func (w *Writer) EndRow() error {
	n, rowErr := w.cell, w.rowErr
	w.cell, w.rowErr = 0, nil
	drop := func(err error) error {
		if n > 0 {
			w.buf = w.buf[:w.rowStart]
		}
		return err
	}
	switch {
	case w.closed:
		return drop(ErrClosed)
	case w.err != nil:
		return drop(w.err)
	case n != len(w.cols):
		return drop(fmt.Errorf("render: row %d: %w: got %d, want %d", w.rows+1, ErrColumnCount, n, len(w.cols)))
	case rowErr != nil:
		return drop(rowErr)
	}
	w.buf = append(w.buf, '\n')
	w.rows++
	if len(w.buf) >= flushSize {
		return w.flush()
	}
	return nil
}
