package render_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/exportd/exportd/internal/render"
)

func gzipped(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestCountRows(t *testing.T) {
	cases := []struct {
		name string
		csv  string
		want int64
	}{
		{"header only", "a,b\n", 0},
		{"one row", "a\n1\n", 1},
		{"empty fields and NULLs", "a,b\n,\n\"\",\n,\"\"\n", 3},
		{"quoted newline", "a,b\n\"x\ny\",1\n2,3\n", 2},
		{"quoted CRLF and CR", "a\n\"x\r\ny\"\n\"\r\"\n", 2},
		{"doubled quotes", "a\n\"say \"\"hi\"\"\n\"\n\"\"\"\"\n", 2},
		{"only newlines quoted", "a\n\"\n\n\n\"\n", 1},
		{"quoted header", "\"a,b\",\"line\nbreak\"\n1,2\n", 1},
		{"comment sign", "a\n\"#\"\n\"#,\"\"\n\"\n", 2},
	}
	for _, c := range cases {
		for _, gz := range []bool{false, true} {
			data := []byte(c.csv)
			if gz {
				data = gzipped(t, c.csv)
			}
			// One byte at a time puts every quote and newline on a read boundary.
			for _, r := range []io.Reader{bytes.NewReader(data), iotest.OneByteReader(bytes.NewReader(data))} {
				got, err := render.CountRows(r, gz)
				if err != nil || got != c.want {
					t.Errorf("%s (gzip=%v): CountRows = %d, %v; want %d", c.name, gz, got, err, c.want)
				}
			}
		}
	}
}

func TestCountRowsMalformed(t *testing.T) {
	for name, csv := range map[string]string{
		"empty":                "",
		"no final newline":     "a\n1",
		"quote left open":      "a\n\"x\n",
		"header without break": "a,b",
	} {
		if _, err := render.CountRows(strings.NewReader(csv), false); !errors.Is(err, render.ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
	if _, err := render.CountRows(strings.NewReader("a\n1\n"), true); err == nil {
		t.Error("plain data read as gzip: want an error")
	}
	good := gzipped(t, "a\n1\n2\n")
	bad := append([]byte(nil), good...)
	bad[len(bad)-5] ^= 0xff // the stored length no longer matches
	if _, err := render.CountRows(bytes.NewReader(bad), true); err == nil {
		t.Error("corrupt gzip trailer: want an error")
	}
	if _, err := render.CountRows(bytes.NewReader(good[:len(good)-3]), true); err == nil {
		t.Error("truncated gzip: want an error")
	}
}

// TestCountRowsLarge counts a big Writer output full of quoted line breaks.
func TestCountRowsLarge(t *testing.T) {
	var out bytes.Buffer
	w, err := render.NewWriter(&out, []render.Column{{Name: "id", Type: "BIGINT"}, {Name: "note", Type: "VARCHAR"}},
		render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	notes := []any{"plain", "two\nlines", "", nil, "cr\r\nlf", `"`, "a,b\n\n", "#"}
	for i := range 300_000 {
		if err := w.Write([]any{int64(i), notes[i%len(notes)]}); err != nil {
			t.Fatal(err)
		}
	}
	st, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	got, err := render.CountRows(bytes.NewReader(out.Bytes()), false)
	if err != nil || got != 300_000 || st.Rows != 300_000 {
		t.Errorf("CountRows = %d, %v; Writer counted %d; want 300000", got, err, st.Rows)
	}
	if lines := bytes.Count(out.Bytes(), []byte("\n")) - 1; int64(lines) == got {
		t.Fatal("test data has no quoted newlines; it proves nothing")
	}
}
