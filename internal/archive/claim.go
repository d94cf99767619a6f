package archive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/exportd/exportd/internal/domain"
)

// Claim states.
const (
	ClaimRunning = "running"
	ClaimDone    = "done"
)

// ClaimRecord is the JSON body of _claims/<schedule>/<unit id>. Claims are
// small, never locked, and deletable: they coordinate runs, while manifests
// are the record of what is archived.
type ClaimRecord struct {
	FormatVersion int       `json:"format_version"`
	Schedule      string    `json:"schedule"`
	UnitID        string    `json:"unit_id"`
	Revision      int       `json:"revision"`
	State         string    `json:"state"`
	Owner         string    `json:"owner"`
	LeaseUntil    time.Time `json:"lease_until"`
	ClaimedAt     time.Time `json:"claimed_at"`
	// Takeovers counts how often an expired lease was taken over.
	Takeovers int `json:"takeovers"`
	// Pending is the manifest being written (objects' keys known, hashes
	// possibly not); it lets a later run complete an interrupted one.
	Pending *Manifest `json:"pending,omitempty"`
	// ManifestKey is set when State is done.
	ManifestKey string `json:"manifest_key,omitempty"`
}

// AlreadyArchivedError carries the key of the committed manifest.
type AlreadyArchivedError struct{ Key string }

func (e *AlreadyArchivedError) Error() string   { return "already archived: " + e.Key }
func (e *AlreadyArchivedError) Is(t error) bool { return t == ErrAlreadyArchived }

// ClaimedError says who holds a live claim.
type ClaimedError struct {
	Owner      string
	LeaseUntil time.Time
}

func (e *ClaimedError) Error() string {
	return fmt.Sprintf("claimed by another run (owner %s, lease until %s)", e.Owner, e.LeaseUntil.UTC().Format(time.RFC3339))
}
func (e *ClaimedError) Is(t error) bool { return t == ErrClaimed }

// ErrClaimLost means another run took the claim over (our lease expired).
var ErrClaimLost = errors.New("claim lost to another run")

// Claim is a held claim on one unit (one revision).
type Claim struct {
	// mu serialises updates: a run renews its lease from another goroutine.
	mu     sync.Mutex
	a      *Archive
	key    string
	etag   string
	rec    ClaimRecord
	prev   *ClaimRecord
	layout domain.Layout
	unit   domain.Unit
	// linked holds the sha256 of every manifest this claim put into the
	// head, so that Commit can tell its own lost answer from another run's
	// commit of the same unit.
	linked map[string]bool
}

// Key returns the claim's key.
func (c *Claim) Key() string { return c.key }

// Previous is the record of an interrupted run whose expired claim this one
// took over, or nil.
func (c *Claim) Previous() *ClaimRecord { return c.prev }

// Claim takes the claim on revision rev of u. It returns an
// *AlreadyArchivedError if the unit is committed, a *ClaimedError if a live
// claim exists, and takes over an expired claim (see Previous).
func (a *Archive) Claim(ctx context.Context, l domain.Layout, u domain.Unit, rev int) (*Claim, error) {
	if rev < 1 {
		rev = 1
	}
	if err := a.repairHead(ctx, l); err != nil {
		return nil, err
	}
	mkey, err := l.ManifestKey(u, rev)
	if err != nil {
		return nil, err
	}
	if _, err := a.Store.Stat(ctx, mkey); err == nil {
		return nil, &AlreadyArchivedError{Key: mkey}
	} else if !errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("stat %s: %w", mkey, err)
	}
	key := l.RevisionClaimKey(u, rev)
	now := a.now()
	c := &Claim{a: a, key: key, layout: l, unit: u, rec: ClaimRecord{
		FormatVersion: FormatVersion, Schedule: l.Schedule, UnitID: u.ID(), Revision: rev,
		State: ClaimRunning, Owner: a.Instance, ClaimedAt: now, LeaseUntil: now.Add(a.lease()),
	}}
	data, _ := json.Marshal(c.rec)
	etag, err := a.Store.Create(ctx, key, data)
	if err == nil {
		c.etag = etag
		// A run that committed this unit between our look for its manifest
		// and our create removed its claim when done: look again.
		if _, err := a.Store.Stat(ctx, mkey); err == nil {
			_ = c.Release(ctx)
			return nil, &AlreadyArchivedError{Key: mkey}
		} else if !errors.Is(err, ErrNotFound) {
			_ = c.Release(ctx)
			return nil, fmt.Errorf("stat %s: %w", mkey, err)
		}
		return c, nil
	}
	if !errors.Is(err, ErrExists) {
		return nil, fmt.Errorf("create claim %s: %w", key, err)
	}
	old, oldTag, err := a.readClaim(ctx, key)
	var torn *tornClaimError
	if errors.As(err, &torn) {
		// A claim cut short by a crash (stores need not make claims
		// durable): no run holds it, so it is taken over like an expired one.
		old, oldTag, err = ClaimRecord{}, torn.etag, nil
	}
	if errors.Is(err, ErrNotFound) {
		// Released between our create and read: the other run failed.
		// Report it as claimed; the next fire retries.
		return nil, &ClaimedError{Owner: "(released)", LeaseUntil: now}
	}
	if err != nil {
		return nil, err
	}
	if old.State == ClaimDone {
		return nil, &AlreadyArchivedError{Key: old.ManifestKey}
	}
	if now.Before(old.LeaseUntil) && (a.OwnerDead == nil || !a.OwnerDead(old.Owner)) {
		return nil, &ClaimedError{Owner: old.Owner, LeaseUntil: old.LeaseUntil}
	}
	// The lease expired (or its owner is known dead): the run died. Take it
	// over, keeping its pending
	// manifest so that we can complete its work.
	c.rec.Takeovers = old.Takeovers + 1
	c.rec.Pending = old.Pending
	data, _ = json.Marshal(c.rec)
	etag, err = a.Store.Replace(ctx, key, data, oldTag)
	if errors.Is(err, ErrPrecondition) || errors.Is(err, ErrNotFound) {
		return nil, &ClaimedError{Owner: "(another replica took over first)", LeaseUntil: now}
	}
	if err != nil {
		return nil, fmt.Errorf("take over claim %s: %w", key, err)
	}
	c.etag = etag
	c.prev = &old
	return c, nil
}

