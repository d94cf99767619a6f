package archive

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/exportd/exportd/internal/domain"
)

// Head is the JSON body of _head/<schedule>: the last committed manifest of
// the schedule. It is advanced by compare-and-swap before the manifest is
// written and carries the manifest's bytes, so a committer that dies between
// the two steps is completed by the next one: the chain never forks and never
// points at nothing for long.
type Head struct {
	FormatVersion int    `json:"format_version"`
	Schedule      string `json:"schedule"`
	Sequence      int64  `json:"sequence"`
	Key           string `json:"key"`
	SHA256        string `json:"sha256"`
	// Manifest is the exact bytes of the manifest at Key.
	Manifest   []byte      `json:"manifest"`
	PutOptions *PutOptions `json:"put_options,omitempty"`
}

// Archive implements the commit protocol over a Store.
type Archive struct {
	Store Store
	// Instance names this process in claims and manifests (host:pid or a
	// configured id).
	Instance string
	// Lease is how long a claim stays valid without renewal (default 10m).
	Lease time.Duration
	// Now is for tests; nil means time.Now. It only drives leases.
	Now func() time.Time
	// OwnerDead, when set, reports that the owner of a live claim is known
	// to be dead (LocalOwnerDead: a process of this host that no longer
	// exists), so its claim is taken over without waiting for the lease.
	OwnerDead func(owner string) bool
}

func (a *Archive) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *Archive) lease() time.Duration {
	if a.Lease > 0 {
		return a.Lease
	}
	return 10 * time.Minute
}

// LocalOwnerDead reports whether owner names a process of this host (as
// domain.DefaultInstance does) that no longer exists. Owners on other hosts, or
// named otherwise, are never reported dead: their claims wait for the lease.
func LocalOwnerDead(owner string) bool {
	h, _ := os.Hostname()
	host, pidText, ok := strings.Cut(owner, ":")
	if !ok || host != h {
		return false
	}
	pid, err := strconv.Atoi(pidText)
	if err != nil || pid <= 0 || pid == os.Getpid() {
		return false
	}
	// Signal 0 checks existence; ESRCH means no such process.
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// ReadHead returns the schedule's head; ok is false for a schedule with no
// commit yet.
func (a *Archive) ReadHead(ctx context.Context, l domain.Layout) (h Head, etag string, ok bool, err error) {
	data, etag, err := a.Store.Read(ctx, l.HeadKey())
	if errors.Is(err, ErrNotFound) {
		return Head{}, "", false, nil
	}
	if err != nil {
		return Head{}, "", false, fmt.Errorf("read head %s: %w", l.HeadKey(), err)
	}
	if err := json.Unmarshal(data, &h); err != nil {
		return Head{}, "", false, fmt.Errorf("head %s: %w", l.HeadKey(), err)
	}
	return h, etag, true, nil
}

// repairHead writes the head's manifest if a committer died after advancing
// the head and before writing it.
func (a *Archive) repairHead(ctx context.Context, l domain.Layout) error {
	h, _, ok, err := a.ReadHead(ctx, l)
	if err != nil || !ok {
		return err
	}
	return a.ensureHeadManifest(ctx, h)
}

func (a *Archive) ensureHeadManifest(ctx context.Context, h Head) error {
	if _, err := a.Store.Stat(ctx, h.Key); err == nil {
		return nil
	} else if !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("stat %s: %w", h.Key, err)
	}
	var opts PutOptions
	if h.PutOptions != nil {
		opts = *h.PutOptions
	}
	_, err := a.Store.Put(ctx, h.Key, bytesReader(h.Manifest), opts)
	if err != nil && !errors.Is(err, ErrExists) {
		return fmt.Errorf("complete manifest %s from head: %w", h.Key, err)
	}
	return nil
}

