package export_test

import (
	"context"
	"testing"

	"github.com/exportd/exportd/internal/export"
)

type progressLog struct{ rows, bytes []int64 }

func (p *progressLog) Update(rows, bytes int64) {
	p.rows = append(p.rows, rows)
	p.bytes = append(p.bytes, bytes)
}

// TestProgressReportsTheStreamsRowsAndBytes: an export run with a Progress
// reports rows and stored bytes that only grow and end at the manifest's
// figures (a newline inside a quoted field is not a row; with gzip the
// bytes are the compressed ones), and the object is byte for byte the one
// an export without a Progress writes.
func TestProgressReportsTheStreamsRowsAndBytes(t *testing.T) {
	cols := "ts, name || chr(10) || '\"quoted\"' AS name, n"
	for _, gz := range []bool{false, true} {
		plain, _ := newJob(t, cols)
		plain.Gzip = gz
		want, err := plain.Run(context.Background(), unit(day), 1)
		if err != nil {
			t.Fatal(err)
		}

		j, _ := newJob(t, cols)
		j.Gzip = gz
		var p progressLog
		res, err := j.Run(export.WithProgress(context.Background(), &p), unit(day), 1)
		if err != nil {
			t.Fatal(err)
		}
		o := res.Object
		if o.Rows != 3 || o.SHA256 != want.Object.SHA256 || o.Bytes != want.Object.Bytes {
			t.Fatalf("gzip %v: object with progress %d rows %d bytes %s, without %d rows %d bytes %s",
				gz, o.Rows, o.Bytes, o.SHA256, want.Object.Rows, want.Object.Bytes, want.Object.SHA256)
		}
		n := len(p.rows)
		if n == 0 {
			t.Fatalf("gzip %v: no progress reported", gz)
		}
		for i := 1; i < n; i++ {
			if p.rows[i] < p.rows[i-1] || p.bytes[i] < p.bytes[i-1] {
				t.Fatalf("gzip %v: progress went back at update %d: rows %v bytes %v", gz, i, p.rows, p.bytes)
			}
		}
		if p.rows[n-1] != o.Rows || p.bytes[n-1] != o.Bytes {
			t.Errorf("gzip %v: last progress %d rows %d bytes, manifest %d rows %d bytes", gz, p.rows[n-1], p.bytes[n-1], o.Rows, o.Bytes)
		}
	}
}
