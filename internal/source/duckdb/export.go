package duckdb

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/exportd/exportd/internal/source"
)

// copyOptions are the CSV rules of source.Source.ExportCSV in DuckDB's words.
// DuckDB prints TIMESTAMPTZ in the session time zone, which Open pins.
const copyOptions = `(FORMAT csv, HEADER true, DELIMITER ',', QUOTE '"', ESCAPE '"', NULLSTR '', ` +
	`DATEFORMAT '%Y-%m-%d', TIMESTAMPFORMAT '%Y-%m-%dT%H:%M:%SZ', USE_TMP_FILE false)`

// drainGrace bounds how long the reader waits for bytes once COPY has
// returned. By then DuckDB has written everything into the pipe (at most one
// pipe buffer is left) and closed its end, so the rest arrives at once; the
// bound only turns "DuckDB kept the pipe open" into an error instead of a hang.
const drainGrace = 10 * time.Second

// ExportCSV runs q with DuckDB's CSV writer (COPY ... TO a named pipe in the
// spool folder) and copies the bytes into w as they come.
//
// The pipe is set up so that none of the usual FIFO traps can bite:
//   - the read end is opened non-blocking before COPY starts, so DuckDB's
//     open for writing never waits and ours never blocks either, whether
//     COPY fails before, during or after opening the pipe;
//   - a second write end held by us keeps the reader from seeing EOF until
//     COPY has returned, so a COPY that fails mid-stream (DuckDB closes the
//     file, which looks like a clean end) is reported with COPY's error, and
//     rows are counted by COPY itself;
//   - on cancellation or a failing w the reader keeps draining (and drops
//     the bytes) while duckdb-go interrupts the query: DuckDB is never left
//     blocked on a full pipe, and the read end is never closed under it.
//
// w should return promptly when ctx ends; ExportCSV waits for a Write in
// progress. The pipe is always removed, and no goroutine outlives the call.
func (s *Source) ExportCSV(ctx context.Context, q source.Query, w io.Writer) (source.Result, error) {
	text, err := s.checkQuery(ctx, q)
	if err != nil {
		return source.Result{}, fmt.Errorf("duckdb source %q: export: %w", s.name, err)
	}
	cols, err := s.describeQuery(ctx, text, q.Args)
	if err != nil {
		return source.Result{}, fmt.Errorf("duckdb source %q: export: describe: %w", s.name, bindError(ctx, err))
	}
	if s.timeZone != "UTC" && s.timeZone != "Etc/UTC" {
		text = timestampsInUTC(text, cols)
	}
	start := time.Now()
	rows, bytes, err := s.copyThroughPipe(ctx, text, q.Args, w)
	if err != nil {
		return source.Result{}, fmt.Errorf("duckdb source %q: export: %w", s.name, err)
	}
	s.log.Debug("export done", zap.Int64("rows", rows), zap.Int64("bytes", bytes), zap.Duration("took", time.Since(start)))
	return source.Result{Rows: rows, Columns: cols}, nil
}

// timestampsInUTC converts the TIMESTAMPTZ columns of a query to UTC
// TIMESTAMPs: COPY prints TIMESTAMPTZ in the session time zone, and the CSV
// rules (and our 'Z' suffix) want UTC.
func timestampsInUTC(text string, cols []source.Column) string {
	var replace []string
	for _, c := range cols {
		if c.Type == "TIMESTAMP WITH TIME ZONE" {
			name := quoteIdent(c.Name)
			replace = append(replace, "timezone('UTC', "+name+") AS "+name)
		}
	}
	if len(replace) == 0 {
		return text
	}
	return "SELECT * REPLACE (" + strings.Join(replace, ", ") + ") FROM (\n" + text + "\n)"
}

// pipeBuffers are the FIFO reader's buffers, reused: an export of a small
// window would otherwise spend more on a fresh buffer than on its rows.
var pipeBuffers = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

type copyOutcome struct {
	rows int64
	err  error
}

func (s *Source) copyThroughPipe(ctx context.Context, text string, args []any, w io.Writer) (rows, written int64, err error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return 0, 0, classify(ctx, err)
	}
	defer conn.Close()

	// rand.Text is base32 ([A-Z2-7]): safe inside a SQL string literal.
	fifo := filepath.Join(s.spool, "export-"+rand.Text()+".fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		return 0, 0, fmt.Errorf("make pipe: %w", &os.PathError{Op: "mkfifo", Path: fifo, Err: err})
	}
	defer os.Remove(fifo)

	rfd, err := syscall.Open(fifo, syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return 0, 0, fmt.Errorf("open pipe: %w", &os.PathError{Op: "open", Path: fifo, Err: err})
	}
	// A non-blocking descriptor becomes a pollable *os.File: Read parks the
	// goroutine instead of a thread, and deadlines work.
	r := os.NewFile(uintptr(rfd), fifo)
	defer r.Close()
	growPipe(rfd) // a hint; the default buffer works too

	// Succeeds at once because a reader exists.
	holdFD, err := syscall.Open(fifo, syscall.O_WRONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return 0, 0, fmt.Errorf("open pipe: %w", &os.PathError{Op: "open", Path: fifo, Err: err})
	}

	copyCtx, cancelCopy := context.WithCancel(ctx)
	defer cancelCopy()
	done := make(chan copyOutcome, 1)
	var copyReturned atomic.Bool
	stmt := "COPY (\n" + text + "\n) TO " + quoteLiteral(fifo) + " " + copyOptions
	go func() {
		var out copyOutcome
		res, err := conn.ExecContext(copyCtx, stmt, args...)
		if err == nil {
			out.rows, err = res.RowsAffected()
		}
		out.err = err
		// DuckDB has closed its end by now; dropping ours lets the reader
		// reach EOF once the pipe is empty.
		_ = syscall.Close(holdFD)
		copyReturned.Store(true)
		_ = r.SetReadDeadline(time.Now().Add(drainGrace))
		done <- out
	}()

	var writeErr, readErr error
	bufp := pipeBuffers.Get().(*[]byte)
	defer pipeBuffers.Put(bufp)
	buf := *bufp
	for {
		if copyReturned.Load() {
			_ = r.SetReadDeadline(time.Now().Add(drainGrace))
		}
		n, err := r.Read(buf)
		if n > 0 && writeErr == nil && ctx.Err() == nil {
			m, werr := w.Write(buf[:n])
			written += int64(m)
			if werr == nil && m < n {
				werr = io.ErrShortWrite
			}
			if werr != nil {
				writeErr = werr
				cancelCopy() // keep draining until COPY notices
			}
		}
		if err == nil {
			continue
		}
		if !errors.Is(err, io.EOF) {
			readErr = err
			if !copyReturned.Load() {
				// Not expected from a pipe. Stop COPY and close our end so
				// that a write DuckDB is blocked in fails with EPIPE.
				cancelCopy()
				_ = r.Close()
			}
		}
		break
	}
	out := <-done

	switch {
	case ctx.Err() != nil:
		if out.err != nil {
			return 0, written, fmt.Errorf("copy: %w (%v)", ctx.Err(), out.err)
		}
		return 0, written, fmt.Errorf("copy: %w", ctx.Err())
	case writeErr != nil:
		return 0, written, fmt.Errorf("write csv: %w", writeErr)
	case out.err != nil:
		return 0, written, fmt.Errorf("copy: %w", classify(ctx, out.err))
	case readErr != nil:
		return 0, written, fmt.Errorf("read pipe: %w", readErr)
	}
	return out.rows, written, nil
}
