// Package export runs one unit (a window or a snapshot) of one schedule end
// to end: claim, query, render, upload, manifest. It owns the commit
// protocol's order — object first, manifest last — and the repair of runs
// that died between the two.
package export

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"time"

	"go.uber.org/zap"

	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/domain"
	"github.com/exportd/exportd/internal/render"
	"github.com/exportd/exportd/internal/source"
)

// Source is what a run needs of a warehouse.
type Source interface {
	Name() string
	Dialect() string
	Describe(ctx context.Context, q source.Query) ([]source.Column, error)
	ExportCSV(ctx context.Context, q source.Query, w io.Writer) (source.Result, error)
	Count(ctx context.Context, q source.Query) (int64, error)
}

// Query is a compiled query bound for one unit.
type Query struct {
	SQL    string
	Args   []any
	Params []archive.Param
}

// Conditions (Sigma's conditional export).
const (
	ConditionAlways   = "always"
	ConditionIfData   = "if_data"
	ConditionIfNoData = "if_no_data"
)

// Job is one schedule as a run sees it. It is built once per (re)load.
type Job struct {
	Name     string
	Timezone string
	Layout   domain.Layout
	Archive  *archive.Archive
	Source   Source
	// Query binds the schedule's compiled element to a unit.
	Query func(u domain.Unit) (Query, error)
	Gzip  bool
	// Retain, when > 0, locks objects and manifests until the window end
	// (or logical time) + Retain.
	Retain time.Duration
	// Condition is always, if_data or if_no_data.
	Condition string
	// OnSchemaChange is "fail" (default) or "warn".
	OnSchemaChange string
	Version        string
	Logger         *zap.Logger
	// Signer, when set, signs a digest of every manifest the job commits
	// (_digests/<schedule>/<sequence>.json).
	Signer ed25519.PrivateKey
	// Unload, when set, has the warehouse write each unit's file(s) to the
	// bucket itself (see unload.go) instead of streaming rows.
	Unload *Unload
	// Definition, when set, is the schedule's definition: its record is
	// written in the archive when it first appears or changes, and every
	// manifest names the version it was produced under.
	Definition *archive.DefinitionSpec
	// Tap, when set, gives a Tap for each streamed upload attempt of a
	// unit (not for warehouse unloads).
	Tap func(u domain.Unit) Tap
}

// Result says what a run did.
type Result struct {
	Unit            domain.Unit
	Kind            string // exported, skipped, or "" when nothing was written
	AlreadyArchived bool
	Repaired        bool
	ManifestKey     string
	ManifestSHA256  string
	Object          *archive.Object
	Columns         []archive.Column
	Duration        time.Duration
	// Attempt is the attempt (1 for the first) that gave this result.
	Attempt int
	// QueryID is the warehouse's id of the export query, when it has one.
	QueryID string
}

// ErrSchemaChanged is returned when the output columns differ from the
// previous manifest's and the schedule says on_schema_change: fail.
var ErrSchemaChanged = errors.New("output columns changed")

// WindowLogical gives a window's unit its logical time: the window's end,
// whatever instant the run happened at (a cron fire, a catch-up at process
// start, a run now). The window, not the run, is what the unit is about, and
// the same window must read the same in every archive; a snapshot keeps the
// fire instant it was given.
func WindowLogical(u domain.Unit) domain.Unit {
	if !u.Window.IsZero() {
		u.Logical = u.Window.End.UTC()
	}
	return u
}

// Run exports u. An already archived unit returns a Result with
// AlreadyArchived set and an error wrapping archive.ErrAlreadyArchived.
func (j *Job) Run(ctx context.Context, u domain.Unit, attempt int) (res Result, err error) {
	return j.run(ctx, u, attempt, 1, nil)
}

