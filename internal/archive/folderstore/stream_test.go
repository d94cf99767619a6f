package folderstore_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/archive/folderstore"
)

// PutStream has Put's guarantees: a failing writer leaves nothing, an
// existing key is never replaced.
func TestPutStream(t *testing.T) {
	dir := t.TempDir()
	st, err := folderstore.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	boom := errors.New("query failed mid-stream")
	_, err = st.PutStream(ctx, "a/b.csv", archive.PutOptions{}, func(w io.Writer) error {
		io.WriteString(w, "half,a,row\n")
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("failing writer: %v", err)
	}
	if _, err := st.Stat(ctx, "a/b.csv"); !errors.Is(err, archive.ErrNotFound) {
		t.Fatalf("after a failed stream: %v", err)
	}
	if temps, _ := os.ReadDir(filepath.Join(dir, ".tmp")); len(temps) != 0 {
		t.Fatalf("temp files left: %v", temps)
	}
	info, err := st.PutStream(ctx, "a/b.csv", archive.PutOptions{}, func(w io.Writer) error {
		_, err := io.WriteString(w, "x,y\n1,2\n")
		return err
	})
	if err != nil || info.Size != 8 {
		t.Fatalf("put: %+v %v", info, err)
	}
	_, err = st.PutStream(ctx, "a/b.csv", archive.PutOptions{}, func(w io.Writer) error {
		_, err := io.WriteString(w, "other\n")
		return err
	})
	if !errors.Is(err, archive.ErrExists) {
		t.Fatalf("second put: %v, want ErrExists", err)
	}
	rc, _, err := st.Get(ctx, "a/b.csv")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !strings.HasPrefix(string(got), "x,y") {
		t.Fatalf("content replaced: %q", got)
	}
}
