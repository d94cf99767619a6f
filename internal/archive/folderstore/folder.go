// Package folderstore is the archive.Store on a local folder. Writes are
// create-only for real: a temp file is written and fsynced, then linked into
// place with link(2), which fails if the name exists (a plain rename would
// replace it), and the folder is fsynced. Small objects (claims, heads) are
// swapped under an flock(2) so several processes on one host can share a
// folder.
//
// Claims are written without fsync. They coordinate the processes that
// share the folder, which a crash of the host stops all at once; what a
// crash must not lose is what the commit protocol relies on, and every
// write of it stays fsynced: the object before its manifest is written, the
// manifest before the head moves, the head. A claim lost in a crash leaves
// an object without a manifest, which the next run of the unit completes
// (the object's create fails, and the run reads it back), as it completes
// one whose claim survived.
package folderstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/domain"
)

// tmpDir holds in-flight writes; it is never listed.
const tmpDir = ".tmp"

// Store is a folder archive.
type Store struct {
	root  string
	syncs atomic.Int64
}

var _ archive.Store = (*Store)(nil)

// New opens (and creates) a folder archive at root.
func New(root string) (*Store, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(abs, tmpDir), 0o755); err != nil {
		return nil, fmt.Errorf("archive folder %s: %w", abs, err)
	}
	sweepTemps(filepath.Join(abs, tmpDir))
	return &Store{root: abs}, nil
}

// sweepTemps removes the temp files of writers that no longer run (killed
// mid-write). They were never visible; this only reclaims their space.
func sweepTemps(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		pidText, _, ok := strings.Cut(e.Name(), "-")
		pid, err := strconv.Atoi(pidText)
		if !ok || err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		if errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// Syncs counts the fsyncs (files and folders) the store has made: what a
// window of catch-up costs the disk.
func (s *Store) Syncs() int64 { return s.syncs.Load() }

// durable says whether a small object's writes are fsynced: all but claims.
func durable(key string) bool {
	for part := range strings.SplitSeq(key, "/") {
		if part == domain.ClaimsDir {
			return false
		}
	}
	return true
}

// Root is the folder's absolute path.
func (s *Store) Root() string { return s.root }

// Describe implements archive.Store.
func (s *Store) Describe() string { return "file://" + s.root }

func (s *Store) path(key string) (string, error) {
	if err := domain.ValidateKey(key); err != nil {
		return "", err
	}
	if key == tmpDir || strings.HasPrefix(key, tmpDir+"/") {
		return "", fmt.Errorf("%w %q: reserved", domain.ErrBadKey, key)
	}
	return filepath.Join(s.root, filepath.FromSlash(key)), nil
}

func notFound(key string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %w", key, archive.ErrNotFound)
	}
	return err
}

// Stat implements archive.Reader.
func (s *Store) Stat(ctx context.Context, key string) (archive.ObjectInfo, error) {
	p, err := s.path(key)
	if err != nil {
		return archive.ObjectInfo{}, err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return archive.ObjectInfo{}, notFound(key, err)
	}
	if fi.IsDir() {
		return archive.ObjectInfo{}, fmt.Errorf("%s: %w", key, archive.ErrNotFound)
	}
	return archive.ObjectInfo{Key: key, Size: fi.Size(), Modified: fi.ModTime().UTC()}, nil
}

// Get implements archive.Reader.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, archive.ObjectInfo, error) {
	p, err := s.path(key)
	if err != nil {
		return nil, archive.ObjectInfo{}, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, archive.ObjectInfo{}, notFound(key, err)
	}
	fi, err := f.Stat()
	if err != nil || fi.IsDir() {
		f.Close()
		return nil, archive.ObjectInfo{}, fmt.Errorf("%s: %w", key, archive.ErrNotFound)
	}
	return f, archive.ObjectInfo{Key: key, Size: fi.Size(), Modified: fi.ModTime().UTC()}, nil
}