// run exports revision rev of u; a revision >= 2 supersedes the manifest
// at supersedes.
func (j *Job) run(ctx context.Context, u domain.Unit, attempt, rev int, supersedes *archive.Link) (res Result, err error) {
	start := time.Now()
	u = WindowLogical(u)
	res.Unit = u
	log := j.Logger.With(zap.String("schedule", j.Name), zap.String("unit", u.ID()), zap.Int("attempt", attempt))
	if !u.Window.IsZero() {
		log = log.With(zap.Time("window_start", u.Window.Start), zap.Time("window_end", u.Window.End))
	}
	defer func() { res.Duration = time.Since(start) }()

	claim, err := j.Archive.Claim(ctx, j.Layout, u, rev)
	if err != nil {
		var aa *archive.AlreadyArchivedError
		if errors.As(err, &aa) {
			res.AlreadyArchived, res.ManifestKey = true, aa.Key
		}
		return res, err
	}
	runCtx, cancel := context.WithCancel(source.WithQueryTag(ctx, "exportd:"+j.Name+":"+u.ID()))
	defer cancel()
	renewed := j.keepAlive(runCtx, cancel, claim, log)
	committed := false
	defer func() {
		cancel()
		<-renewed
		if committed {
			return
		}
		// A fresh context: the run's may be cancelled, and a held claim
		// would block the next attempt for a whole lease.
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer rcancel()
		if rerr := claim.Release(rctx); rerr != nil {
			log.Warn("release claim", zap.Error(rerr))
		}
	}()

	if j.Unload != nil {
		defer func() { j.cleanStaging(ctx, claim, committed, log) }()
	}

	if prev := claim.Previous(); prev != nil {
		log.Warn("took over an expired claim: the previous run died", zap.String("previous_owner", prev.Owner))
		if prev.Pending != nil && len(prev.Pending.Objects) > 0 {
			r, ok, err := j.repair(runCtx, claim, prev.Pending, attempt, start, log)
			if err != nil {
				return res, err
			}
			if ok {
				committed = true
				r.Duration = time.Since(start)
				return r, nil
			}
		}
	}

	q, err := j.Query(u)
	if err != nil {
		return res, fmt.Errorf("export %q: bind query: %w", j.Name, err)
	}
	sq := source.Query{SQL: q.SQL, Args: q.Args}
	m := &archive.Manifest{
		Kind: domain.KindExported, Schedule: j.Name, UnitID: u.ID(), LogicalTime: u.Logical.UTC(),
		Timezone: j.Timezone, Adhoc: u.Adhoc, Revision: rev, Supersedes: supersedes,
		Run:    archive.RunInfo{StartedAt: start.UTC(), Attempt: attempt, Instance: j.Archive.Instance, ExportdVersion: j.Version},
		Source: archive.Source{Name: j.Source.Name(), Dialect: j.Source.Dialect()},
		Query:  &archive.Query{SQL: q.SQL, Params: q.Params},
	}
	if rev > 1 {
		m.Kind = domain.KindSuperseded
	}
	if !u.Window.IsZero() {
		w := domain.Window{Start: u.Window.Start.UTC(), End: u.Window.End.UTC()}
		m.Window = &w
	}

	cols, err := j.Source.Describe(runCtx, sq)
	if err != nil {
		return res, fmt.Errorf("export %q: describe query: %w", j.Name, err)
	}
	for _, c := range cols {
		m.Columns = append(m.Columns, archive.Column{Name: c.Name, Type: c.Type})
	}
	res.Columns = m.Columns
	if err := j.checkSchema(runCtx, m.Columns, log); err != nil {
		return res, err
	}

	if j.Condition == ConditionIfData || j.Condition == ConditionIfNoData {
		n, err := j.Source.Count(runCtx, sq)
		if err != nil {
			return res, fmt.Errorf("export %q: count rows for condition %s: %w", j.Name, j.Condition, err)
		}
		if (j.Condition == ConditionIfData && n == 0) || (j.Condition == ConditionIfNoData && n > 0) {
			m.Kind = domain.KindSkipped
			m.Reason = fmt.Sprintf("condition %s: the element has %d rows", j.Condition, n)
			m.Objects = []archive.Object{}
			return j.commit(runCtx, claim, m, u, &committed, res, log)
		}
	}

	key, err := j.Layout.ObjectKey(u, rev)
	if err != nil {
		return res, fmt.Errorf("export %q: %w", j.Name, err)
	}
	obj := archive.Object{Key: key, ContentType: "text/csv; charset=utf-8; header=present"}
	if j.Gzip {
		obj.ContentEncoding = "gzip"
	}
	m.Objects = []archive.Object{obj}
	if err := claim.Record(runCtx, m); err != nil {
		return res, err
	}

	if j.Unload != nil {
		return j.unload(runCtx, claim, m, u, attempt, start, &committed, res, log)
	}
	tap := j.tap(u)
	info, stats, qres, err := j.upload(runCtx, sq, obj, u, tap)
	tapDone(tap, err == nil)
	if errors.Is(err, archive.ErrExists) {
		// The object is there without a manifest: an earlier run of this
		// unit wrote it and died or failed before committing. Complete it.
		log.Warn("object exists without a manifest: completing the interrupted run", zap.String("key", key))
		r, ok, rerr := j.repair(runCtx, claim, m, attempt, start, log)
		if rerr != nil {
			return res, rerr
		}
		if ok {
			committed = true
			return r, nil
		}
		return res, fmt.Errorf("export %q: object %s exists but cannot be read back", j.Name, key)
	}
	if err != nil {
		return res, fmt.Errorf("export %q: %w", j.Name, err)
	}
	obj.Bytes, obj.SHA256, obj.Rows = stats.Bytes, stats.SHA256, qres.Rows
	m.Query.QueryID, res.QueryID = qres.QueryID, qres.QueryID
	obj.StoreChecksums = info.Checksums
	m.Objects = []archive.Object{obj}
	res.Object = &m.Objects[0]
	return j.commit(runCtx, claim, m, u, &committed, res, log)
}