func (a *Archive) readClaim(ctx context.Context, key string) (ClaimRecord, string, error) {
	data, etag, err := a.Store.Read(ctx, key)
	if err != nil {
		return ClaimRecord{}, "", err
	}
	var r ClaimRecord
	if err := json.Unmarshal(data, &r); err != nil {
		return ClaimRecord{}, "", &tornClaimError{key: key, etag: etag, err: err}
	}
	return r, etag, nil
}

// tornClaimError is a claim whose bytes do not decode.
type tornClaimError struct {
	key, etag string
	err       error
}

func (e *tornClaimError) Error() string { return fmt.Sprintf("claim %s: %v", e.key, e.err) }
func (e *tornClaimError) Unwrap() error { return e.err }

func (c *Claim) update(ctx context.Context, change func(*ClaimRecord)) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	change(&c.rec)
	data, _ := json.Marshal(c.rec)
	etag, err := c.a.Store.Replace(ctx, c.key, data, c.etag)
	if errors.Is(err, ErrPrecondition) || errors.Is(err, ErrNotFound) {
		return fmt.Errorf("%s: %w", c.key, ErrClaimLost)
	}
	if err != nil {
		return fmt.Errorf("update claim %s: %w", c.key, err)
	}
	c.etag = etag
	return nil
}

// Record stores the manifest being written in the claim, before its objects
// are uploaded, and renews the lease.
func (c *Claim) Record(ctx context.Context, pending *Manifest) error {
	return c.update(ctx, func(r *ClaimRecord) {
		p := *pending
		r.Pending = &p
		r.LeaseUntil = c.a.now().Add(c.a.lease())
	})
}

// Renew extends the lease. Call it at least every Lease/3 while running.
func (c *Claim) Renew(ctx context.Context) error {
	return c.update(ctx, func(r *ClaimRecord) { r.LeaseUntil = c.a.now().Add(c.a.lease()) })
}

// Release deletes the claim after a failed run so another run can start at
// once. Pass a context that is not the run's (it may be cancelled).
func (c *Claim) Release(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	err := c.a.Store.Delete(ctx, c.key, c.etag)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("release claim %s: %w", c.key, err)
	}
	return nil
}

// done removes the claim once its manifest is committed: a claim only
// coordinates runs, and the manifest (which Claim looks for first) now says
// the unit is archived. When the claim cannot be removed it is marked done,
// so that it never stays running beside a committed manifest.
func (c *Claim) done(ctx context.Context, manifestKey string) error {
	c.mu.Lock()
	err := c.a.Store.Delete(ctx, c.key, c.etag)
	c.mu.Unlock()
	if err == nil || errors.Is(err, ErrNotFound) {
		return nil
	}
	return c.update(ctx, func(r *ClaimRecord) {
		r.State = ClaimDone
		r.ManifestKey = manifestKey
		r.Pending = nil
	})
}
