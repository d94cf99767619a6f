package audit

import (
	"archive/zip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/domain"
)

// zipReader is a read-only archive store over a zip bundle: verify, ls,
// fetch and query read its entries in place, nothing is unpacked to disk.
// Entries are stored (not compressed) and read raw, so that a changed byte
// is a changed object (caught by its sha256 and named) rather than a zip
// checksum error that would stop the verification.
type zipReader struct {
	zr    *zip.Reader
	files map[string]*zip.File
	names []string // sorted entry names, folders left out
}

func newZipReader(zr *zip.Reader) (*zipReader, error) {
	z := &zipReader{zr: zr, files: map[string]*zip.File{}}
	for _, f := range zr.File {
		if strings.HasSuffix(f.Name, "/") {
			continue
		}
		if err := domain.ValidateKey(f.Name); err != nil {
			return nil, fmt.Errorf("zip entry %q: %w", f.Name, err)
		}
		if _, dup := z.files[f.Name]; dup {
			return nil, fmt.Errorf("zip entry %q appears twice: not a bundle exportd wrote", f.Name)
		}
		z.files[f.Name] = f
		z.names = append(z.names, f.Name)
	}
	slices.Sort(z.names)
	return z, nil
}

func (z *zipReader) info(f *zip.File) archive.ObjectInfo {
	return archive.ObjectInfo{Key: f.Name, Size: int64(f.UncompressedSize64), ETag: fmt.Sprintf("%08x", f.CRC32), Modified: f.Modified}
}

func (z *zipReader) Stat(_ context.Context, key string) (archive.ObjectInfo, error) {
	f, ok := z.files[key]
	if !ok {
		return archive.ObjectInfo{}, fmt.Errorf("%s: %w", key, archive.ErrNotFound)
	}
	return z.info(f), nil
}

func (z *zipReader) Get(_ context.Context, key string) (io.ReadCloser, archive.ObjectInfo, error) {
	f, ok := z.files[key]
	if !ok {
		return nil, archive.ObjectInfo{}, fmt.Errorf("%s: %w", key, archive.ErrNotFound)
	}
	if f.Method == zip.Store {
		r, err := f.OpenRaw()
		if err != nil {
			return nil, archive.ObjectInfo{}, fmt.Errorf("zip entry %s: %w", key, err)
		}
		return io.NopCloser(r), z.info(f), nil
	}
	rc, err := f.Open()
	if err != nil {
		return nil, archive.ObjectInfo{}, fmt.Errorf("zip entry %s: %w", key, err)
	}
	return rc, z.info(f), nil
}

func (z *zipReader) List(ctx context.Context, prefix string, fn func(archive.ObjectInfo) error) error {
	i, _ := slices.BinarySearch(z.names, prefix)
	for ; i < len(z.names) && strings.HasPrefix(z.names[i], prefix); i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(z.info(z.files[z.names[i]])); err != nil {
			return err
		}
	}
	return nil
}

// prefixes are the destination prefixes of the archive in the zip: the
// folders holding exportd's records, as findPrefixes finds them in a
// folder.
func (z *zipReader) prefixes() []string {
	marks := []string{domain.DefinitionsDir, domain.HeadDir, archive.DailyDir, domain.DigestsDir}
	seen := map[string]bool{}
	for _, n := range z.names {
		parts := strings.Split(n, "/")
		for i, p := range parts[:len(parts)-1] {
			if i > 4 || strings.HasPrefix(p, "dt=") || strings.HasPrefix(p, ".") {
				break
			}
			if slices.Contains(marks, p) {
				seen[strings.Join(parts[:i], "/")] = true
				break
			}
		}
	}
	var out []string
	for p := range seen {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// bundleInfo reads the bundle's description; ok is false for a zip that
// is not a bundle.
func (z *zipReader) bundleInfo() (BundleInfo, bool, error) {
	if _, ok := z.files[BundleFile]; !ok {
		return BundleInfo{}, false, nil
	}
	rc, _, err := z.Get(context.Background(), BundleFile)
	if err != nil {
		return BundleInfo{}, false, fmt.Errorf("%s: %w", BundleFile, err)
	}
	defer rc.Close()
	var b BundleInfo
	if err := json.NewDecoder(io.LimitReader(rc, 1<<20)).Decode(&b); err != nil {
		return BundleInfo{}, false, fmt.Errorf("%s: %w", BundleFile, err)
	}
	return b, true, nil
}
