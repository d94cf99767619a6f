package audit

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/domain"
)

// DefaultGrace is how long after a window closes (or a UTC day starts) its
// manifest (or daily digest) may still be on its way.
const DefaultGrace = 2 * time.Hour

// Options tune Verify.
type Options struct {
	// Prefix is the destination prefix inside the store ("" or "a/b").
	Prefix string
	// Schedules limits the schedules checked; empty checks every schedule
	// the archive knows (definition records, heads, digests).
	Schedules []string
	// From and To, when set, limit the windows checked (those overlapping
	// [From, To)). Chains, definitions and daily digests are always
	// checked whole.
	From, To time.Time
	// AsOf is the instant the archive must be complete up to (default
	// now), minus each schedule's lag and Grace.
	AsOf  time.Time
	Grace time.Duration
	// Keys are the trusted public keys, given from outside the archive.
	// Without any, signatures are checked against the archive's own _keys/
	// and the report says so.
	Keys []ed25519.PublicKey
	// Parallel bounds concurrent reads (default 16).
	Parallel int
	// Location names the archive in the report.
	Location string
}

type verifier struct {
	r        archive.Reader
	o        Options
	rep      *Report
	trusted  map[string]ed25519.PublicKey
	archKeys map[string]ed25519.PublicKey
	signed   bool // the archive has signatures of any kind
	daily    []*dailyRec
	mu       sync.Mutex
	reported map[string]bool // keys already named by a finding
	retained []string        // schedules whose definition records a retention
}

type dailyRec struct {
	key  string
	data []byte
	sha  string
	d    *archive.DailyDigest
}

// ErrNoSuchSchedule: a schedule named on the command line is not in the
// archive and no record says it ever was.
var ErrNoSuchSchedule = errors.New("no such schedule in the archive")

// Verify checks the archive read through r and returns what it found. An
// error means the archive could not be verified (a read failed for another
// reason than a missing object, bad options); a tampered or incomplete
// archive is a report with findings.
func Verify(ctx context.Context, r archive.Reader, o Options) (*Report, error) {
	if o.AsOf.IsZero() {
		o.AsOf = time.Now()
	}
	if o.Grace == 0 {
		o.Grace = DefaultGrace
	}
	if o.Parallel <= 0 {
		o.Parallel = 16
	}
	if !o.From.IsZero() && !o.To.IsZero() && !o.To.After(o.From) {
		return nil, fmt.Errorf("--to (%s) must be after --from (%s)", o.To.Format(time.RFC3339), o.From.Format(time.RFC3339))
	}
	v := &verifier{r: r, o: o, reported: map[string]bool{}, trusted: map[string]ed25519.PublicKey{},
		rep: &Report{Location: o.Location, AsOf: o.AsOf.UTC(), Grace: o.Grace.String(), From: o.From, To: o.To, Schedules: []*ScheduleReport{}, Findings: []Finding{}}}
	if li, ok := r.(archive.LockInspector); ok {
		bl, err := li.BucketLock(ctx)
		if err != nil {
			return nil, err
		}
		v.rep.BucketLock = &bl
	}
	if err := v.loadKeys(ctx); err != nil {
		return nil, err
	}
	if err := v.checkDaily(ctx); err != nil {
		return nil, err
	}
	names, err := v.scheduleNames(ctx)
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		sr, err := v.verifySchedule(ctx, n)
		if err != nil {
			return nil, err
		}
		if sr != nil {
			v.rep.Schedules = append(v.rep.Schedules, sr)
		}
	}
	if bl := v.rep.BucketLock; bl != nil {
		if len(v.retained) > 0 && !bl.Enabled {
			v.add(Finding{Code: BucketLockDisabled, Key: v.key(domain.KeysDir), Message: fmt.Sprintf("the bucket has no Object Lock (so nothing in it is locked), but the definitions of %s record a retention policy", strings.Join(v.retained, ", "))})
		}
	}
	switch {
	case !v.signed:
		v.rep.Trust = TrustNone
	case len(o.Keys) > 0:
		v.rep.Trust = TrustExternal
	default:
		v.rep.Trust = TrustArchive
		v.rep.Warnings = append(v.rep.Warnings, "SIGNATURES WERE CHECKED AGAINST THE ARCHIVE'S OWN KEYS ONLY (_keys/): whoever can write the archive can replace them; give the public keys from outside with --public-key or --keyring")
	}
	for id := range v.trusted {
		v.rep.Keys = append(v.rep.Keys, id)
	}
	slices.Sort(v.rep.Keys)
	v.rep.sort()
	return v.rep, nil
}

func (v *verifier) add(f Finding) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if f.Key != "" {
		id := f.Code + " " + f.Key
		if v.reported[id] {
			return
		}
		v.reported[id] = true
	}
	v.rep.add(f)
}

// named reports whether any finding already names key.
func (v *verifier) named(key string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	for id := range v.reported {
		if strings.HasSuffix(id, " "+key) {
			return true
		}
	}
	return false
}

