package audit

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/domain"
	"github.com/exportd/exportd/internal/schedule"
)

// mrec is one manifest as found in the schedule's folder.
type mrec struct {
	key  string
	data []byte
	sha  string
	info archive.ObjectInfo
	m    *archive.Manifest
	err  error
	used bool
}

// defRec is one definition record.
type defRec struct {
	key  string
	sha  string
	d    *archive.Definition
	info archive.ObjectInfo
}

// centry is one manifest of the chain as walked.
type centry struct {
	rec *mrec
	m   *archive.Manifest
}

type scheduleCheck struct {
	*verifier
	name    string
	l       domain.Layout
	sr      *ScheduleReport
	defs    map[int]*defRec
	newest  *defRec
	head    *archive.Head
	byKey   map[string]*mrec
	chain   []centry // oldest first
	bySeq   map[int64]centry
	deleted map[string]bool // window ids named by a manifest-deleted finding
	lost    []int64         // sequences gone without a key to name
	rewound *Finding
	// digestKeys are the per-commit digests present.
	digestKeys map[string]bool
}

func (v *verifier) verifySchedule(ctx context.Context, name string) (*ScheduleReport, error) {
	if !domain.NameRE.MatchString(name) {
		return nil, fmt.Errorf("%q is not a schedule name", name)
	}
	c := &scheduleCheck{verifier: v, name: name, l: domain.Layout{Prefix: v.o.Prefix, Schedule: name},
		sr: &ScheduleReport{Schedule: name, Kinds: map[string]int{}}, defs: map[int]*defRec{},
		byKey: map[string]*mrec{}, bySeq: map[int64]centry{}, deleted: map[string]bool{}}
	if err := c.loadDefinitions(ctx); err != nil {
		return nil, err
	}
	if err := c.loadHead(ctx); err != nil {
		return nil, err
	}
	objects, err := c.loadManifests(ctx)
	if err != nil {
		return nil, err
	}
	digests, err := v.list(ctx, v.key(domain.DigestsDir, name)+"/")
	if err != nil {
		return nil, err
	}
	c.digestKeys = map[string]bool{}
	for _, oi := range digests {
		c.digestKeys[oi.Key] = true
	}
	if len(c.defs) == 0 && c.head == nil && len(c.byKey) == 0 && len(digests) == 0 {
		for i := len(v.daily) - 1; i >= 0; i-- {
			for _, h := range v.daily[i].d.Schedules {
				if h.Schedule == name {
					v.add(Finding{Code: ScheduleRemoved, Schedule: name, Key: c.l.ScheduleDir(),
						Message: fmt.Sprintf("the daily digest of %s lists it (head at sequence %d), but the archive holds nothing of it: no definition, head, manifest or object", v.daily[i].d.Day, h.Sequence)})
					return c.sr, nil
				}
			}
		}
		if len(v.o.Schedules) > 0 {
			return nil, fmt.Errorf("%w: %s (no definition record, head, manifest or digest names it)", ErrNoSuchSchedule, name)
		}
		return nil, nil
	}
	c.walk()
	c.strays()
	c.checkDailyHeads()
	if err := c.checkObjects(ctx, objects); err != nil {
		return nil, err
	}
	if err := c.checkDigests(ctx, digests); err != nil {
		return nil, err
	}
	c.checkDefinitionRefs()
	if err := c.checkDefinitionRetention(ctx); err != nil {
		return nil, err
	}
	if err := c.checkWindows(); err != nil {
		return nil, err
	}
	if c.rewound != nil {
		c.add(*c.rewound)
	}
	return c.sr, nil
}

