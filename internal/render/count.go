package render

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
)

var newline = []byte{'\n'}

// CountRows counts the data records (header excluded) of a CSV written by this package or by
// DuckDB's COPY with the same options, reading it as a stream; gz says it is gzipped. A newline
// inside a quoted field does not end a record. It is meant to re-verify an archived object, so
// anything those writers never produce is an ErrMalformed error: no header, a quote left open,
// a last record without its newline.
func CountRows(r io.Reader, gz bool) (int64, error) {
	if gz {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return 0, fmt.Errorf("render: count rows: %w", err)
		}
		defer zr.Close()
		r = zr
	}
	var (
		buf      = make([]byte, 256<<10)
		records  int64 // newlines that end a record, the header's included
		inQuote  bool
		lastByte byte
		total    int64
	)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			chunk := buf[:n]
			total += int64(n)
			lastByte = chunk[n-1]
			for len(chunk) > 0 {
				if inQuote {
					i := bytes.IndexByte(chunk, '"')
					if i < 0 {
						break
					}
					// A doubled quote closes and reopens: toggling twice is right.
					inQuote = false
					chunk = chunk[i+1:]
					continue
				}
				// Outside quotes every newline ends a record; count them up to the next quote at
				// memchr speed instead of looking at each byte.
				q := bytes.IndexByte(chunk, '"')
				if q < 0 {
					records += int64(bytes.Count(chunk, newline))
					break
				}
				records += int64(bytes.Count(chunk[:q], newline))
				inQuote = true
				chunk = chunk[q+1:]
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("render: count rows: %w", err)
		}
	}
	switch {
	case total == 0:
		return 0, fmt.Errorf("render: count rows: %w: empty, no header", ErrMalformed)
	case inQuote:
		return 0, fmt.Errorf("render: count rows: %w: quoted field not closed at end", ErrMalformed)
	case lastByte != '\n':
		return 0, fmt.Errorf("render: count rows: %w: last record has no newline", ErrMalformed)
	}
	return records - 1, nil
}