func (v *verifier) key(parts ...string) string { return archive.PrefixKey(v.o.Prefix, parts...) }

func (v *verifier) list(ctx context.Context, prefix string) ([]archive.ObjectInfo, error) {
	var out []archive.ObjectInfo
	if err := v.r.List(ctx, prefix, func(oi archive.ObjectInfo) error {
		out = append(out, oi)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("list %s: %w", prefix, err)
	}
	return out, nil
}

// read returns an object's bytes and what the store says of it; ok is
// false when it is not there.
func (v *verifier) read(ctx context.Context, key string) (data []byte, info archive.ObjectInfo, ok bool, err error) {
	rc, info, err := v.r.Get(ctx, key)
	if errors.Is(err, archive.ErrNotFound) {
		return nil, info, false, nil
	}
	if err != nil {
		return nil, info, false, fmt.Errorf("read %s: %w", key, err)
	}
	defer rc.Close()
	data, err = io.ReadAll(io.LimitReader(rc, 64<<20))
	if err != nil {
		return nil, info, false, fmt.Errorf("read %s: %w", key, err)
	}
	return data, info, true, nil
}

// loadKeys reads _keys/ and settles which keys are trusted.
func (v *verifier) loadKeys(ctx context.Context) error {
	v.archKeys = map[string]ed25519.PublicKey{}
	p := v.key(domain.KeysDir) + "/"
	infos, err := v.list(ctx, p)
	if err != nil {
		return err
	}
	for _, oi := range infos {
		data, _, ok, err := v.read(ctx, oi.Key)
		if err != nil || !ok {
			return err
		}
		pub, perr := archive.ParsePublicKey(data)
		id := strings.TrimSuffix(strings.TrimPrefix(oi.Key, p), ".pem")
		if perr != nil || archive.KeyID(pub) != id {
			v.add(Finding{Code: KeyUntrusted, Key: oi.Key, Message: "not the public key its name says (its key id differs, or it is not an Ed25519 PEM public key)"})
			continue
		}
		v.archKeys[id] = pub
	}
	if len(v.o.Keys) > 0 {
		for _, k := range v.o.Keys {
			v.trusted[archive.KeyID(k)] = k
		}
	} else {
		v.trusted = v.archKeys
	}
	v.signed = len(v.archKeys) > 0
	return nil
}

// checkSig verifies a detached or embedded signature made with key id.
func (v *verifier) checkSig(key, id string, payload, sig []byte, schedule string) bool {
	pub := v.trusted[id]
	if pub == nil {
		why := fmt.Sprintf("signed with key %s, which is not among the trusted keys", id)
		if v.archKeys[id] == nil {
			why = fmt.Sprintf("signed with key %s, which is neither trusted nor published under _keys/", id)
		}
		v.add(Finding{Code: KeyUntrusted, Schedule: schedule, Key: key, Message: why})
		return false
	}
	if !ed25519.Verify(pub, payload, sig) {
		v.add(Finding{Code: SignatureBad, Schedule: schedule, Key: key, Message: fmt.Sprintf("the signature does not verify with key %s: the record was changed after it was signed, or forged", id)})
		return false
	}
	return true
}

// checkDaily reads every daily digest, its signature and its link to the
// day before, and names every day since the first digest that has none.
func (v *verifier) checkDaily(ctx context.Context) error {
	p := v.key(archive.DailyDir) + "/"
	infos, err := v.list(ctx, p)
	if err != nil {
		return err
	}
	sigs := map[string]bool{}
	var keys []string
	for _, oi := range infos {
		switch {
		case strings.HasSuffix(oi.Key, ".json"):
			keys = append(keys, oi.Key)
		case strings.HasSuffix(oi.Key, ".sig"):
			sigs[oi.Key] = true
		}
	}
	recs := make([]*dailyRec, len(keys))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(v.o.Parallel)
	for i, k := range keys {
		g.Go(func() error {
			data, _, ok, err := v.read(gctx, k)
			if err != nil || !ok {
				return err
			}
			rec := &dailyRec{key: k, data: data, sha: archive.SHA256Hex(data)}
			d, err := archive.ParseDailyDigest(rec.data)
			if err != nil {
				v.add(Finding{Code: DigestChanged, Key: rec.key, Message: fmt.Sprintf("not a daily digest any more: %v", err)})
				return nil
			}
			day, _ := time.Parse(archive.DayLayout, d.Day)
			if archive.DailyKey(v.o.Prefix, day) != rec.key {
				v.add(Finding{Code: DigestChanged, Key: rec.key, Message: fmt.Sprintf("holds the digest of %s", d.Day)})
				return nil
			}
			rec.d = d
			recs[i] = rec
			if d.KeyID == "" {
				if len(v.o.Keys) > 0 || len(v.archKeys) > 0 {
					v.add(Finding{Code: DigestUnsigned, Key: rec.key, Message: "unsigned, in an archive whose digests are signed"})
				}
				return nil
			}
			sk := archive.SignatureKey(rec.key)
			if !sigs[sk] {
				v.add(Finding{Code: DigestUnsigned, Key: rec.key, Message: fmt.Sprintf("names key %s but its signature %s is gone", d.KeyID, sk)})
				return nil
			}
			sig, _, ok, err := v.read(gctx, sk)
			if err != nil {
				return err
			}
			if ok {
				v.checkSig(rec.key, d.KeyID, rec.data, sig, "")
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for _, rec := range recs {
		if rec == nil {
			continue
		}
		if rec.d.KeyID != "" {
			v.signed = true
		}
		v.daily = append(v.daily, rec)
	}
	v.rep.DailyDigests = len(v.daily)
	if len(v.daily) == 0 {
		return nil
	}
	// The chain: each digest links the one before it by sha256. A link to
	// a digest that is there with other bytes names that digest as
	// changed; a link to one that is gone is a missing day, named below.
	have := map[string]*dailyRec{}
	for _, rec := range v.daily {
		have[rec.d.Day] = rec
	}
	first, _ := time.Parse(archive.DayLayout, v.daily[0].d.Day)
	for i, rec := range v.daily {
		pl := rec.d.Prev
		if pl == nil {
			if i > 0 {
				v.add(Finding{Code: DigestChanged, Key: rec.key, Message: "links no earlier digest, but earlier ones exist"})
			}
			continue
		}
		if i == 0 {
			// Digests before the first one present were removed.
			if d, ok := dayOfDailyKey(pl.Key); ok && d.Before(first) {
				first = d
			}
			continue
		}
		prev := v.daily[i-1]
		if pl.Key == prev.key && pl.SHA256 != prev.sha && !v.named(prev.key) {
			v.add(Finding{Code: DigestChanged, Key: prev.key, Message: fmt.Sprintf("its sha256 is %s, but the digest of the next day recorded %s: it was changed after it was written", prev.sha, pl.SHA256)})
		}
	}
	last := v.o.AsOf.Add(-v.o.Grace).UTC().Truncate(24 * time.Hour)
	var run []string
	flush := func() {
		if len(run) == 0 {
			return
		}
		v.add(Finding{Code: DailyMissing, Key: archive.DailyKey(v.o.Prefix, mustDay(run[0])), Message: fmt.Sprintf("no daily digest for %d day(s): %s", len(run), strings.Join(run, ", "))})
		run = nil
	}
	for d := first; !d.After(last); d = d.Add(24 * time.Hour) {
		if have[d.Format(archive.DayLayout)] == nil {
			run = append(run, d.Format(archive.DayLayout))
		} else {
			flush()
		}
	}
	flush()
	v.rep.FirstDay, v.rep.LastDay = v.daily[0].d.Day, v.daily[len(v.daily)-1].d.Day
	return nil
}

func mustDay(s string) time.Time {
	d, _ := time.Parse(archive.DayLayout, s)
	return d
}

func dayOfDailyKey(key string) (time.Time, bool) {
	base := key[strings.LastIndexByte(key, '/')+1:]
	d, err := time.Parse(archive.DayLayout, strings.TrimSuffix(base, ".json"))
	return d, err == nil
}

// scheduleNames is every schedule the archive has a record of, or those
// asked for.
func (v *verifier) scheduleNames(ctx context.Context) ([]string, error) {
	if len(v.o.Schedules) > 0 {
		return v.o.Schedules, nil
	}
	seen := map[string]bool{}
	for _, dir := range []string{domain.HeadDir, domain.DefinitionsDir, domain.DigestsDir} {
		p := v.key(dir) + "/"
		infos, err := v.list(ctx, p)
		if err != nil {
			return nil, err
		}
		for _, oi := range infos {
			name, _, _ := strings.Cut(strings.TrimPrefix(oi.Key, p), "/")
			if domain.NameRE.MatchString(name) {
				seen[name] = true
			}
		}
	}
	for _, rec := range v.daily {
		for _, h := range rec.d.Schedules {
			seen[h.Schedule] = true
		}
	}
	var out []string
	for n := range seen {
		out = append(out, n)
	}
	slices.Sort(out)
	return out, nil
}

// hashObject reads an object back and compares size and sha256.
func (v *verifier) hashObject(ctx context.Context, o archive.Object) (info archive.ObjectInfo, found bool, n int64, sum string, err error) {
	rc, info, err := v.r.Get(ctx, o.Key)
	if errors.Is(err, archive.ErrNotFound) {
		return info, false, 0, "", nil
	}
	if err != nil {
		return info, false, 0, "", fmt.Errorf("read %s: %w", o.Key, err)
	}
	defer rc.Close()
	h := sha256.New()
	n, err = io.Copy(h, rc)
	if err != nil {
		return info, true, n, "", fmt.Errorf("read %s: %w", o.Key, err)
	}
	return info, true, n, hex.EncodeToString(h.Sum(nil)), nil
}

func parseJSON(data []byte, v any) error { return json.Unmarshal(data, v) }