func (j *Job) commit(ctx context.Context, claim *archive.Claim, m *archive.Manifest, u domain.Unit, committed *bool, res Result, log *zap.Logger) (Result, error) {
	m.Run.FinishedAt = time.Now().UTC()
	if j.Definition != nil && m.Definition == nil {
		ref, err := j.Archive.EnsureDefinition(ctx, j.Layout, *j.Definition, j.putOptions(u, "application/json", ""))
		if err != nil {
			return res, fmt.Errorf("export %q: %w", j.Name, err)
		}
		m.Definition = &ref
	}
	key, sum, err := j.Archive.Commit(ctx, claim, m, j.putOptions(u, "application/json", ""))
	if err != nil {
		return res, fmt.Errorf("export %q: commit: %w", j.Name, err)
	}
	*committed = true
	if j.Signer != nil {
		// The commit stands without its digest: the next commit's digest
		// vouches for this manifest too (the chain links it).
		if err := j.Archive.WriteDigest(ctx, j.Layout, j.Signer, m.Sequence, key, sum, j.putOptions(u, "application/json", "")); err != nil {
			log.Warn("cannot write the signed digest of the commit; the next commit's covers it", zap.String("manifest", key), zap.Error(err))
		}
	}
	res.Kind, res.ManifestKey, res.ManifestSHA256 = m.Kind, key, sum
	if len(m.Objects) > 0 {
		res.Object = &m.Objects[0]
	}
	res.Repaired = m.Run.Repaired
	return res, nil
}

func (j *Job) putOptions(u domain.Unit, contentType, encoding string) archive.PutOptions {
	o := archive.PutOptions{ContentType: contentType, ContentEncoding: encoding}
	if j.Retain > 0 {
		base := u.Logical
		if !u.Window.IsZero() {
			base = u.Window.End
		}
		o.RetainUntil = base.Add(j.Retain).UTC()
	}
	return o
}

