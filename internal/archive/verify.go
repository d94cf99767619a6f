package archive

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/exportd/exportd/internal/domain"
)

// ChainEntry is one committed manifest of a schedule, in commit order.
type ChainEntry struct {
	Key      string
	SHA256   string
	Manifest *Manifest
	// Data is the manifest's exact bytes (their sha256 is SHA256).
	Data []byte
}

// Report is what Verify found in one schedule's archive.
type Report struct {
	Schedule string `json:"schedule"`
	// Manifests in the chain, by kind.
	Manifests int            `json:"manifests"`
	Kinds     map[string]int `json:"kinds"`
	// Objects checked (size and sha256 read back), their bytes and rows.
	Objects int   `json:"objects"`
	Bytes   int64 `json:"bytes"`
	Rows    int64 `json:"rows"`
	// First and Last bound the windows the chain covers (zero for a
	// snapshot schedule).
	First time.Time `json:"first_window_start,omitzero"`
	Last  time.Time `json:"last_window_end,omitzero"`
	// Missing are the spans between covered windows (and before the first
	// one, when the expected start is known) that have no manifest.
	Missing []domain.Window `json:"missing,omitempty"`
	// Signed is the highest sequence a valid signed digest vouches for
	// (checked only with VerifyOptions.PublicKey).
	Signed int64 `json:"signed_through,omitempty"`
	// Problems break the archive's guarantees; each names its key.
	Problems []string `json:"problems,omitempty"`
	// Notes are states that normal operation leaves for a while (an
	// interrupted run's object, a head ahead of its manifest).
	Notes []string `json:"notes,omitempty"`
}

// OK reports a complete, untouched archive.
func (r *Report) OK() bool { return len(r.Problems) == 0 && len(r.Missing) == 0 }

func (r *Report) problemf(format string, args ...any) {
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
}

// readSmall reads a small object through the read half of a store.
func readSmall(ctx context.Context, r Reader, key string) ([]byte, error) {
	rc, _, err := r.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, 64<<20))
}

// Chain reads a schedule's committed manifests from its head back to the
// first, checking every link (the sha256 of the exact bytes of the
// manifest it points at, and the sequence numbers), and returns them in
// commit order. A schedule with nothing committed has an empty chain.
// Problems with a link are in the report; the chain stops there.
func Chain(ctx context.Context, r Reader, l domain.Layout, rep *Report) ([]ChainEntry, error) {
	data, err := readSmall(ctx, r, l.HeadKey())
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read head %s: %w", l.HeadKey(), err)
	}
	var h Head
	if err := json.Unmarshal(data, &h); err != nil {
		rep.problemf("%s: not a chain head: %v", l.HeadKey(), err)
		return nil, nil
	}
	var chain []ChainEntry
	link, want := &Link{Key: h.Key, SHA256: h.SHA256}, h.Sequence
	seen := map[string]bool{}
	for link != nil {
		if want < 1 {
			rep.problemf("%s: the chain goes on past sequence 1", link.Key)
			break
		}
		if seen[link.Key] {
			rep.problemf("%s: appears twice in the chain", link.Key)
			break
		}
		seen[link.Key] = true
		data, err := readSmall(ctx, r, link.Key)
		if errors.Is(err, ErrNotFound) && len(chain) == 0 && len(h.Manifest) > 0 {
			// The committer advanced the head and died before writing the
			// manifest; the next run of the schedule writes it.
			rep.Notes = append(rep.Notes, fmt.Sprintf("%s: the newest manifest is only in the head so far (an interrupted commit; the next run writes it)", link.Key))
			data = h.Manifest
		} else if err != nil {
			rep.problemf("%s: the chain points at it, but it cannot be read: %v", link.Key, err)
			break
		}
		if got := SHA256Hex(data); got != link.SHA256 {
			rep.problemf("%s: sha256 is %s, but the chain recorded %s: the manifest was changed after it was committed", link.Key, got, link.SHA256)
			break
		}
		m, err := ParseManifest(data)
		if err != nil {
			rep.problemf("%s: %v", link.Key, err)
			break
		}
		if m.Sequence != want || m.Schedule != l.Schedule {
			rep.problemf("%s: sequence %d of schedule %q, where the chain expects %d of %q", link.Key, m.Sequence, m.Schedule, want, l.Schedule)
			break
		}
		chain = append(chain, ChainEntry{Key: link.Key, SHA256: link.SHA256, Manifest: m, Data: data})
		link, want = m.Prev, want-1
	}
	if link == nil && want != 0 && len(rep.Problems) == 0 {
		rep.problemf("%s: the chain ends at sequence %d; it should reach 1", l.HeadKey(), want+1)
	}
	slices.Reverse(chain)
	return chain, nil
}

// VerifyOptions tune Verify.
type VerifyOptions struct {
	// ExpectStart, when not zero, is where the windows must begin (the
	// schedule's window.start).
	ExpectStart time.Time
	// PublicKey, when set, makes signed digests required: each must
	// verify with it and sign its chain entry, and every manifest must be
	// covered by one.
	PublicKey ed25519.PublicKey
}

