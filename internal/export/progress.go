package export

import (
	"bytes"
	"context"
	"io"
	"sync/atomic"
)

// Progress sees a streamed export advance: the CSV's data rows so far
// (header excluded) and the bytes stored so far (after gzip when the
// schedule compresses). Update is called from the export's goroutine after
// each write; it must return quickly (a terminal display redraws on its
// own clock). Warehouse unloads report nothing: their rows never pass
// through exportd.
type Progress interface {
	Update(rows, bytes int64)
}

type progressKey struct{}

// WithProgress returns a context whose exports report to p. Without it an
// export wraps nothing and counts nothing.
func WithProgress(ctx context.Context, p Progress) context.Context {
	return context.WithValue(ctx, progressKey{}, p)
}

func progressFrom(ctx context.Context) Progress {
	p, _ := ctx.Value(progressKey{}).(Progress)
	return p
}

// progressCounter counts the rows of the CSV stream (before compression)
// and the bytes of the stored stream, and reports both.
type progressCounter struct {
	p       Progress
	records atomic.Int64 // newlines ending a record, the header's included
	stored  atomic.Int64
	inQuote bool
}

func newProgressCounter(ctx context.Context) *progressCounter {
	p := progressFrom(ctx)
	if p == nil {
		return nil
	}
	return &progressCounter{p: p}
}

// wrapStore wraps the writer the stored bytes go to (a nil counter: w).
func (c *progressCounter) wrapStore(w io.Writer) io.Writer {
	if c == nil {
		return w
	}
	return storeCounter{c, w}
}

// tee adds the row counter beside the CSV's writer (a nil counter: w).
func (c *progressCounter) tee(w io.Writer) io.Writer {
	if c == nil {
		return w
	}
	return io.MultiWriter(w, csvCounter{c})
}

func (c *progressCounter) report() {
	rows := c.records.Load() - 1
	if rows < 0 {
		rows = 0
	}
	c.p.Update(rows, c.stored.Load())
}

// csvCounter counts the records of the CSV bytes as render.CountRows does
// (a newline inside a quoted field does not end one; a doubled quote
// toggles twice).
type csvCounter struct{ c *progressCounter }

func (w csvCounter) Write(p []byte) (int, error) {
	c := w.c
	var n int64
	chunk := p
	for len(chunk) > 0 {
		if c.inQuote {
			i := bytes.IndexByte(chunk, '"')
			if i < 0 {
				break
			}
			c.inQuote = false
			chunk = chunk[i+1:]
			continue
		}
		q := bytes.IndexByte(chunk, '"')
		if q < 0 {
			n += int64(bytes.Count(chunk, []byte{'\n'}))
			break
		}
		n += int64(bytes.Count(chunk[:q], []byte{'\n'}))
		c.inQuote = true
		chunk = chunk[q+1:]
	}
	c.records.Add(n)
	c.report()
	return len(p), nil
}

type storeCounter struct {
	c *progressCounter
	w io.Writer
}

func (w storeCounter) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	w.c.stored.Add(int64(n))
	w.c.report()
	return n, err
}
