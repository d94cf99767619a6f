package export

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/domain"
	"github.com/exportd/exportd/internal/render"
)

// Warehouse-side unload: the warehouse writes the unit's CSV to the bucket
// itself (Snowflake COPY INTO <location> through a storage integration), so
// the rows never pass through exportd on their way out. COPY INTO is not a
// conditional create, so it writes to a staging key of this attempt, under
// the unit's claim, and exportd then
//
//  1. records the pending manifest (final keys, DETAILED_OUTPUT) in the claim,
//  2. reads each staging file back through its own S3 client (sha256, rows)
//     and checks its rows against DETAILED_OUTPUT: a mismatch fails the run
//     with nothing at a final key,
//  3. copies each staging file to its final key, create-only and unlocked,
//     hashing it again on the way (it must not have changed),
//  4. applies Object Lock retention to the final objects,
//  5. commits the manifest, as every run does,
//
// and removes the staging objects with all their versions: its own
// attempt's when it fails, every attempt's once the unit is committed. A
// run that dies after 3 is completed by the next run of the unit through
// the claim's pending manifest (repair), which checks the counts and applies
// the retention too; one that dies before 3 leaves only staging objects: the
// next run unloads again and removes them when it commits.

// Unloader is a warehouse that writes a statement's result to the bucket
// itself. The statement comes from Unload.Statement; tag labels it in the
// warehouse's query history.
type Unloader interface {
	Unload(ctx context.Context, statement, tag string) (queryID string, files []archive.UnloadedFile, err error)
}

// UnloadStore is what an unload needs of the archive's store besides
// archive.Store (s3store.Store has it).
type UnloadStore interface {
	// Location is the s3:// URL of key.
	Location(key string) string
	// SetRetention locks key until the given time (a no-op without Object
	// Lock).
	SetRetention(ctx context.Context, key string, until time.Time) error
	// DeleteVersions removes every version of the keys under prefix (or of
	// the key prefix alone when exact).
	DeleteVersions(ctx context.Context, prefix string, exact bool) (int, error)
}

// Unload configures a job whose units the warehouse unloads.
type Unload struct {
	Warehouse Unloader
	// Integration is the warehouse's storage integration (for the manifest).
	Integration string
	// Statement writes the COPY INTO statement for unit u into location
	// (a file when parts is false, else a prefix for several files).
	Statement func(u domain.Unit, location string, parts bool) (string, error)
	// TooLarge reports an unload error that means the result does not fit
	// in one file; the unit is then unloaded again as several parts.
	TooLarge func(error) bool
}

// ErrUnloadCount is returned when an unloaded file's rows differ from the
// warehouse's DETAILED_OUTPUT.
var ErrUnloadCount = errors.New("unloaded rows differ from the warehouse's count")

// stagingPrefix is where the unit's unload attempts write, under its claim.
func stagingPrefix(c *archive.Claim) string { return c.Key() + ".unload/" }

// partKey is the final key of part i (from 1) of an unload in parts.
func (j *Job) partKey(key string, i int) string {
	ext := j.Layout.Ext
	return strings.TrimSuffix(key, ext) + fmt.Sprintf(".part%04d", i) + ext
}

func (j *Job) unloadStore() (UnloadStore, error) {
	us, ok := j.Archive.Store.(UnloadStore)
	if !ok {
		return nil, fmt.Errorf("export %q: unload: warehouse needs an s3 destination; %s cannot take it", j.Name, j.Archive.Store.Describe())
	}
	return us, nil
}

// cleanStaging removes every staging object of the unit (all attempts,
// all versions) once it is committed: then no other run can be using them.
// A run that fails removes only its own attempt's (see unload); what a
// dead run left waits for the commit. It runs at the end of every run of an
// unload job, on a fresh context: the run's may be cancelled.
func (j *Job) cleanStaging(ctx context.Context, claim *archive.Claim, committed bool, log *zap.Logger) {
	if committed {
		j.removeStaging(ctx, stagingPrefix(claim), log)
	}
}