// Verify checks one schedule's archive with the read half of a store, as
// an auditor would years later: the manifest chain from the head back to
// the first commit (every link's sha256 and sequence), every object's
// size and sha256 read back, no manifest outside the chain, no missing
// window between the first (or opts.ExpectStart) and the last one
// archived, and, with opts.PublicKey, the signed digests.
func Verify(ctx context.Context, r Reader, l domain.Layout, opts VerifyOptions) (*Report, error) {
	rep := &Report{Schedule: l.Schedule, Kinds: map[string]int{}}
	chain, err := Chain(ctx, r, l, rep)
	if err != nil {
		return nil, err
	}
	inChain := map[string]bool{}
	referenced := map[string]bool{}
	var windows []domain.Window
	for _, e := range chain {
		m := e.Manifest
		inChain[e.Key] = true
		rep.Manifests++
		rep.Kinds[m.Kind]++
		if m.Window != nil && !m.Adhoc {
			windows = append(windows, *m.Window)
		}
		for _, o := range m.Objects {
			referenced[o.Key] = true
			if err := Fetch(ctx, r, o, io.Discard); err != nil {
				rep.problemf("%v (in %s)", err, e.Key)
				continue
			}
			rep.Objects++
			rep.Bytes += o.Bytes
			rep.Rows += o.Rows
		}
	}
	err = r.List(ctx, l.ScheduleDir(), func(oi ObjectInfo) error {
		switch {
		case strings.HasSuffix(oi.Key, ".manifest.json") && !inChain[oi.Key]:
			rep.problemf("%s: a manifest outside the chain", oi.Key)
		case !strings.HasSuffix(oi.Key, ".manifest.json") && !referenced[oi.Key]:
			rep.Notes = append(rep.Notes, fmt.Sprintf("%s: an object no manifest names (an interrupted run, completed by the next one)", oi.Key))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", l.ScheduleDir(), err)
	}
	if opts.PublicKey != nil {
		if err := checkDigests(ctx, r, l, opts.PublicKey, chain, rep); err != nil {
			return nil, err
		}
	}
	rep.Missing = gaps(windows, opts.ExpectStart)
	if len(windows) > 0 {
		rep.First = slices.MinFunc(windows, func(a, b domain.Window) int { return a.Start.Compare(b.Start) }).Start
		rep.Last = slices.MaxFunc(windows, func(a, b domain.Window) int { return a.End.Compare(b.End) }).End
	}
	return rep, nil
}

// gaps returns the spans not covered by windows (which abut when
// complete), from expectStart when it is not zero.
func gaps(windows []domain.Window, expectStart time.Time) []domain.Window {
	if len(windows) == 0 {
		return nil
	}
	ws := slices.Clone(windows)
	slices.SortFunc(ws, func(a, b domain.Window) int { return a.Start.Compare(b.Start) })
	var out []domain.Window
	end := ws[0].Start
	if !expectStart.IsZero() && expectStart.Before(end) {
		end = expectStart
	}
	for _, w := range ws {
		if w.Start.After(end) {
			out = append(out, domain.Window{Start: end, End: w.Start})
		}
		if w.End.After(end) {
			end = w.End
		}
	}
	return out
}

// Latest returns, for each unit of the chain, its newest revision's entry
// (a superseding revision replaces the original), in commit order of those
// entries.
func Latest(chain []ChainEntry) []ChainEntry {
	newest := map[string]int{}
	for i, e := range chain {
		id := e.Manifest.UnitID
		if e.Manifest.Adhoc {
			id = domain.AdhocDir + "-" + id
		}
		if j, ok := newest[id]; !ok || chain[j].Manifest.Revision <= e.Manifest.Revision {
			newest[id] = i
		}
	}
	var out []ChainEntry
	for i, e := range chain {
		id := e.Manifest.UnitID
		if e.Manifest.Adhoc {
			id = domain.AdhocDir + "-" + id
		}
		if newest[id] == i {
			out = append(out, e)
		}
	}
	return out
}

// Fetch copies an archived object to w, checking its size and sha256
// against the manifest's record as it streams; on a mismatch it returns an
// error after writing (the caller discards what it wrote).
func Fetch(ctx context.Context, r Reader, o Object, w io.Writer) error {
	rc, _, err := r.Get(ctx, o.Key)
	if err != nil {
		return fmt.Errorf("%s: %w", o.Key, err)
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), rc)
	if err != nil {
		return fmt.Errorf("%s: %w", o.Key, err)
	}
	if n != o.Bytes {
		return fmt.Errorf("%s: %d bytes, but its manifest records %d", o.Key, n, o.Bytes)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != o.SHA256 {
		return fmt.Errorf("%s: sha256 is %s, but its manifest records %s: the object was changed after it was archived", o.Key, got, o.SHA256)
	}
	return nil
}

// FetchFile fetches o into file through a temporary file beside it,
// renamed into place only once its size and sha256 matched.
func FetchFile(ctx context.Context, r Reader, o Object, file string) error {
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := Fetch(ctx, r, o, tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), file)
}