// List implements archive.Reader.
func (s *Store) List(ctx context.Context, prefix string, fn func(archive.ObjectInfo) error) error {
	if err := domain.ValidateListPrefix(prefix); err != nil {
		return err
	}
	// Walk from the deepest folder the prefix names, then filter.
	dir := prefix
	if i := strings.LastIndexByte(dir, '/'); i >= 0 {
		dir = dir[:i]
	} else {
		dir = ""
	}
	start := filepath.Join(s.root, filepath.FromSlash(dir))
	var infos []archive.ObjectInfo
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, _ := filepath.Rel(s.root, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel == tmpDir {
				return fs.SkipDir
			}
			return nil
		}
		// The lock files beside small objects (claims, heads, pause
		// markers, under any destination prefix) are not objects; no key
		// exportd writes ends in ".lock".
		if strings.HasSuffix(rel, ".lock") {
			return nil
		}
		if !strings.HasPrefix(rel, prefix) {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil // removed while walking
		}
		infos = append(infos, archive.ObjectInfo{Key: rel, Size: fi.Size(), Modified: fi.ModTime().UTC()})
		return nil
	})
	if err != nil {
		return err
	}
	sort.Slice(infos, func(i, j int) bool { return infos[i].Key < infos[j].Key })
	for _, oi := range infos {
		if err := fn(oi); err != nil {
			return err
		}
	}
	return nil
}

// writeTemp writes body to a temp file, fsynced if sync, and returns its
// path and size.
func (s *Store) writeTemp(ctx context.Context, body io.Reader, mode os.FileMode, sync bool) (string, int64, error) {
	return s.writeTempFunc(mode, sync, func(w io.Writer) (int64, error) {
		if wt, ok := body.(io.WriterTo); ok {
			// Bytes in memory (manifests, claims): no copy buffer.
			if err := ctx.Err(); err != nil {
				return 0, err
			}
			return wt.WriteTo(w)
		}
		// Large reads: a 1 MiB buffer takes what a producer writes in one
		// go. Buffers are reused: a window of catch-up is a few small
		// writes, and a fresh megabyte for each was most of its garbage.
		buf := copyBuffers.Get().(*[]byte)
		defer copyBuffers.Put(buf)
		return io.CopyBuffer(w, ctxReader{ctx, body}, *buf)
	})
}

var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}

// writeTempFunc lets write fill a temp file, then fsyncs it if sync.
func (s *Store) writeTempFunc(mode os.FileMode, sync bool, write func(w io.Writer) (int64, error)) (string, int64, error) {
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	// The writer's pid in the name lets New sweep what a killed writer left.
	tmp := filepath.Join(s.root, tmpDir, fmt.Sprintf("%d-%s", os.Getpid(), hex.EncodeToString(rnd[:])))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return "", 0, err
	}
	fw := &flushingWriter{f: f}
	n, err := write(fw)
	if err == nil && sync {
		s.syncs.Add(1)
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return "", 0, err
	}
	return tmp, n, nil
}

// flushingWriter starts the write-back of every flushEvery bytes as they
// are written (sync_file_range, asynchronous), so the fsync that makes the
// object durable before it is published has little left to do: the disk
// works while the query still streams, instead of after it.
type flushingWriter struct {
	f       *os.File
	off     int64
	flushed int64
}

const flushEvery = 8 << 20

func (w *flushingWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.off += int64(n)
	if w.off-w.flushed >= flushEvery {
		_ = unix.SyncFileRange(int(w.f.Fd()), w.flushed, w.off-w.flushed, unix.SYNC_FILE_RANGE_WRITE)
		w.flushed = w.off
	}
	return n, err
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func (s *Store) syncDir(dir string) error {
	s.syncs.Add(1)
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// linkInto publishes tmp at p without ever replacing an existing file, and
// fsyncs the folder if sync.
func (s *Store) linkInto(tmp, p string, sync bool) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	err := os.Link(tmp, p)
	os.Remove(tmp)
	if err != nil || !sync {
		return err
	}
	return s.syncDir(filepath.Dir(p))
}

// Put implements archive.Writer: create-only, atomic.
func (s *Store) Put(ctx context.Context, key string, body io.Reader, opts archive.PutOptions) (archive.ObjectInfo, error) {
	return s.put(ctx, key, func() (string, int64, error) { return s.writeTemp(ctx, body, 0o444, true) })
}

var _ archive.StreamPutter = (*Store)(nil)

// PutStream implements archive.StreamPutter: write fills the temp file
// directly (no pipe); the object is published only if it returns nil.
func (s *Store) PutStream(ctx context.Context, key string, opts archive.PutOptions, write func(w io.Writer) error) (archive.ObjectInfo, error) {
	return s.put(ctx, key, func() (string, int64, error) {
		return s.writeTempFunc(0o444, true, func(w io.Writer) (int64, error) {
			cw := &countWriter{w: w}
			err := write(cw)
			if err == nil {
				err = ctx.Err()
			}
			return cw.n, err
		})
	})
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func (s *Store) put(ctx context.Context, key string, fill func() (string, int64, error)) (archive.ObjectInfo, error) {
	p, err := s.path(key)
	if err != nil {
		return archive.ObjectInfo{}, err
	}
	if _, err := os.Lstat(p); err == nil {
		return archive.ObjectInfo{}, fmt.Errorf("%s: %w", key, archive.ErrExists)
	}
	tmp, n, err := fill()
	if err != nil {
		return archive.ObjectInfo{}, fmt.Errorf("write %s: %w", key, err)
	}
	if err := s.linkInto(tmp, p, true); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return archive.ObjectInfo{}, fmt.Errorf("%s: %w", key, archive.ErrExists)
		}
		return archive.ObjectInfo{}, fmt.Errorf("publish %s: %w", key, err)
	}
	return archive.ObjectInfo{Key: key, Size: n}, nil
}