func (j *Job) removeStaging(ctx context.Context, prefix string, log *zap.Logger) {
	us, err := j.unloadStore()
	if err != nil {
		return
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	n, err := us.DeleteVersions(cctx, prefix, false)
	if err != nil {
		log.Warn("remove unload staging objects; the unit's next commit retries", zap.String("prefix", prefix), zap.Error(err))
		return
	}
	if n > 0 {
		log.Debug("removed unload staging objects", zap.String("prefix", prefix), zap.Int("versions", n))
	}
}

// unload runs steps 1 to 5 for unit u; m is the pending manifest with the
// single final object already recorded.
func (j *Job) unload(ctx context.Context, claim *archive.Claim, m *archive.Manifest, u domain.Unit, attempt int, start time.Time,
	committed *bool, res Result, log *zap.Logger) (Result, error) {
	us, err := j.unloadStore()
	if err != nil {
		return res, err
	}
	var token [6]byte
	_, _ = rand.Read(token[:])
	dir := stagingPrefix(claim) + fmt.Sprintf("a%d-%s/", attempt, hex.EncodeToString(token[:]))
	tag := "exportd:" + j.Name + ":" + u.ID()
	defer func() {
		if !*committed {
			j.removeStaging(ctx, dir, log)
		}
	}()

	parts := false
	stmt, err := j.Unload.Statement(u, us.Location(dir+"data"+j.Layout.Ext), false)
	if err != nil {
		return res, fmt.Errorf("export %q: unload statement: %w", j.Name, err)
	}
	qid, files, err := j.Unload.Warehouse.Unload(ctx, stmt, tag)
	if err != nil && j.Unload.TooLarge != nil && j.Unload.TooLarge(err) {
		log.Info("result too large for one file; unloading it in parts", zap.Error(err))
		parts = true
		if stmt, err = j.Unload.Statement(u, us.Location(dir+"part"), true); err != nil {
			return res, fmt.Errorf("export %q: unload statement: %w", j.Name, err)
		}
		qid, files, err = j.Unload.Warehouse.Unload(ctx, stmt, tag)
	}
	if err != nil {
		return res, fmt.Errorf("export %q: unload: %w", j.Name, err)
	}
	if len(files) == 0 {
		return res, fmt.Errorf("export %q: unload wrote no file (query ID %s)", j.Name, qid)
	}
	staged, err := j.matchStaged(ctx, dir, files)
	if err != nil {
		return res, fmt.Errorf("export %q: unload (query ID %s): %w", j.Name, qid, err)
	}

	// 1. The pending manifest names every final key and the warehouse's
	// counts, so that a run dying from here on is completed by the next.
	base := m.Objects[0]
	m.Objects = nil
	for i := range files {
		o := base
		if parts {
			o.Key = j.partKey(base.Key, i+1)
			if err := domain.ValidateKey(o.Key); err != nil {
				return res, fmt.Errorf("export %q: %w", j.Name, err)
			}
		}
		m.Objects = append(m.Objects, o)
	}
	m.Unload = &archive.Unload{Method: "warehouse", StorageIntegration: j.Unload.Integration, Statement: stmt,
		QueryID: qid, Parts: parts, Files: files}
	m.Query.QueryID, res.QueryID = qid, qid
	if err := claim.Record(ctx, m); err != nil {
		return res, err
	}

	// 2: each file is read back and its rows checked against
	// DETAILED_OUTPUT before it goes anywhere near a final key.
	checked := make([]render.Stats, len(files))
	for i, key := range staged {
		rc, _, err := j.Archive.Store.Get(ctx, key)
		if err != nil {
			return res, fmt.Errorf("export %q: read back staging %s: %w", j.Name, key, err)
		}
		st, rows, err := readBack(rc, m.Objects[i].ContentEncoding == "gzip")
		rc.Close()
		if err != nil {
			return res, fmt.Errorf("export %q: read back staging %s: %w", j.Name, key, err)
		}
		if rows != files[i].Rows {
			return res, fmt.Errorf("export %q: %w: %s has %d rows, DETAILED_OUTPUT says %d (query ID %s); nothing was archived",
				j.Name, ErrUnloadCount, files[i].Name, rows, files[i].Rows, qid)
		}
		checked[i] = st
	}
	// 3: promote, create-only and unlocked, hashing again what is copied.
	for i := range m.Objects {
		o := &m.Objects[i]
		info, st, rows, err := j.promote(ctx, staged[i], *o)
		if errors.Is(err, archive.ErrExists) {
			log.Warn("unloaded object exists without a manifest: completing the interrupted run", zap.String("key", o.Key))
			r, ok, rerr := j.repair(ctx, claim, m, attempt, start, log)
			if rerr != nil {
				return res, rerr
			}
			if ok {
				*committed = true
				return r, nil
			}
			return res, fmt.Errorf("export %q: object %s exists but the unit's other objects are missing", j.Name, o.Key)
		}
		if err == nil && (rows != files[i].Rows || st.SHA256 != checked[i].SHA256) {
			err = fmt.Errorf("staging %s changed while it was promoted to %s", staged[i], o.Key)
		}
		if err != nil {
			j.removeUnlocked(ctx, us, m.Objects[:i+1], log)
			return res, fmt.Errorf("export %q: %w", j.Name, err)
		}
		o.Bytes, o.SHA256, o.Rows, o.StoreChecksums = st.Bytes, st.SHA256, rows, info.Checksums
	}
	// 4.
	if err := j.retainUnloaded(ctx, us, m, u); err != nil {
		return res, err
	}
	// 5.
	res.Object = &m.Objects[0]
	return j.commit(ctx, claim, m, u, committed, res, log)
}

// matchStaged pairs each DETAILED_OUTPUT file with its staging key: the
// FILE_NAME is relative to the location, which may or may not include the
// staging folder's name, so the folder is listed and matched by suffix.
func (j *Job) matchStaged(ctx context.Context, dir string, files []archive.UnloadedFile) ([]string, error) {
	var keys []string
	err := j.Archive.Store.List(ctx, dir, func(oi archive.ObjectInfo) error {
		keys = append(keys, oi.Key)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list staging %s: %w", dir, err)
	}
	out := make([]string, len(files))
	used := map[string]bool{}
	for i, f := range files {
		name := strings.TrimPrefix(path.Clean("/"+f.Name), "/")
		for _, k := range keys {
			rel := strings.TrimPrefix(k, dir)
			if !used[k] && (rel == name || strings.HasSuffix(name, "/"+rel) || strings.HasSuffix(k, "/"+name)) {
				out[i], used[k] = k, true
				break
			}
		}
		if out[i] == "" {
			return nil, fmt.Errorf("the warehouse reported %s but it is not under %s (found %v)", f.Name, dir, keys)
		}
	}
	// Parts in the warehouse's file order: its names with their numbers
	// compared as numbers (data_0_0_2 before data_0_0_10).
	idx := make([]int, len(files))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return naturalLess(out[idx[a]], out[idx[b]]) })
	sortedKeys := make([]string, len(files))
	sortedFiles := make([]archive.UnloadedFile, len(files))
	for n, i := range idx {
		sortedKeys[n], sortedFiles[n] = out[i], files[i]
	}
	copy(out, sortedKeys)
	copy(files, sortedFiles)
	return out, nil
}