func (c *scheduleCheck) loadDefinitions(ctx context.Context) error {
	infos, err := c.list(ctx, c.l.DefinitionsPrefix())
	if err != nil {
		return err
	}
	for _, oi := range infos {
		data, info, ok, err := c.read(ctx, oi.Key)
		if err != nil || !ok {
			return err
		}
		rec := &defRec{key: oi.Key, sha: archive.SHA256Hex(data), info: info}
		d, err := archive.ParseDefinition(data)
		if err != nil {
			c.add(Finding{Code: DefinitionChanged, Schedule: c.name, Key: oi.Key, Message: fmt.Sprintf("not a definition record any more: %v", err)})
			continue
		}
		if d.Schedule != c.name || c.l.DefinitionKey(d.Version) != oi.Key {
			c.add(Finding{Code: DefinitionChanged, Schedule: c.name, Key: oi.Key, Message: fmt.Sprintf("holds version %d of %q", d.Version, d.Schedule)})
			continue
		}
		rec.d = d
		c.defs[d.Version] = rec
	}
	versions := slices.Sorted(maps.Keys(c.defs))
	for i, ver := range versions {
		rec := c.defs[ver]
		if c.newest == nil || ver > c.newest.d.Version {
			c.newest = rec
		}
		if i == 0 && ver != 1 {
			c.add(Finding{Code: DefinitionMissing, Schedule: c.name, Key: c.l.DefinitionKey(1), Message: fmt.Sprintf("definition records 1 to %d are gone", ver-1)})
		}
		if ver == 1 {
			continue
		}
		prev := c.defs[ver-1]
		switch {
		case prev == nil && i > 0:
			c.add(Finding{Code: DefinitionMissing, Schedule: c.name, Key: c.l.DefinitionKey(ver - 1), Message: fmt.Sprintf("definition record %d is gone (record %d links it)", ver-1, ver)})
		case prev != nil && (rec.d.Prev == nil || rec.d.Prev.SHA256 != prev.sha):
			c.add(Finding{Code: DefinitionChanged, Schedule: c.name, Key: prev.key, Message: fmt.Sprintf("its sha256 is %s, but record %d links it as %s: it was changed after it was written", prev.sha, ver, linkSHA(rec.d.Prev))})
		}
	}
	if c.newest != nil {
		c.sr.Definition = c.newest.d.Version
		if c.newest.d.Retention != nil {
			c.retained = append(c.retained, c.name)
		}
	}
	return nil
}

func linkSHA(l *archive.Link) string {
	if l == nil {
		return "(none)"
	}
	return l.SHA256
}

func (c *scheduleCheck) loadHead(ctx context.Context) error {
	data, _, ok, err := c.read(ctx, c.l.HeadKey())
	if err != nil || !ok {
		return err
	}
	var h archive.Head
	if err := json.Unmarshal(data, &h); err != nil {
		c.add(Finding{Code: Unreadable, Schedule: c.name, Key: c.l.HeadKey(), Message: fmt.Sprintf("not a chain head: %v", err)})
		return nil
	}
	c.head = &h
	c.sr.Head = h.Sequence
	return nil
}