// Commit links m into the schedule's chain (Sequence, Prev), writes it
// create-only and marks the claim done. It returns the manifest key and the
// sha256 of its bytes. If another run committed the unit meanwhile (it took
// over this run's expired claim), Commit links nothing and returns an error
// matching both ErrClaimLost and ErrAlreadyArchived.
func (a *Archive) Commit(ctx context.Context, c *Claim, m *Manifest, opts PutOptions) (key, sum string, err error) {
	l := c.layout
	key, err = l.ManifestKey(c.unit, c.rec.Revision)
	if err != nil {
		return "", "", err
	}
	m.FormatVersion = FormatVersion
	if opts.ContentType == "" {
		opts.ContentType = "application/json"
	}
	if c.linked == nil {
		c.linked = map[string]bool{}
	}
	for attempt := 0; ; attempt++ {
		if attempt == 50 {
			return "", "", fmt.Errorf("commit %s: head %s kept moving; giving up", key, l.HeadKey())
		}
		if err := ctx.Err(); err != nil {
			return "", "", err
		}
		h, etag, ok, err := a.ReadHead(ctx, l)
		if err != nil {
			return "", "", err
		}
		m.Prev, m.Sequence = nil, 1
		if ok {
			if h.Key == key {
				if err := a.ensureHeadManifest(ctx, h); err != nil {
					return "", "", err
				}
				if !c.linked[h.SHA256] {
					return "", "", committedByOther(key)
				}
				// We advanced the head already and lost the answer.
				return key, h.SHA256, c.done(ctx, key)
			}
			if err := a.ensureHeadManifest(ctx, h); err != nil {
				return "", "", err
			}
			m.Prev = &Link{Key: h.Key, SHA256: h.SHA256}
			m.Sequence = h.Sequence + 1
		}
		// The manifest may exist already although the head has moved past
		// it: a run that took our expired claim over committed this unit, or
		// we did and lost the answer. Linking it again would put one key in
		// the chain twice with two different hashes (a fork). Checking after
		// reading the head is enough: a commit of this key after our read
		// moves the head, and our compare-and-swap below then fails.
		if done, err := a.committedBy(ctx, key, c.linked); err != nil {
			return "", "", err
		} else if done != "" {
			if done == "other" {
				return "", "", committedByOther(key)
			}
			return key, done, c.done(ctx, key)
		}
		data, err := m.Marshal()
		if err != nil {
			return "", "", err
		}
		sum = SHA256Hex(data)
		c.linked[sum] = true
		o := opts
		nh, _ := json.Marshal(Head{FormatVersion: FormatVersion, Schedule: l.Schedule, Sequence: m.Sequence,
			Key: key, SHA256: sum, Manifest: data, PutOptions: &o})
		if ok {
			_, err = a.Store.Replace(ctx, l.HeadKey(), nh, etag)
		} else {
			_, err = a.Store.Create(ctx, l.HeadKey(), nh)
		}
		if errors.Is(err, ErrPrecondition) || errors.Is(err, ErrExists) || errors.Is(err, ErrNotFound) {
			continue // another commit of this schedule won the race; relink
		}
		if err != nil {
			return "", "", fmt.Errorf("advance head %s: %w", l.HeadKey(), err)
		}
		if _, err := a.Store.Put(ctx, key, bytesReader(data), opts); err != nil && !errors.Is(err, ErrExists) {
			return "", "", fmt.Errorf("write manifest %s: %w", key, err)
		}
		if err := c.done(ctx, key); err != nil {
			return "", "", err
		}
		return key, sum, nil
	}
}

// committedByOther reports that another run committed the unit while this
// run's claim had expired.
func committedByOther(key string) error {
	return fmt.Errorf("commit %s: another run committed this unit after taking the claim over: %w: %w",
		key, ErrClaimLost, &AlreadyArchivedError{Key: key})
}

// committedBy returns "" when no manifest exists at key, the sha256 of the
// stored manifest when it is one that this claim linked into the chain, and
// "other" when another run wrote it.
func (a *Archive) committedBy(ctx context.Context, key string, linked map[string]bool) (string, error) {
	rc, _, err := a.Store.Get(ctx, key)
	if errors.Is(err, ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read %s: %w", key, err)
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.Copy(h, rc); err != nil {
		return "", fmt.Errorf("read %s: %w", key, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if linked[sum] {
		return sum, nil
	}
	return "other", nil
}