// promote copies the staging object to obj.Key create-only, unlocked,
// hashing and counting the bytes it reads through the store.
func (j *Job) promote(ctx context.Context, staged string, obj archive.Object) (archive.ObjectInfo, render.Stats, int64, error) {
	rc, _, err := j.Archive.Store.Get(ctx, staged)
	if err != nil {
		return archive.ObjectInfo{}, render.Stats{}, 0, fmt.Errorf("read staging %s: %w", staged, err)
	}
	defer rc.Close()
	pr, pw := io.Pipe()
	type counted struct {
		st   render.Stats
		rows int64
		err  error
	}
	done := make(chan counted, 1)
	go func() {
		st, rows, err := readBack(pr, obj.ContentEncoding == "gzip")
		pr.CloseWithError(err)
		done <- counted{st, rows, err}
	}()
	opts := archive.PutOptions{ContentType: obj.ContentType, ContentEncoding: obj.ContentEncoding}
	info, err := j.Archive.Store.Put(ctx, obj.Key, io.TeeReader(rc, pw), opts)
	pw.CloseWithError(err)
	c := <-done
	if err != nil {
		if errors.Is(err, archive.ErrExists) {
			return info, render.Stats{}, 0, err
		}
		return info, render.Stats{}, 0, fmt.Errorf("promote %s to %s: %w", staged, obj.Key, err)
	}
	if c.err != nil {
		return info, render.Stats{}, 0, fmt.Errorf("read back %s: %w", staged, c.err)
	}
	return info, c.st, c.rows, nil
}