func etagOf(data []byte) string {
	sum := sha256.Sum256(data)
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}

// lock takes an exclusive flock on key's lock file; small-object writes of
// one key are serialised across processes.
func (s *Store) lock(p string) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return nil, err
	}
	lp := p + ".lock"
	for {
		f, err := os.OpenFile(lp, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, err
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			f.Close()
			return nil, err
		}
		// The lock file only coordinates: its holder removes it when done.
		// A lock taken on a file the previous holder removed (or replaced)
		// after we opened it excludes no one, so it is taken again.
		held, herr := f.Stat()
		now, nerr := os.Stat(lp)
		if herr == nil && nerr == nil && os.SameFile(held, now) {
			return func() {
				_ = os.Remove(lp)
				_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				f.Close()
			}, nil
		}
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
		if herr != nil {
			return nil, herr
		}
		if nerr != nil && !errors.Is(nerr, fs.ErrNotExist) {
			return nil, nerr
		}
	}
}

func (s *Store) smallPath(key string) (string, error) {
	p, err := s.path(key)
	if err != nil {
		return "", err
	}
	if strings.HasSuffix(key, ".lock") {
		return "", fmt.Errorf("%w %q: .lock is reserved", domain.ErrBadKey, key)
	}
	return p, nil
}

// Create implements archive.Writer.
func (s *Store) Create(ctx context.Context, key string, data []byte) (string, error) {
	p, err := s.smallPath(key)
	if err != nil {
		return "", err
	}
	unlock, err := s.lock(p)
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := os.Lstat(p); err == nil {
		return "", fmt.Errorf("%s: %w", key, archive.ErrExists)
	}
	tmp, _, err := s.writeTemp(ctx, bytes.NewReader(data), 0o644, durable(key))
	if err != nil {
		return "", err
	}
	if err := s.linkInto(tmp, p, durable(key)); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return "", fmt.Errorf("%s: %w", key, archive.ErrExists)
		}
		return "", err
	}
	return etagOf(data), nil
}

// Replace implements archive.Writer.
func (s *Store) Replace(ctx context.Context, key string, data []byte, ifMatch string) (string, error) {
	p, err := s.smallPath(key)
	if err != nil {
		return "", err
	}
	unlock, err := s.lock(p)
	if err != nil {
		return "", err
	}
	defer unlock()
	cur, err := os.ReadFile(p)
	if err != nil {
		return "", notFound(key, err)
	}
	if etagOf(cur) != ifMatch {
		return "", fmt.Errorf("%s: %w", key, archive.ErrPrecondition)
	}
	tmp, _, err := s.writeTemp(ctx, bytes.NewReader(data), 0o644, durable(key))
	if err != nil {
		return "", err
	}
	// Under the lock a rename is the compare-and-swap's write half.
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return "", err
	}
	if !durable(key) {
		return etagOf(data), nil
	}
	if err := s.syncDir(filepath.Dir(p)); err != nil {
		return "", err
	}
	return etagOf(data), nil
}

// Read implements archive.Writer.
func (s *Store) Read(ctx context.Context, key string) ([]byte, string, error) {
	p, err := s.smallPath(key)
	if err != nil {
		return nil, "", err
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, "", notFound(key, err)
	}
	return data, etagOf(data), nil
}

// Delete implements archive.Writer.
func (s *Store) Delete(ctx context.Context, key string, ifMatch string) error {
	p, err := s.smallPath(key)
	if err != nil {
		return err
	}
	unlock, err := s.lock(p)
	if err != nil {
		return err
	}
	defer unlock()
	cur, err := os.ReadFile(p)
	if err != nil {
		return notFound(key, err)
	}
	if etagOf(cur) != ifMatch {
		return fmt.Errorf("%s: %w", key, archive.ErrPrecondition)
	}
	if err := os.Remove(p); err != nil || !durable(key) {
		return err
	}
	return s.syncDir(filepath.Dir(p))
}