// upload streams the query's CSV into the store. The store sees the bytes
// through a pipe; a failing query fails the pipe, so no object appears.
func (j *Job) upload(ctx context.Context, q source.Query, obj archive.Object, u domain.Unit, tap Tap) (archive.ObjectInfo, render.Stats, source.Result, error) {
	opts := j.putOptions(u, obj.ContentType, obj.ContentEncoding)
	pc := newProgressCounter(ctx)
	if sp, ok := j.Archive.Store.(archive.StreamPutter); ok {
		// A local store takes the bytes directly: no pipe, no extra copy.
		var sink *render.Sink
		var qres source.Result
		var qerr error
		info, err := sp.PutStream(ctx, obj.Key, opts, func(w io.Writer) error {
			sink = render.NewSink(pc.wrapStore(w), render.Options{Gzip: j.Gzip})
			res, err := j.Source.ExportCSV(ctx, q, pc.tee(withTap(sink, tap)))
			if err != nil {
				qerr = fmt.Errorf("query: %w", err)
				return qerr
			}
			qres = res
			return sink.Close()
		})
		switch {
		case qerr != nil:
			return info, render.Stats{}, qres, qerr
		case errors.Is(err, archive.ErrExists):
			return info, render.Stats{}, qres, err
		case err != nil:
			return info, render.Stats{}, qres, fmt.Errorf("upload %s: %w", obj.Key, err)
		}
		return info, sink.Stats(), qres, nil
	}
	pr, pw := io.Pipe()
	type putResult struct {
		info archive.ObjectInfo
		err  error
	}
	done := make(chan putResult, 1)
	go func() {
		info, err := j.Archive.Store.Put(ctx, obj.Key, pr, opts)
		pr.CloseWithError(err) // unblocks the writer if Put gave up early
		done <- putResult{info, err}
	}()
	sink := render.NewSink(pc.wrapStore(pw), render.Options{Gzip: j.Gzip})
	res, qerr := j.Source.ExportCSV(ctx, q, pc.tee(withTap(sink, tap)))
	if qerr == nil {
		qerr = sink.Close()
	}
	if qerr != nil {
		pw.CloseWithError(qerr)
		<-done
		return archive.ObjectInfo{}, render.Stats{}, res, fmt.Errorf("query: %w", qerr)
	}
	pw.Close()
	pr2 := <-done
	if pr2.err != nil {
		return archive.ObjectInfo{}, render.Stats{}, res, fmt.Errorf("upload %s: %w", obj.Key, pr2.err)
	}
	return pr2.info, sink.Stats(), res, nil
}

// repair completes an interrupted run whose objects were written: it reads
// them back, recomputes their hashes and row counts, and commits the pending
// manifest. ok is false when an object is missing (the run must start over).
func (j *Job) repair(ctx context.Context, claim *archive.Claim, pending *archive.Manifest, attempt int, start time.Time, log *zap.Logger) (Result, bool, error) {
	m := *pending
	m.Objects = append([]archive.Object(nil), pending.Objects...)
	for i := range m.Objects {
		o := &m.Objects[i]
		rc, info, err := j.Archive.Store.Get(ctx, o.Key)
		if errors.Is(err, archive.ErrNotFound) {
			j.restartUnload(ctx, pending, log)
			return Result{}, false, nil
		}
		if err != nil {
			return Result{}, false, fmt.Errorf("export %q: read back %s: %w", j.Name, o.Key, err)
		}
		st, rows, err := readBack(rc, o.ContentEncoding == "gzip")
		rc.Close()
		if err != nil {
			return Result{}, false, fmt.Errorf("export %q: read back %s: %w", j.Name, o.Key, err)
		}
		o.Bytes, o.SHA256, o.Rows, o.StoreChecksums = st.Bytes, st.SHA256, rows, info.Checksums
	}
	if restart, err := j.repairUnloaded(ctx, &m, log); err != nil || restart {
		return Result{}, false, err
	}
	m.Run = archive.RunInfo{StartedAt: start.UTC(), Attempt: attempt, Instance: j.Archive.Instance,
		ExportdVersion: j.Version, Repaired: true}
	u := domain.Unit{Schedule: m.Schedule, Logical: m.LogicalTime, Adhoc: m.Adhoc}
	if m.Window != nil {
		u.Window = *m.Window
	}
	committed := false
	r, err := j.commit(ctx, claim, &m, u, &committed, Result{Unit: u, Columns: m.Columns}, log)
	if err != nil {
		return r, false, err
	}
	log.Info("repaired interrupted run", zap.String("manifest", r.ManifestKey))
	return r, true, nil
}