// loadManifests lists the schedule's folder, reads every manifest in
// parallel, and returns the data objects found.
func (c *scheduleCheck) loadManifests(ctx context.Context) (map[string]bool, error) {
	infos, err := c.list(ctx, c.l.ScheduleDir())
	if err != nil {
		return nil, err
	}
	objects := map[string]bool{}
	var recs []*mrec
	for _, oi := range infos {
		if strings.HasSuffix(oi.Key, ".manifest.json") {
			recs = append(recs, &mrec{key: oi.Key})
		} else {
			objects[oi.Key] = true
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.o.Parallel)
	for _, rec := range recs {
		g.Go(func() error {
			data, info, ok, err := c.read(gctx, rec.key)
			if err != nil || !ok {
				return err
			}
			rec.data, rec.info, rec.sha = data, info, archive.SHA256Hex(data)
			rec.m, rec.err = archive.ParseManifest(data)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for _, rec := range recs {
		if rec.data != nil {
			c.byKey[rec.key] = rec
		}
	}
	return objects, nil
}

// walk follows the chain from the head back to sequence 1. Where a link
// leads nowhere it names the one manifest that is gone and picks the walk
// up again at the manifest with the next lower sequence, so one deletion
// is one finding.
func (c *scheduleCheck) walk() {
	bySha := map[string]*mrec{}
	bySeqRec := map[int64][]*mrec{}
	var maxSeq int64
	for _, rec := range c.byKey {
		bySha[rec.sha] = rec
		if rec.m != nil && rec.m.Schedule == c.name {
			bySeqRec[rec.m.Sequence] = append(bySeqRec[rec.m.Sequence], rec)
			maxSeq = max(maxSeq, rec.m.Sequence)
		}
	}
	var link *archive.Link
	want := maxSeq
	if c.head != nil {
		link, want = &archive.Link{Key: c.head.Key, SHA256: c.head.SHA256}, c.head.Sequence
	} else if len(c.byKey) > 0 {
		c.add(Finding{Code: HeadMissing, Schedule: c.name, Key: c.l.HeadKey(), Message: fmt.Sprintf("the chain head is gone; the chain was walked from the highest sequence found (%d)", maxSeq)})
	}
	swaps := map[string]bool{}
	first := true
	var out []centry
	for want >= 1 {
		var rec *mrec
		if link != nil {
			x := c.byKey[link.Key]
			switch {
			case x != nil && x.sha == link.SHA256:
				rec = x
			case bySha[link.SHA256] != nil:
				rec = bySha[link.SHA256]
				pair := []string{link.Key, rec.key}
				slices.Sort(pair)
				if id := strings.Join(pair, " "); !swaps[id] {
					swaps[id] = true
					f := Finding{Code: ManifestsSwapped, Schedule: c.name, Key: pair[0],
						Message: fmt.Sprintf("%s holds the manifest committed as %s", rec.key, link.Key)}
					if x != nil && x.m != nil && x.m.Window != nil && rec.m != nil && rec.m.Window != nil {
						f.Windows = []domain.Window{*rec.m.Window, *x.m.Window}
					}
					c.add(f)
				}
			case x != nil:
				rec = x
				c.add(Finding{Code: ManifestChanged, Schedule: c.name, Key: x.key, Windows: manifestWindows(x.m),
					Message: fmt.Sprintf("sha256 is %s, but the chain recorded %s: the manifest was changed after it was committed", x.sha, link.SHA256)})
			case first && c.head != nil && len(c.head.Manifest) > 0 && archive.SHA256Hex(c.head.Manifest) == link.SHA256:
				// A committer that died between advancing the head and
				// writing the manifest leaves it only in the head, until the
				// schedule's next run writes it; one that finished long
				// before as-of was deleted.
				// A signed digest of it is written only after it.
				m, err := archive.ParseManifest(c.head.Manifest)
				if err == nil && !c.digestKeys[c.l.DigestKey(want)] && m.Run.FinishedAt.Add(24*time.Hour).After(c.o.AsOf.Add(-c.o.Grace)) {
					c.rep.Warnings = append(c.rep.Warnings, fmt.Sprintf("%s: %s: the newest manifest is only in the head so far (an interrupted commit; the next run writes it)", c.name, link.Key))
					rec = &mrec{key: link.Key, data: c.head.Manifest, sha: link.SHA256, m: m}
				}
			}
			if rec == nil {
				w, _ := windowOfManifestKey(link.Key)
				var ws []domain.Window
				msg := fmt.Sprintf("manifest of sequence %d is gone", want)
				if w != nil {
					ws = []domain.Window{*w}
					c.deleted[w.ID()] = true
					msg += fmt.Sprintf(": window %s has no record", w.ID())
				}
				c.add(Finding{Code: ManifestDeleted, Schedule: c.name, Key: link.Key, Windows: ws, Message: msg})
				link, want, first = nil, want-1, false
				continue
			}
		} else {
			for _, x := range bySeqRec[want] {
				if !x.used {
					rec = x
					break
				}
			}
			if rec == nil {
				c.lost = append(c.lost, want)
				want--
				continue
			}
		}
		first = false
		if rec.m == nil {
			c.add(Finding{Code: ManifestChanged, Schedule: c.name, Key: rec.key, Message: fmt.Sprintf("not a manifest any more: %v", rec.err)})
			rec.used = true
			link, want = nil, want-1
			continue
		}
		m := rec.m
		if m.Schedule != c.name || m.Sequence != want {
			c.add(Finding{Code: ManifestChanged, Schedule: c.name, Key: rec.key, Message: fmt.Sprintf("sequence %d of %q, where the chain expects %d of %q", m.Sequence, m.Schedule, want, c.name)})
		}
		rec.used = true
		e := centry{rec: rec, m: m}
		out = append(out, e)
		c.bySeq[want] = e
		link, want = m.Prev, want-1
		if link == nil && want >= 1 {
			c.add(Finding{Code: ManifestChanged, Schedule: c.name, Key: rec.key, Message: fmt.Sprintf("links no earlier manifest, but its sequence is %d", m.Sequence)})
		}
	}
	slices.Reverse(out)
	c.chain = out
	c.sr.Manifests = len(out)
	for _, e := range out {
		c.sr.Kinds[e.m.Kind]++
	}
}

func manifestWindows(m *archive.Manifest) []domain.Window {
	if m == nil || m.Window == nil {
		return nil
	}
	return []domain.Window{*m.Window}
}

// windowOfManifestKey reads the window out of a manifest key
// (<dir>/<window id>[.rN].manifest.json).
func windowOfManifestKey(key string) (*domain.Window, bool) {
	base := key[strings.LastIndexByte(key, '/')+1:]
	id, _, _ := strings.Cut(strings.TrimSuffix(base, ".manifest.json"), ".")
	w, err := domain.ParseWindowID(id)
	if err != nil {
		return nil, false
	}
	return &w, true
}

// strays names manifests outside the chain; those beyond the head are
// evidence that it was rewound.
func (c *scheduleCheck) strays() {
	var beyond []string
	for _, k := range slices.Sorted(maps.Keys(c.byKey)) {
		rec := c.byKey[k]
		if rec.used {
			continue
		}
		if rec.m != nil && c.head != nil && rec.m.Sequence > c.head.Sequence {
			beyond = append(beyond, k)
			continue
		}
		c.add(Finding{Code: ManifestStray, Schedule: c.name, Key: k, Windows: manifestWindows(rec.m), Message: "a manifest outside the chain"})
	}
	if len(beyond) > 0 {
		c.rewind(fmt.Sprintf("%d manifest(s) with a higher sequence than the head's (%d) are still there, e.g. %s", len(beyond), c.head.Sequence, beyond[0]))
	}
}

func (c *scheduleCheck) rewind(evidence string) {
	if c.rewound != nil {
		return
	}
	c.rewound = &Finding{Code: HeadRewound, Schedule: c.name, Key: c.l.HeadKey(),
		Message: fmt.Sprintf("the head is at sequence %d, but %s", c.sr.Head, evidence)}
}

// checkDailyHeads compares the chain with the heads the daily digests
// recorded: a recorded head beyond the chain's is a rewind.
func (c *scheduleCheck) checkDailyHeads() {
	var top int64
	for _, e := range c.chain {
		top = max(top, e.m.Sequence)
	}
	for i := len(c.daily) - 1; i >= 0; i-- {
		rec := c.daily[i]
		if c.named(rec.key) {
			continue // a changed digest proves nothing
		}
		for _, h := range rec.d.Schedules {
			if h.Schedule != c.name || h.Sequence == 0 {
				continue
			}
			if h.Definition != nil {
				c.checkDefRef(*h.Definition, "the daily digest of "+rec.d.Day)
			}
			if h.Sequence > top {
				c.rewind(fmt.Sprintf("the daily digest of %s recorded it at sequence %d (%s)", rec.d.Day, h.Sequence, h.ManifestKey))
				continue
			}
			if e, ok := c.bySeq[h.Sequence]; ok && e.rec.sha != h.ManifestSHA256 && !c.named(e.rec.key) {
				c.add(Finding{Code: ManifestChanged, Schedule: c.name, Key: e.rec.key, Windows: manifestWindows(e.m),
					Message: fmt.Sprintf("the daily digest of %s recorded sequence %d as %s with sha256 %s; the chain now has %s", rec.d.Day, h.Sequence, h.ManifestKey, h.ManifestSHA256, e.rec.sha)})
			}
		}
	}
}

// inRange reports whether a manifest's window (or logical time) overlaps
// [From, To).
func (c *scheduleCheck) inRange(m *archive.Manifest) bool { return overlaps(m, c.o.From, c.o.To) }

func overlaps(m *archive.Manifest, from, to time.Time) bool {
	s, e := m.LogicalTime, m.LogicalTime.Add(time.Nanosecond)
	if m.Window != nil {
		s, e = m.Window.Start, m.Window.End
	}
	return (from.IsZero() || e.After(from)) && (to.IsZero() || s.Before(to))
}

// checkObjects reads back every object of the chain in parallel (size and
// sha256) and checks Object Lock retention of objects and manifests.
func (c *scheduleCheck) checkObjects(ctx context.Context, found map[string]bool) error {
	referenced := map[string]bool{}
	type job struct {
		e centry
		o archive.Object
	}
	var jobs []job
	for _, e := range c.chain {
		for _, o := range e.m.Objects {
			referenced[o.Key] = true
			if c.inRange(e.m) {
				jobs = append(jobs, job{e, o})
			}
		}
	}
	for k := range found {
		if !referenced[k] {
			c.rep.Warnings = append(c.rep.Warnings, fmt.Sprintf("%s: %s: an object no manifest names (an interrupted run, completed by the next one)", c.name, k))
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.o.Parallel)
	if _, ok := c.r.(archive.LockInspector); ok {
		// Each manifest's own lock.
		for _, e := range c.chain {
			if c.inRange(e.m) {
				g.Go(func() error { return c.checkRetention(gctx, e, e.rec.key, e.rec.info) })
			}
		}
	}
	for _, j := range jobs {
		g.Go(func() error {
			info, ok, n, sum, err := c.hashObject(gctx, j.o)
			if err != nil {
				return err
			}
			ws := manifestWindows(j.e.m)
			switch {
			case !ok:
				c.add(Finding{Code: ObjectMissing, Schedule: c.name, Key: j.o.Key, Windows: ws, Message: fmt.Sprintf("gone; manifest %s records it (%d bytes, sha256 %s)", j.e.rec.key, j.o.Bytes, j.o.SHA256)})
			case n != j.o.Bytes || sum != j.o.SHA256:
				c.add(Finding{Code: ObjectChanged, Schedule: c.name, Key: j.o.Key, Windows: ws, Message: fmt.Sprintf("%d bytes with sha256 %s, but manifest %s records %d bytes with sha256 %s: the object was changed after it was archived", n, sum, j.e.rec.key, j.o.Bytes, j.o.SHA256)})
			default:
				if err := c.checkRetention(gctx, j.e, j.o.Key, info); err != nil {
					return err
				}
			}
			c.mu.Lock()
			c.sr.Objects++
			c.sr.Bytes += n
			c.sr.Rows += j.o.Rows
			c.rep.Objects++
			c.rep.ObjectBytes += n
			c.mu.Unlock()
			return nil
		})
	}
	return g.Wait()
}

// checkRetention compares an object's (or manifest's) Object Lock with the
// policy its definition records. Only stores that lock objects report a
// lock; on others it checks nothing.
func (c *scheduleCheck) checkRetention(ctx context.Context, e centry, key string, info archive.ObjectInfo) error {
	if _, ok := c.r.(archive.LockInspector); !ok {
		return nil
	}
	if bl := c.rep.BucketLock; bl != nil && !bl.Enabled {
		return nil // one finding for the bucket, not one per object
	}
	if info.LockMode == "" || info.RetainUntil.IsZero() {
		// Some servers leave the lock out of GET answers; HEAD has it.
		st, err := c.r.Stat(ctx, key)
		if err != nil {
			return fmt.Errorf("stat %s: %w", key, err)
		}
		info = st
	}
	def := c.newest
	if e.m.Definition != nil && c.defs[e.m.Definition.Version] != nil {
		def = c.defs[e.m.Definition.Version]
	}
	if info.LegalHold {
		c.mu.Lock()
		c.sr.Held++
		c.mu.Unlock()
	}
	if def == nil || def.d.Retention == nil {
		return nil
	}
	pol := def.d.Retention
	base := e.m.LogicalTime
	if e.m.Window != nil {
		base = e.m.Window.End
	}
	want := base.Add(pol.RetainFor()).UTC()
	ws := manifestWindows(e.m)
	switch {
	case info.RetainUntil.IsZero() || info.LockMode == "":
		c.add(Finding{Code: RetentionMissing, Schedule: c.name, Key: key, Windows: ws,
			Message: fmt.Sprintf("has no Object Lock retention; definition %d records %s until %s", def.d.Version, pol.Mode, want.Format(time.RFC3339))})
	case info.LockMode != pol.Mode || info.RetainUntil.Before(want.Add(-time.Second)):
		c.add(Finding{Code: RetentionDrift, Schedule: c.name, Key: key, Windows: ws,
			Message: fmt.Sprintf("locked %s until %s; definition %d records %s until %s", info.LockMode, info.RetainUntil.Format(time.RFC3339), def.d.Version, pol.Mode, want.Format(time.RFC3339))})
	}
	return nil
}

// checkDefinitionRetention: under Object Lock, a definition record must be
// retained as long as every manifest that names it (its policy applied to
// the newest of them): else the record that says what those manifests mean
// could be deleted while they are still locked.
func (c *scheduleCheck) checkDefinitionRetention(ctx context.Context) error {
	if _, ok := c.r.(archive.LockInspector); !ok {
		return nil
	}
	if bl := c.rep.BucketLock; bl != nil && !bl.Enabled {
		return nil
	}
	type need struct {
		until time.Time
		key   string
	}
	needs := map[int]need{}
	for _, e := range c.chain {
		ref := e.m.Definition
		if ref == nil || c.defs[ref.Version] == nil || c.defs[ref.Version].d.Retention == nil {
			continue
		}
		base := e.m.LogicalTime
		if e.m.Window != nil {
			base = e.m.Window.End
		}
		want := base.Add(c.defs[ref.Version].d.Retention.RetainFor()).UTC()
		if want.After(needs[ref.Version].until) {
			needs[ref.Version] = need{want, e.rec.key}
		}
	}
	for _, ver := range slices.Sorted(maps.Keys(needs)) {
		def, n := c.defs[ver], needs[ver]
		info := def.info
		if info.LockMode == "" || info.RetainUntil.IsZero() {
			st, err := c.r.Stat(ctx, def.key)
			if err != nil {
				return fmt.Errorf("stat %s: %w", def.key, err)
			}
			info = st
		}
		if !n.until.After(time.Now()) {
			continue // the manifests' own retention has elapsed too
		}
		if info.RetainUntil.IsZero() || info.RetainUntil.Before(n.until.Add(-time.Second)) {
			until := "never locked"
			if !info.RetainUntil.IsZero() {
				until = "retained until " + info.RetainUntil.UTC().Format(time.RFC3339)
			}
			c.add(Finding{Code: RetentionDrift, Schedule: c.name, Key: def.key,
				Message: fmt.Sprintf("%s, but manifest %s, which names it, must be retained until %s: the record that says what it means would go first", until, n.key, n.until.Format(time.RFC3339))})
		}
	}
	return nil
}

// checkDigests verifies the per-commit digests: each signature, and that
// each signs its chain entry; with any digest present, every manifest must
// be covered.
func (c *scheduleCheck) checkDigests(ctx context.Context, infos []archive.ObjectInfo) error {
	if len(infos) == 0 {
		return nil
	}
	c.signed = true
	covered := map[int64]bool{}
	// Read and check signatures in parallel; then compare with the chain.
	valid := make([]*archive.Digest, len(infos))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.o.Parallel)
	for i, oi := range infos {
		g.Go(func() error {
			data, _, ok, err := c.read(gctx, oi.Key)
			if err != nil || !ok {
				return err
			}
			var d archive.Digest
			if err := json.Unmarshal(data, &d); err != nil {
				c.add(Finding{Code: DigestChanged, Schedule: c.name, Key: oi.Key, Message: fmt.Sprintf("not a digest any more: %v", err)})
				return nil
			}
			sig, err := base64.StdEncoding.DecodeString(d.Signature)
			if err != nil || d.Algorithm != "ed25519" {
				c.add(Finding{Code: SignatureBad, Schedule: c.name, Key: oi.Key, Message: "no Ed25519 signature"})
				return nil
			}
			if c.checkSig(oi.Key, d.KeyID, d.Payload(), sig, c.name) {
				valid[i] = &d
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for i, oi := range infos {
		d := valid[i]
		if d == nil {
			continue
		}
		e, ok := c.bySeq[d.Sequence]
		if d.Sequence > c.sr.Head && c.head != nil {
			c.rewind(fmt.Sprintf("a signed digest (%s) signs sequence %d (%s)", oi.Key, d.Sequence, d.ManifestKey))
			continue
		}
		if !ok {
			continue // the manifest is gone: named by the walk
		}
		if oi.Key != c.l.DigestKey(d.Sequence) || d.Schedule != c.name || e.rec.key != d.ManifestKey && !c.named(d.ManifestKey) || e.rec.sha != d.ManifestSHA256 {
			if !c.named(e.rec.key) && !c.named(d.ManifestKey) {
				c.add(Finding{Code: DigestChanged, Schedule: c.name, Key: oi.Key, Message: fmt.Sprintf("signs manifest %s (sequence %d, sha256 %s), which is not that entry of the chain", d.ManifestKey, d.Sequence, d.ManifestSHA256)})
			}
			continue
		}
		covered[d.Sequence] = true
	}
	var gaps []string
	for _, e := range c.chain {
		s := e.m.Sequence
		if covered[s] {
			c.sr.SignedThrough = max(c.sr.SignedThrough, s)
		} else if !c.named(c.l.DigestKey(s)) && !c.named(e.rec.key) {
			gaps = append(gaps, fmt.Sprint(s))
		}
	}
	if len(gaps) > 0 {
		c.add(Finding{Code: DigestMissing, Schedule: c.name, Key: c.l.DigestKey(mustInt(gaps[0])),
			Message: fmt.Sprintf("no valid signed digest covers sequence(s) %s", strings.Join(gaps, ", "))})
	}
	return nil
}

func mustInt(s string) int64 {
	var n int64
	fmt.Sscan(s, &n)
	return n
}

// checkDefinitionRefs checks that every manifest names a definition
// record that is there with the bytes it was produced under.
func (c *scheduleCheck) checkDefinitionRefs() {
	for _, e := range c.chain {
		if e.m.Definition != nil {
			c.checkDefRef(*e.m.Definition, "manifest "+e.rec.key)
		}
	}
}

func (c *scheduleCheck) checkDefRef(ref archive.DefinitionRef, by string) {
	rec := c.defs[ref.Version]
	key := c.l.DefinitionKey(ref.Version)
	switch {
	case rec == nil:
		if !c.named(key) {
			c.add(Finding{Code: DefinitionMissing, Schedule: c.name, Key: key, Message: fmt.Sprintf("gone; %s was produced under it", by)})
		}
	case rec.sha != ref.SHA256:
		c.add(Finding{Code: DefinitionChanged, Schedule: c.name, Key: key, Message: fmt.Sprintf("its sha256 is %s, but %s recorded %s: the definition record was changed after it was written", rec.sha, by, ref.SHA256)})
	}
}

// checkWindows computes, from the newest definition record, every window
// (or snapshot instant) that must be archived between the schedule's start
// and as-of minus lag and grace, and names those without a manifest.
func (c *scheduleCheck) checkWindows() error {
	present := map[string]bool{}
	var firstArchived time.Time
	for _, e := range c.chain {
		if e.m.Adhoc {
			continue
		}
		present[e.m.UnitID] = true
		if (e.m.Kind == domain.KindSkipped || e.m.Kind == domain.KindLost) && strings.TrimSpace(e.m.Reason) == "" && overlaps(e.m, c.o.From, c.o.To) {
			c.add(Finding{Code: ReasonMissing, Schedule: c.name, Key: e.rec.key, Windows: manifestWindows(e.m),
				Message: fmt.Sprintf("recorded as %s without a reason", e.m.Kind)})
		}
		t := e.m.LogicalTime
		if e.m.Window != nil {
			t = e.m.Window.Start
		}
		if firstArchived.IsZero() || t.Before(firstArchived) {
			firstArchived = t
		}
	}
	if c.newest == nil {
		if len(c.chain) > 0 {
			c.rep.Warnings = append(c.rep.Warnings, fmt.Sprintf("%s: no definition record: the expected windows cannot be computed from the archive (written before definition records existed)", c.name))
		}
		return nil
	}
	def := c.newest.d
	loc, err := time.LoadLocation(def.Timezone)
	if err != nil {
		c.add(Finding{Code: DefinitionChanged, Schedule: c.name, Key: c.newest.key, Message: fmt.Sprintf("timezone %q: %v", def.Timezone, err)})
		return nil
	}
	T := c.o.AsOf.Add(-c.o.Grace)
	type unit struct {
		id string
		w  domain.Window
	}
	var expected []unit
	if def.Window != nil {
		lag, err := time.ParseDuration(def.Window.Lag)
		if err != nil {
			c.add(Finding{Code: DefinitionChanged, Schedule: c.name, Key: c.newest.key, Message: fmt.Sprintf("window.lag %q: %v", def.Window.Lag, err)})
			return nil
		}
		ws := schedule.WindowSpec{Every: schedule.Every(def.Window.Every), Lag: lag, Start: def.Window.Start, Location: loc}
		if ws.Start.IsZero() {
			if firstArchived.IsZero() {
				return nil
			}
			ws.Start = firstArchived.In(loc)
			ws.Start = time.Date(ws.Start.Year(), ws.Start.Month(), ws.Start.Day(), ws.Start.Hour(), ws.Start.Minute(), ws.Start.Second(), 0, time.UTC)
		}
		if def.Window.WeekStart != "" {
			for d := time.Sunday; d <= time.Saturday; d++ {
				if strings.EqualFold(d.String(), def.Window.WeekStart) {
					ws.WeekStart = &d
				}
			}
		}
		closed, err := ws.Closed(T)
		if err != nil {
			c.add(Finding{Code: DefinitionChanged, Schedule: c.name, Key: c.newest.key, Message: fmt.Sprintf("window: %v", err)})
			return nil
		}
		for _, w := range closed {
			if (c.o.From.IsZero() || w.End.After(c.o.From)) && (c.o.To.IsZero() || w.Start.Before(c.o.To)) {
				expected = append(expected, unit{w.ID(), w})
			}
		}
	} else {
		cr, err := schedule.ParseCron(def.Cron, loc)
		if err != nil {
			c.add(Finding{Code: DefinitionChanged, Schedule: c.name, Key: c.newest.key, Message: fmt.Sprintf("cron %q: %v", def.Cron, err)})
			return nil
		}
		start := firstArchived
		if start.IsZero() {
			start = def.CreatedAt
		}
		for t := cr.Next(start.Add(-time.Nanosecond)); !t.IsZero() && !t.After(T) && len(expected) < 1_000_000; t = cr.Next(t) {
			if (c.o.From.IsZero() || !t.Before(c.o.From)) && (c.o.To.IsZero() || t.Before(c.o.To)) {
				expected = append(expected, unit{t.UTC().Format(domain.IDLayout), domain.Window{Start: t.UTC(), End: t.UTC()}})
			}
		}
	}
	c.sr.Expected = len(expected)
	if len(expected) > 0 {
		c.sr.First, c.sr.Last = expected[0].w.Start, expected[len(expected)-1].w.End
	}
	var run []domain.Window
	var lastPresent time.Time
	var runs [][]domain.Window
	for _, u := range expected {
		month := u.w.Start.UTC().Format("2006-01")
		if n := len(c.sr.Months); n == 0 || c.sr.Months[n-1].Month != month {
			c.sr.Months = append(c.sr.Months, MonthCount{Month: month})
		}
		mc := &c.sr.Months[len(c.sr.Months)-1]
		mc.Expected++
		if present[u.id] {
			mc.Present++
		}
		switch {
		case present[u.id]:
			c.sr.Present++
			lastPresent = u.w.End
			if len(run) > 0 {
				runs, run = append(runs, run), nil
			}
		case c.deleted[u.id]:
			// Named by the walk.
		default:
			run = append(run, u.w)
		}
	}
	if len(run) > 0 {
		runs = append(runs, run)
	}
	policy := ""
	if def.CatchUp != "" && def.CatchUp != "all" {
		policy = fmt.Sprintf(" (catch_up: %s leaves missed windows out by design, but they must then be recorded as skipped or lost)", def.CatchUp)
	}
	for _, r := range runs {
		// The newest windows gone together with a rewound head are the
		// rewind's loss, not a separate finding.
		if c.rewound != nil && !r[0].Start.Before(lastPresent) {
			c.rewound.Windows = r
			c.rewound.Message += fmt.Sprintf("; the %d newest window(s) are gone with it: %s", len(r), windowList(r))
			continue
		}
		f := Finding{Code: MissingWindows, Schedule: c.name, Key: c.l.ScheduleDir(), Windows: r,
			Message: fmt.Sprintf("%d window(s) have no manifest (neither exported nor recorded as skipped or lost): %s%s", len(r), windowList(r), policy)}
		if !r[0].Start.Before(lastPresent) && len(c.lost) == 0 {
			f.Message += "; they are the newest ones: were they removed together with the head's history, or has the daemon stopped?"
		}
		c.add(f)
	}
	return nil
}