// removeUnlocked deletes final objects this run created before they were
// locked (a staging file that changed while it was copied): nothing
// partial stays archived.
func (j *Job) removeUnlocked(ctx context.Context, us UnloadStore, objs []archive.Object, log *zap.Logger) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	for _, o := range objs {
		if _, err := us.DeleteVersions(cctx, o.Key, true); err != nil {
			log.Error("remove an unlocked unloaded object after a failed check; delete it by hand", zap.String("key", o.Key), zap.Error(err))
		}
	}
}

// retainUnloaded applies the job's retention to every object of m.
func (j *Job) retainUnloaded(ctx context.Context, us UnloadStore, m *archive.Manifest, u domain.Unit) error {
	if j.Retain <= 0 {
		return nil
	}
	until := j.putOptions(u, "", "").RetainUntil
	for _, o := range m.Objects {
		if err := us.SetRetention(ctx, o.Key, until); err != nil {
			return fmt.Errorf("export %q: %w", j.Name, err)
		}
	}
	return nil
}

// repairUnloaded completes steps 3 and 4 for a run that died after
// promoting: the counts read back must match the recorded DETAILED_OUTPUT,
// and the objects get their retention. On a mismatch the objects (not yet
// locked: retention comes after the check) are removed and restart is true:
// the unit is unloaded again.
func (j *Job) repairUnloaded(ctx context.Context, m *archive.Manifest, log *zap.Logger) (restart bool, err error) {
	if j.Unload == nil || m.Unload == nil {
		return false, nil
	}
	for i, o := range m.Objects {
		if i < len(m.Unload.Files) && o.Rows != m.Unload.Files[i].Rows {
			log.Error("an interrupted unload left an object whose rows differ from DETAILED_OUTPUT; removing it and unloading again",
				zap.String("key", o.Key), zap.Int64("rows", o.Rows), zap.Int64("detailed_output_rows", m.Unload.Files[i].Rows),
				zap.String("query_id", m.Unload.QueryID))
			j.restartUnload(ctx, m, log)
			return true, nil
		}
	}
	us, err := j.unloadStore()
	if err != nil {
		return false, err
	}
	u := domain.Unit{Schedule: m.Schedule, Logical: m.LogicalTime, Adhoc: m.Adhoc}
	if m.Window != nil {
		u.Window = *m.Window
	}
	return false, j.retainUnloaded(ctx, us, m, u)
}

// restartUnload removes the final objects of an interrupted unload that
// cannot be completed (a part missing, a count wrong), so that the unit is
// unloaded again. They are unlocked: retention is applied only once every
// part was promoted and checked.
func (j *Job) restartUnload(ctx context.Context, pending *archive.Manifest, log *zap.Logger) {
	if j.Unload == nil || pending.Unload == nil {
		return
	}
	us, err := j.unloadStore()
	if err != nil {
		return
	}
	j.removeUnlocked(ctx, us, pending.Objects, log)
}

// UnloaderFunc adapts a function to Unloader.
type UnloaderFunc func(ctx context.Context, statement, tag string) (string, []archive.UnloadedFile, error)

// Unload calls f.
func (f UnloaderFunc) Unload(ctx context.Context, statement, tag string) (string, []archive.UnloadedFile, error) {
	return f(ctx, statement, tag)
}

// naturalLess orders strings with their digit runs compared as numbers.
func naturalLess(a, b string) bool {
	for a != "" && b != "" {
		da, db := digitRun(a), digitRun(b)
		if da > 0 && db > 0 {
			na, nb := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if len(na) != len(nb) {
				return len(na) < len(nb)
			}
			if na != nb {
				return na < nb
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

func digitRun(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}