func readBack(r io.Reader, gz bool) (render.Stats, int64, error) {
	pr, pw := io.Pipe()
	rowsc := make(chan struct {
		n   int64
		err error
	}, 1)
	go func() {
		n, err := render.CountRows(pr, gz)
		pr.CloseWithError(err)
		_, _ = io.Copy(io.Discard, pr)
		rowsc <- struct {
			n   int64
			err error
		}{n, err}
	}()
	sink := render.NewSink(io.Discard, render.Options{})
	_, err := io.Copy(io.MultiWriter(sink, pw), r)
	pw.CloseWithError(err)
	rr := <-rowsc
	if err == nil {
		err = sink.Close()
	}
	if err == nil {
		err = rr.err
	}
	return sink.Stats(), rr.n, err
}

// checkSchema compares the output columns with the last committed manifest
// of the schedule.
func (j *Job) checkSchema(ctx context.Context, cols []archive.Column, log *zap.Logger) error {
	h, _, ok, err := j.Archive.ReadHead(ctx, j.Layout)
	if err != nil || !ok {
		return err
	}
	prev, err := archive.ParseManifest(h.Manifest)
	if err != nil || len(prev.Columns) == 0 {
		return nil // nothing to compare with (skipped or lost windows have no columns)
	}
	if sameColumns(prev.Columns, cols) {
		return nil
	}
	msg := fmt.Sprintf("output columns changed since %s: was %s, now %s", h.Key, fmtColumns(prev.Columns), fmtColumns(cols))
	if j.OnSchemaChange == "warn" {
		log.Warn(msg)
		return nil
	}
	return fmt.Errorf("export %q: %w: %s (set on_schema_change: warn to accept)", j.Name, ErrSchemaChanged, msg)
}

func sameColumns(a, b []archive.Column) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func fmtColumns(cs []archive.Column) string {
	s := "["
	for i, c := range cs {
		if i > 0 {
			s += ", "
		}
		s += c.Name + " " + c.Type
	}
	return s + "]"
}

// keepAlive renews the claim every lease/3 until ctx ends; losing the
// claim cancels the run. The returned channel closes when it has stopped.
func (j *Job) keepAlive(ctx context.Context, cancel context.CancelFunc, c *archive.Claim, log *zap.Logger) <-chan struct{} {
	done := make(chan struct{})
	every := j.Archive.Lease / 3
	if every <= 0 {
		every = 10 * time.Minute / 3
	}
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := c.Renew(ctx); err != nil {
					if ctx.Err() != nil {
						return
					}
					log.Error("renew claim; cancelling the run", zap.Error(err))
					cancel()
					return
				}
			}
		}
	}()
	return done
}

// MarkLost commits a lost manifest for a unit the source no longer has
// data for, so that an auditor can tell "lost" from "missing".
func (j *Job) MarkLost(ctx context.Context, u domain.Unit, reason string) (Result, error) {
	start := time.Now()
	u = WindowLogical(u)
	res := Result{Unit: u}
	claim, err := j.Archive.Claim(ctx, j.Layout, u, 1)
	if err != nil {
		var aa *archive.AlreadyArchivedError
		if errors.As(err, &aa) {
			res.AlreadyArchived, res.ManifestKey = true, aa.Key
		}
		return res, err
	}
	m := &archive.Manifest{
		Kind: domain.KindLost, Schedule: j.Name, UnitID: u.ID(), LogicalTime: u.Logical.UTC(),
		Timezone: j.Timezone, Revision: 1, Reason: reason, Objects: []archive.Object{},
		Run:    archive.RunInfo{StartedAt: start.UTC(), Attempt: 1, Instance: j.Archive.Instance, ExportdVersion: j.Version},
		Source: archive.Source{Name: j.Source.Name(), Dialect: j.Source.Dialect()},
	}
	if !u.Window.IsZero() {
		w := domain.Window{Start: u.Window.Start.UTC(), End: u.Window.End.UTC()}
		m.Window = &w
	}
	committed := false
	res, err = j.commit(ctx, claim, m, u, &committed, res, j.Logger)
	if !committed {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_ = claim.Release(rctx)
	}
	return res, err
}

// Archived reports whether u has a committed manifest.
func (j *Job) Archived(ctx context.Context, u domain.Unit) (bool, error) {
	key, err := j.Layout.ManifestKey(u, 1)
	if err != nil {
		return false, err
	}
	_, err = j.Archive.Store.Stat(ctx, key)
	if errors.Is(err, archive.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}
