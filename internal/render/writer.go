package render

import (
	"errors"
	"fmt"
	"io"
)

// flushSize is how much rendered CSV collects before it goes to the Sink: large enough that
// gzip and sha256 work on big blocks, small enough that memory stays flat however many rows.
const flushSize = 64 << 10

// Writer renders rows as CSV into a Sink, formatting each value by its column's Kind so that the
// bytes equal DuckDB's COPY output for the same rows. A Writer is not safe for concurrent use.
type Writer struct {
	sink   *Sink
	cols   []column
	buf    []byte
	rows   int64
	err    error // sticky: the destination failed
	closed bool
	stats  Stats

	// the row the typed cell calls are writing (cells.go)
	cell     int   // cells written so far
	rowStart int   // where the row starts in buf
	rowErr   error // its first error
}

// NewWriter starts a CSV with a header row of the columns' names. Column types are matched with
// KindOf; a DECIMAL type with unreadable parameters is an error, naming every bad column.
func NewWriter(dst io.Writer, cols []Column, opts Options) (*Writer, error) {
	if len(cols) == 0 {
		return nil, errors.New("render: new writer: no columns")
	}
	w := &Writer{
		sink: NewSink(dst, opts),
		cols: make([]column, len(cols)),
		buf:  make([]byte, 0, flushSize+flushSize/4),
	}
	var errs []error
	for i, c := range cols {
		col := column{name: c.Name, typ: c.Type, kind: KindOf(c.Type), width: -1, scale: -1}
		if col.kind == KindDecimal {
			var err error
			if col.width, col.scale, err = decimalShape(c.Type); err != nil {
				errs = append(errs, fmt.Errorf("column %d %q: %w", i+1, c.Name, err))
			}
		}
		w.cols[i] = col
		if i > 0 {
			w.buf = append(w.buf, ',')
		}
		w.buf = appendText(w.buf, c.Name)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("render: new writer: %w", errors.Join(errs...))
	}
	w.buf = append(w.buf, '\n')
	return w, nil
}

// Write renders one row; row[i] is the value of column i as a database/sql driver returns it
// (nil, a nil []byte or *big.Int, or a driver.Valuer whose Value is nil, is NULL). A row that cannot be rendered is not written at all and the error names the row
// and column; the Writer stays usable. A failing destination fails this and every later call.
func (w *Writer) Write(row []any) error {
	if w.closed {
		return ErrClosed
	}
	if w.err != nil {
		return w.err
	}
	if len(row) != len(w.cols) {
		return fmt.Errorf("render: row %d: %w: got %d, want %d", w.rows+1, ErrColumnCount, len(row), len(w.cols))
	}
	start := len(w.buf)
	for i, v := range row {
		if i > 0 {
			w.buf = append(w.buf, ',')
		}
		if v == nil {
			continue
		}
		if bs, ok := v.([]byte); ok && bs == nil {
			continue // database/sql's convention: a nil []byte is NULL, []byte{} is empty
		}
		var err error
		if w.buf, err = appendValue(w.buf, &w.cols[i], v); err != nil {
			w.buf = w.buf[:start]
			c := &w.cols[i]
			return fmt.Errorf("render: row %d column %q (%s): %w", w.rows+1, c.name, c.typ, err)
		}
	}
	w.buf = append(w.buf, '\n')
	w.rows++
	if len(w.buf) >= flushSize {
		return w.flush()
	}
	return nil
}

func (w *Writer) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	_, err := w.sink.Write(w.buf)
	w.buf = w.buf[:0]
	if err != nil {
		w.err = err
	}
	return err
}

// Close writes what is buffered, finishes gzip and returns the Stats of the whole object. It does
// not close dst. Calling it again returns the same result.
func (w *Writer) Close() (Stats, error) {
	if w.closed {
		return w.stats, w.err
	}
	w.closed = true
	if w.err == nil {
		w.err = w.flush()
	}
	if err := w.sink.Close(); err != nil && w.err == nil {
		w.err = err
	}
	w.stats = w.sink.Stats()
	w.stats.Rows = w.rows
	return w.stats, w.err
}
