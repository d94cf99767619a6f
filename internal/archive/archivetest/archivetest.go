// Package archivetest is the acceptance test that every archive.Store must
// pass: the folder store and the S3 store run the same suite, so the commit
// protocol in package archive can rely on one set of guarantees (create-only
// puts that never show a partial object, compare-and-swap on small objects,
// lexical listing) whatever the backend.
package archivetest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/domain"
)

// Run runs the acceptance suite. newStore must return an empty store that
// no other test uses; it is called once per subtest.
func Run(t *testing.T, newStore func(t *testing.T) archive.Store) {
	t.Run("PutCreateOnly", func(t *testing.T) { testPutCreateOnly(t, newStore(t)) })
	t.Run("PutFailingBody", func(t *testing.T) { testPutFailingBody(t, newStore(t)) })
	t.Run("GetStat", func(t *testing.T) { testGetStat(t, newStore(t)) })
	t.Run("List", func(t *testing.T) { testList(t, newStore(t)) })
	t.Run("SmallObjects", func(t *testing.T) { testSmallObjects(t, newStore(t)) })
	t.Run("RaceCreate", func(t *testing.T) { testRaceCreate(t, newStore(t)) })
	t.Run("RaceReplace", func(t *testing.T) { testRaceReplace(t, newStore(t)) })
	t.Run("BadKeys", func(t *testing.T) { testBadKeys(t, newStore(t)) })
	t.Run("ListStaysInside", func(t *testing.T) { testListStaysInside(t, newStore(t)) })
	t.Run("Protocol", func(t *testing.T) {
		t.Run("CommitThenAlreadyArchived", func(t *testing.T) { testCommitThenAlreadyArchived(t, newStore(t)) })
		t.Run("LiveClaim", func(t *testing.T) { testLiveClaim(t, newStore(t)) })
		t.Run("ExpiredLeaseTakenOver", func(t *testing.T) { testExpiredLease(t, newStore(t)) })
		t.Run("Release", func(t *testing.T) { testRelease(t, newStore(t)) })
		t.Run("PauseMarker", func(t *testing.T) { testPauseMarker(t, newStore(t)) })
		t.Run("Chain", func(t *testing.T) { testChain(t, newStore(t)) })
		t.Run("Verify", func(t *testing.T) { testVerify(t, newStore(t)) })
		t.Run("HeadAheadOfManifest", func(t *testing.T) { testHeadAheadOfManifest(t, newStore(t)) })
		t.Run("StaleCommitterDoesNotFork", func(t *testing.T) { testStaleCommitter(t, newStore(t)) })
		t.Run("ConcurrentReplicas", func(t *testing.T) { testConcurrentReplicas(t, newStore(t)) })
	})
}

// BigBody is the size of the large bodies the suite streams: above the S3
// store's smallest part size (5 MiB) twice, so that a store with a small
// part size exercises multipart uploads.
const BigBody = 12<<20 + 12345

// Pattern returns n deterministic bytes that differ per seed.
func Pattern(seed byte, n int) []byte {
	b := make([]byte, n)
	x := uint32(seed)*2654435761 + 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// errBody is what a failing body returns midway.
var errBody = errors.New("archivetest: body failed midway")

// failingReader yields n bytes of data, then errBody.
type failingReader struct {
	r io.Reader
}

func newFailingReader(data []byte) io.Reader {
	return &failingReader{r: bytes.NewReader(data)}
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, errBody
	}
	return n, err
}

func mustPut(t *testing.T, s archive.Store, key string, data []byte) archive.ObjectInfo {
	t.Helper()
	info, err := s.Put(t.Context(), key, bytes.NewReader(data), archive.PutOptions{ContentType: "text/csv"})
	if err != nil {
		t.Fatalf("Put %s: %v", key, err)
	}
	return info
}

func readAll(t *testing.T, s archive.Store, key string) []byte {
	t.Helper()
	rc, _, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get %s: %v", key, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return data
}

func listKeys(t *testing.T, s archive.Store, prefix string) []string {
	t.Helper()
	var keys []string
	err := s.List(t.Context(), prefix, func(oi archive.ObjectInfo) error {
		keys = append(keys, oi.Key)
		return nil
	})
	if err != nil {
		t.Fatalf("List %q: %v", prefix, err)
	}
	return keys
}

func testPutCreateOnly(t *testing.T, s archive.Store) {
	ctx := t.Context()
	for _, size := range []int{0, 1000, BigBody} {
		key := fmt.Sprintf("dest/daily/dt=2027-03-14/put-%d.csv", size)
		first, second := Pattern(1, size), Pattern(2, size+7)
		info := mustPut(t, s, key, first)
		if info.Key != key || info.Size != int64(size) {
			t.Errorf("Put %s returned key %q size %d, want %q %d", key, info.Key, info.Size, key, size)
		}
		_, err := s.Put(ctx, key, bytes.NewReader(second), archive.PutOptions{})
		if !errors.Is(err, archive.ErrExists) {
			t.Fatalf("second Put %s: err = %v, want ErrExists", key, err)
		}
		if got := readAll(t, s, key); !bytes.Equal(got, first) {
			t.Fatalf("after a refused second Put, %s holds %d bytes, want the first %d", key, len(got), len(first))
		}
	}
}

func testPutFailingBody(t *testing.T, s archive.Store) {
	ctx := t.Context()
	for _, size := range []int{1000, BigBody} {
		key := fmt.Sprintf("dest/daily/dt=2027-03-14/fail-%d.csv", size)
		_, err := s.Put(ctx, key, newFailingReader(Pattern(3, size)), archive.PutOptions{})
		if err == nil {
			t.Fatalf("Put %s with a failing body succeeded", key)
		}
		if !errors.Is(err, errBody) {
			t.Errorf("Put %s with a failing body: %v; want it to wrap the body's error", key, err)
		}
		if _, err := s.Stat(ctx, key); !errors.Is(err, archive.ErrNotFound) {
			t.Fatalf("Stat %s after a failed Put: err = %v, want ErrNotFound", key, err)
		}
		if _, _, err := s.Get(ctx, key); !errors.Is(err, archive.ErrNotFound) {
			t.Fatalf("Get %s after a failed Put: err = %v, want ErrNotFound", key, err)
		}
		if keys := listKeys(t, s, key); len(keys) != 0 {
			t.Fatalf("List after a failed Put shows %q, want nothing", keys)
		}
		// Nothing left behind blocks a later run of the same key.
		want := Pattern(4, size)
		mustPut(t, s, key, want)
		if got := readAll(t, s, key); !bytes.Equal(got, want) {
			t.Fatalf("Put after a failed Put: %s holds %d bytes, want %d", key, len(got), len(want))
		}
	}
	// A cancelled context fails the Put and leaves nothing either.
	cctx, cancel := context.WithCancel(ctx)
	pr, pw := io.Pipe()
	go func() {
		_, _ = pw.Write(Pattern(5, 6<<20))
		cancel()
		_, _ = pw.Write(Pattern(6, 6<<20))
		pw.Close()
	}()
	key := "dest/daily/dt=2027-03-14/cancelled.csv"
	if _, err := s.Put(cctx, key, pr, archive.PutOptions{}); err == nil {
		t.Fatalf("Put %s with a cancelled context succeeded", key)
	}
	pr.CloseWithError(errors.New("done")) // release the writer if Put left early
	if _, err := s.Stat(ctx, key); !errors.Is(err, archive.ErrNotFound) {
		t.Fatalf("Stat %s after a cancelled Put: err = %v, want ErrNotFound", key, err)
	}
}

func testGetStat(t *testing.T, s archive.Store) {
	ctx := t.Context()
	key := "dest/daily/dt=2027-11-07/obj.csv"
	data := Pattern(7, 4321)
	mustPut(t, s, key, data)
	info, err := s.Stat(ctx, key)
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if info.Key != key || info.Size != int64(len(data)) {
		t.Errorf("Stat = key %q size %d, want %q %d", info.Key, info.Size, key, len(data))
	}
	rc, ginfo, err := s.Get(ctx, key)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get returned %d bytes (err %v), want %d", len(got), err, len(data))
	}
	if ginfo.Key != key || ginfo.Size != int64(len(data)) {
		t.Errorf("Get info = key %q size %d, want %q %d", ginfo.Key, ginfo.Size, key, len(data))
	}
	for _, missing := range []string{"dest/daily/dt=2027-11-07/nope.csv", "dest/daily/dt=2027-11-07", "dest/daily"} {
		if _, err := s.Stat(ctx, missing); !errors.Is(err, archive.ErrNotFound) {
			t.Errorf("Stat %s: err = %v, want ErrNotFound", missing, err)
		}
		if _, _, err := s.Get(ctx, missing); !errors.Is(err, archive.ErrNotFound) {
			t.Errorf("Get %s: err = %v, want ErrNotFound", missing, err)
		}
	}
}

func testList(t *testing.T, s archive.Store) {
	ctx := t.Context()
	// Put out of order; '-' (0x2d) sorts before '/' (0x2f), which a
	// folder walk that lists a directory before its sibling files gets wrong.
	keys := []string{"s/b", "s/ab/1", "s/a/2", "s/a-/x", "s/a/1", "t/1", "s/a.csv", "s/a/sub/deep.csv"}
	for i, k := range keys {
		mustPut(t, s, k, Pattern(byte(i), 10+i))
	}
	// Small objects are listed too (the auditor sees claims and heads).
	if _, err := s.Create(ctx, "_claims/daily/u1", []byte(`{"x":1}`)); err != nil {
		t.Fatal(err)
	}
	// An upload in flight is not listed.
	pr, pw := io.Pipe()
	putDone := make(chan error, 1)
	go func() {
		_, err := s.Put(ctx, "s/a/inflight", pr, archive.PutOptions{})
		putDone <- err
	}()
	if _, err := pw.Write(Pattern(9, 7<<20)); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		prefix string
		want   []string
	}{
		{"s/a", []string{"s/a-/x", "s/a.csv", "s/a/1", "s/a/2", "s/a/sub/deep.csv", "s/ab/1"}},
		{"s/a/", []string{"s/a/1", "s/a/2", "s/a/sub/deep.csv"}},
		{"s/", []string{"s/a-/x", "s/a.csv", "s/a/1", "s/a/2", "s/a/sub/deep.csv", "s/ab/1", "s/b"}},
		{"s/a/sub/d", []string{"s/a/sub/deep.csv"}},
		{"t", []string{"t/1"}},
		{"u", nil},
		{"s/b", []string{"s/b"}},
		{"_claims/", []string{"_claims/daily/u1"}},
		{"", []string{"_claims/daily/u1", "s/a-/x", "s/a.csv", "s/a/1", "s/a/2", "s/a/sub/deep.csv", "s/ab/1", "s/b", "t/1"}},
	}
	for _, c := range cases {
		got := listKeys(t, s, c.prefix)
		if strings.Join(got, " ") != strings.Join(c.want, " ") {
			t.Errorf("List %q =\n  %q\nwant\n  %q", c.prefix, got, c.want)
		}
	}
	pw.CloseWithError(errBody)
	if err := <-putDone; err == nil {
		t.Fatal("the in-flight Put succeeded although its body failed")
	}
	// Sizes are reported and fn's error stops the walk.
	stop := errors.New("stop")
	n := 0
	err := s.List(ctx, "s/", func(oi archive.ObjectInfo) error {
		if oi.Key == "s/a-/x" && oi.Size != 13 {
			t.Errorf("List size of s/a-/x = %d, want 13", oi.Size)
		}
		n++
		if n == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 2 {
		t.Errorf("List with fn failing at the 2nd object: err %v after %d calls, want stop after 2", err, n)
	}
	if got := listKeys(t, s, "s/a/"); len(got) != 3 {
		t.Errorf("after a failed in-flight Put, List s/a/ = %q", got)
	}
}

func testSmallObjects(t *testing.T, s archive.Store) {
	ctx := t.Context()
	key := "_claims/daily/20270314T080000Z-20270315T070000Z"
	etag1, err := s.Create(ctx, key, []byte(`{"v":1}`))
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if etag1 == "" {
		t.Fatal("Create returned an empty etag")
	}
	if _, err := s.Create(ctx, key, []byte(`{"v":"other"}`)); !errors.Is(err, archive.ErrExists) {
		t.Fatalf("second Create: err = %v, want ErrExists", err)
	}
	data, etag, err := s.Read(ctx, key)
	if err != nil || string(data) != `{"v":1}` || etag != etag1 {
		t.Fatalf("Read = %q %q %v, want {\"v\":1} %q", data, etag, err, etag1)
	}
	etag2, err := s.Replace(ctx, key, []byte(`{"v":2}`), etag1)
	if err != nil {
		t.Fatalf("Replace with the current etag: %v", err)
	}
	if etag2 == etag1 || etag2 == "" {
		t.Fatalf("Replace returned etag %q, want a new one (old %q)", etag2, etag1)
	}
	if _, err := s.Replace(ctx, key, []byte(`{"v":3}`), etag1); !errors.Is(err, archive.ErrPrecondition) {
		t.Fatalf("Replace with a stale etag: err = %v, want ErrPrecondition", err)
	}
	if _, err := s.Replace(ctx, key, []byte(`{"v":3}`), `"not-an-etag"`); !errors.Is(err, archive.ErrPrecondition) {
		t.Fatalf("Replace with a made-up etag: err = %v, want ErrPrecondition", err)
	}
	data, etag, err = s.Read(ctx, key)
	if err != nil || string(data) != `{"v":2}` || etag != etag2 {
		t.Fatalf("Read after Replace = %q %q %v, want {\"v\":2} %q", data, etag, err, etag2)
	}
	if err := s.Delete(ctx, key, etag1); !errors.Is(err, archive.ErrPrecondition) {
		t.Fatalf("Delete with a stale etag: err = %v, want ErrPrecondition", err)
	}
	if data, _, err := s.Read(ctx, key); err != nil || string(data) != `{"v":2}` {
		t.Fatalf("after a refused Delete, Read = %q %v", data, err)
	}
	if err := s.Delete(ctx, key, etag2); err != nil {
		t.Fatalf("Delete with the current etag: %v", err)
	}
	if _, _, err := s.Read(ctx, key); !errors.Is(err, archive.ErrNotFound) {
		t.Fatalf("Read after Delete: err = %v, want ErrNotFound", err)
	}
	if _, err := s.Stat(ctx, key); !errors.Is(err, archive.ErrNotFound) {
		t.Fatalf("Stat after Delete: err = %v, want ErrNotFound", err)
	}
	if _, err := s.Replace(ctx, key, []byte(`{"v":4}`), etag2); !errors.Is(err, archive.ErrNotFound) && !errors.Is(err, archive.ErrPrecondition) {
		t.Fatalf("Replace of a deleted object: err = %v, want ErrNotFound or ErrPrecondition", err)
	}
	if _, _, err := s.Read(ctx, key); !errors.Is(err, archive.ErrNotFound) {
		t.Fatalf("a refused Replace of a deleted object created it: Read err = %v", err)
	}
	if err := s.Delete(ctx, key, etag2); err != nil && !errors.Is(err, archive.ErrNotFound) {
		t.Fatalf("Delete of a deleted object: err = %v, want nil or ErrNotFound", err)
	}
	// The key can be claimed again after a release.
	etag3, err := s.Create(ctx, key, []byte(`{"v":5}`))
	if err != nil {
		t.Fatalf("Create after Delete: %v", err)
	}
	if data, etag, err := s.Read(ctx, key); err != nil || string(data) != `{"v":5}` || etag != etag3 {
		t.Fatalf("Read after re-Create = %q %q %v", data, etag, err)
	}
	if got := listKeys(t, s, "_claims/"); strings.Join(got, " ") != key {
		t.Fatalf("List _claims/ = %q, want only %q", got, key)
	}
	// Create and Put are create-only against each other too.
	if _, err := s.Put(ctx, key, strings.NewReader("x"), archive.PutOptions{}); !errors.Is(err, archive.ErrExists) {
		t.Fatalf("Put over a small object: err = %v, want ErrExists", err)
	}
	okey := "dest/daily/dt=2027-03-14/obj.csv"
	mustPut(t, s, okey, []byte("a,b\n"))
	if _, err := s.Create(ctx, okey, []byte("x")); !errors.Is(err, archive.ErrExists) {
		t.Fatalf("Create over a Put object: err = %v, want ErrExists", err)
	}
}

const racers = 8

func testRaceCreate(t *testing.T, s archive.Store) {
	ctx := t.Context()
	for round := range 3 {
		key := fmt.Sprintf("_head/race-%d", round)
		var wg sync.WaitGroup
		etags := make([]string, racers)
		errs := make([]error, racers)
		start := make(chan struct{})
		for i := range racers {
			wg.Go(func() {
				<-start
				etags[i], errs[i] = s.Create(ctx, key, []byte(fmt.Sprintf(`{"racer":%d}`, i)))
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Fatalf("round %d: racers %d and %d both created %s", round, winner, i, key)
			case err == nil:
				winner = i
			case !errors.Is(err, archive.ErrExists):
				t.Fatalf("round %d: racer %d: err = %v, want ErrExists", round, i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no racer created %s", round, key)
		}
		data, etag, err := s.Read(ctx, key)
		if err != nil || string(data) != fmt.Sprintf(`{"racer":%d}`, winner) || etag != etags[winner] {
			t.Fatalf("round %d: %s holds %q etag %q (err %v); the winner was %d with etag %q",
				round, key, data, etag, err, winner, etags[winner])
		}
	}
}

func testRaceReplace(t *testing.T, s archive.Store) {
	ctx := t.Context()
	key := "_head/race"
	etag, err := s.Create(ctx, key, []byte(`{"gen":0}`))
	if err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		var wg sync.WaitGroup
		etags := make([]string, racers)
		errs := make([]error, racers)
		start := make(chan struct{})
		for i := range racers {
			wg.Go(func() {
				<-start
				etags[i], errs[i] = s.Replace(ctx, key, []byte(fmt.Sprintf(`{"gen":%d,"racer":%d}`, round+1, i)), etag)
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Fatalf("round %d: racers %d and %d both replaced %s with the same etag", round, winner, i, key)
			case err == nil:
				winner = i
			case !errors.Is(err, archive.ErrPrecondition):
				t.Fatalf("round %d: racer %d: err = %v, want ErrPrecondition", round, i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no racer replaced %s", round, key)
		}
		data, cur, err := s.Read(ctx, key)
		if err != nil || string(data) != fmt.Sprintf(`{"gen":%d,"racer":%d}`, round+1, winner) || cur != etags[winner] {
			t.Fatalf("round %d: %s holds %q etag %q (err %v), want the winner %d's write", round, key, data, cur, err, winner)
		}
		etag = cur
	}
}

// BadKeys are keys every store must refuse.
var BadKeys = []string{
	"", "/abs/key", "a//b", "a/../b", "..", "../x", "a/..", ".", "a/./b", "a/b/",
	`a\b`, "a\x00b", "a\nb", "a\tb", "a\x7fb", "a\x1bb", "a/\xff/b", strings.Repeat("k", 1025),
}

func testBadKeys(t *testing.T, s archive.Store) {
	ctx := t.Context()
	for _, key := range BadKeys {
		check := func(op string, err error) {
			t.Helper()
			if !errors.Is(err, domain.ErrBadKey) {
				t.Errorf("%s(%q): err = %v, want ErrBadKey", op, key, err)
			}
		}
		_, err := s.Put(ctx, key, strings.NewReader("x"), archive.PutOptions{})
		check("Put", err)
		_, err = s.Stat(ctx, key)
		check("Stat", err)
		_, _, err = s.Get(ctx, key)
		check("Get", err)
		_, err = s.Create(ctx, key, []byte("x"))
		check("Create", err)
		_, err = s.Replace(ctx, key, []byte("x"), `"e"`)
		check("Replace", err)
		_, _, err = s.Read(ctx, key)
		check("Read", err)
		check("Delete", s.Delete(ctx, key, `"e"`))
	}
	if keys := listKeys(t, s, ""); len(keys) != 0 {
		t.Errorf("after refused writes, List shows %q", keys)
	}
}

// BadListPrefixes are List prefixes that no valid key can start with
// because a complete segment is empty or a dot segment, or that hold a
// character no key may hold. A store refuses them (ErrBadKey) rather than
// answering an empty list: a folder store that walked "../" would list
// files outside its root, and an auditor's typo deserves an error.
var BadListPrefixes = []string{"../", "../../", "/", "/k", "k/../", "./", "k//", `k\`, "k\x00", "k/\n"}

// testListStaysInside checks that a List prefix cannot reach outside the
// store.
func testListStaysInside(t *testing.T, s archive.Store) {
	ctx := t.Context()
	mustPut(t, s, "k/x.csv", []byte("x"))
	mustPut(t, s, "k/..x.csv", []byte("x"))
	for _, prefix := range BadListPrefixes {
		var listed []string
		err := s.List(ctx, prefix, func(oi archive.ObjectInfo) error {
			listed = append(listed, oi.Key)
			return nil
		})
		if !errors.Is(err, domain.ErrBadKey) {
			t.Errorf("List(%q): err = %v, want ErrBadKey", prefix, err)
		}
		if len(listed) > 0 {
			t.Errorf("List(%q) returned %q", prefix, listed)
		}
	}
	// A partial last segment may look like a dot segment: "..x.csv" is a
	// valid name.
	for prefix, want := range map[string]string{"k/..": "k/..x.csv", "k/.": "k/..x.csv", "k/x": "k/x.csv"} {
		if got := listKeys(t, s, prefix); strings.Join(got, " ") != want {
			t.Errorf("List(%q) = %q, want %q", prefix, got, want)
		}
	}
}

// clock is a settable time source shared by the replicas of a test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func testLayout(t *testing.T) domain.Layout {
	t.Helper()
	loc, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		t.Fatal(err)
	}
	f, err := domain.ParseFilename("{window_start:2006-01-02_1504}_{schedule}", true)
	if err != nil {
		t.Fatal(err)
	}
	return domain.Layout{Prefix: "dest/audit", Schedule: "daily", Location: loc, Filename: f, Ext: ".csv"}
}

// unitN is day n of a daily schedule starting on the DST change of
// 2027-03-14 in Los Angeles (windows start at local midnight).
func unitN(t *testing.T, l domain.Layout, n int) domain.Unit {
	day := time.Date(2027, 3, 14, 0, 0, 0, 0, l.Location).AddDate(0, 0, n)
	end := day.AddDate(0, 0, 1)
	return domain.Unit{Schedule: l.Schedule, Logical: end.Add(time.Hour).UTC(),
		Window: domain.Window{Start: day.UTC(), End: end.UTC()}}
}

func replica(s archive.Store, name string, clk *clock) *archive.Archive {
	a := &archive.Archive{Store: s, Instance: name, Lease: time.Minute}
	if clk != nil {
		a.Now = clk.Now
	}
	return a
}

func newManifest(a *archive.Archive, l domain.Layout, u domain.Unit, objKey string) *archive.Manifest {
	w := u.Window
	return &archive.Manifest{
		Kind: domain.KindExported, Schedule: l.Schedule, UnitID: u.ID(), LogicalTime: u.Logical,
		Window: &w, Timezone: l.Location.String(), Revision: 1,
		Run:     archive.RunInfo{StartedAt: u.Logical, FinishedAt: u.Logical.Add(time.Second), Attempt: 1, Instance: a.Instance, ExportdVersion: "test"},
		Source:  archive.Source{Name: "demo", Dialect: "duckdb"},
		Query:   &archive.Query{SQL: "SELECT 1", Params: []archive.Param{}},
		Columns: []archive.Column{{Name: "day", Type: "DATE"}},
		Objects: []archive.Object{{Key: objKey, ContentType: "text/csv"}},
	}
}

// export runs unit u through the whole protocol as one replica.
func export(ctx context.Context, a *archive.Archive, l domain.Layout, u domain.Unit) (string, error) {
	c, err := a.Claim(ctx, l, u, 1)
	if err != nil {
		return "", err
	}
	okey, err := l.ObjectKey(u, 1)
	if err != nil {
		return "", err
	}
	m := newManifest(a, l, u, okey)
	if err := c.Record(ctx, m); err != nil {
		return "", err
	}
	body := []byte("day,n\n" + u.ID() + ",1\n")
	info, err := a.Store.Put(ctx, okey, bytes.NewReader(body), archive.PutOptions{ContentType: "text/csv"})
	if err != nil {
		return "", fmt.Errorf("put %s: %w", okey, err)
	}
	m.Objects[0].Bytes, m.Objects[0].Rows, m.Objects[0].SHA256 = info.Size, 1, archive.SHA256Hex(body)
	m.Objects[0].StoreChecksums = info.Checksums
	key, _, err := a.Commit(ctx, c, m, archive.PutOptions{})
	return key, err
}

func mustExport(t *testing.T, a *archive.Archive, l domain.Layout, u domain.Unit) string {
	t.Helper()
	key, err := export(t.Context(), a, l, u)
	if err != nil {
		t.Fatalf("export %s by %s: %v", u.ID(), a.Instance, err)
	}
	return key
}

// VerifyChain checks the schedule's chain with archive.Chain (from its
// head back to the first manifest, every link's sha256 and sequence), that
// it holds n manifests and that no manifest of the schedule is outside it.
// It returns their keys in commit order. (archive.Verify also reads the
// objects back; the protocol tests commit manifests without real objects.)
func VerifyChain(t *testing.T, s archive.Store, l domain.Layout, n int) []string {
	t.Helper()
	ctx := t.Context()
	rep := &archive.Report{}
	chain, err := archive.Chain(ctx, s, l, rep)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) > 0 {
		t.Fatalf("archive.Chain: %s", strings.Join(rep.Problems, "\n"))
	}
	if len(chain) != n {
		t.Fatalf("chain of %d manifests, want %d", len(chain), n)
	}
	keys := make([]string, len(chain))
	seen := map[string]bool{}
	for i, e := range chain {
		keys[i], seen[e.Key] = e.Key, true
	}
	var stray []string
	err = s.List(ctx, l.ScheduleDir(), func(oi archive.ObjectInfo) error {
		if strings.HasSuffix(oi.Key, ".manifest.json") && !seen[oi.Key] {
			stray = append(stray, oi.Key)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(stray) > 0 {
		t.Fatalf("manifests outside the chain: %q", stray)
	}
	return keys
}

// testVerify: Verify finds a window that was never archived, and one
// before the first when the expected start is given; it counts what it
// read back.
func testVerify(t *testing.T, s archive.Store) {
	ctx := t.Context()
	l := testLayout(t)
	r1, r2 := replica(s, "r1", nil), replica(s, "r2", nil)
	for i, n := range []int{4, 1, 3} {
		a := r1
		if i%2 == 1 {
			a = r2
		}
		mustExport(t, a, l, unitN(t, l, n))
	}
	rep, err := archive.Verify(ctx, s, l, archive.VerifyOptions{ExpectStart: unitN(t, l, 0).Window.Start})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) > 0 || rep.Manifests != 3 || rep.Objects != 3 || rep.Bytes == 0 || rep.Kinds[domain.KindExported] != 3 {
		t.Fatalf("report %+v", rep)
	}
	want := []domain.Window{unitN(t, l, 0).Window, unitN(t, l, 2).Window}
	if len(rep.Missing) != 2 || rep.Missing[0] != want[0] || rep.Missing[1] != want[1] || rep.OK() {
		t.Fatalf("missing %v, want %v", rep.Missing, want)
	}
	if !rep.First.Equal(unitN(t, l, 1).Window.Start) || !rep.Last.Equal(unitN(t, l, 4).Window.End) {
		t.Errorf("covers %s to %s", rep.First, rep.Last)
	}
	empty, err := archive.Verify(ctx, s, domain.Layout{Prefix: l.Prefix, Schedule: "nothing-yet"}, archive.VerifyOptions{})
	if err != nil || !empty.OK() || empty.Manifests != 0 {
		t.Fatalf("a schedule with nothing archived: %+v, %v", empty, err)
	}

	// Signed digests: required once a public key is given; each must
	// verify and sign its entry of the chain, and cover the newest.
	pub, key, _ := ed25519.GenerateKey(nil)
	_, otherKey, _ := ed25519.GenerateKey(nil)
	chain, err := archive.Chain(ctx, s, l, &archive.Report{})
	if err != nil || len(chain) != 3 {
		t.Fatalf("chain: %d, %v", len(chain), err)
	}
	signed := func() *archive.Report {
		t.Helper()
		rep, err := archive.Verify(ctx, s, l, archive.VerifyOptions{PublicKey: pub})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	if rep := signed(); len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0], "manifests 1 to 3 are not covered") {
		t.Fatalf("no digests: %q", rep.Problems)
	}
	for _, e := range chain[:2] {
		if err := r1.WriteDigest(ctx, l, key, e.Manifest.Sequence, e.Key, e.SHA256, archive.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if rep := signed(); rep.Signed != 2 || len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0], "manifests 3 to 3 are not covered") {
		t.Fatalf("two of three signed: signed through %d, %q", rep.Signed, rep.Problems)
	}
	// The newest, but signed with another key, and naming the wrong bytes.
	e := chain[2]
	if err := r1.WriteDigest(ctx, l, otherKey, e.Manifest.Sequence, e.Key, e.SHA256, archive.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if rep := signed(); rep.Signed != 2 || len(rep.Problems) != 2 || !strings.Contains(rep.Problems[0], "not with the given public key") {
		t.Fatalf("signed by another key: %q", rep.Problems)
	}
	l2 := l
	l2.Schedule = "other"
	if err := r1.WriteDigest(ctx, l2, key, 1, chain[0].Key, chain[0].SHA256, archive.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if rep, err := archive.Verify(ctx, s, l2, archive.VerifyOptions{PublicKey: pub}); err != nil || rep.Signed != 0 || len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0], "not that entry of the chain") {
		t.Fatalf("a digest of a manifest that is not in the schedule's chain: %+v, %v", rep, err)
	}
}

func testCommitThenAlreadyArchived(t *testing.T, s archive.Store) {
	ctx := t.Context()
	l := testLayout(t)
	u := unitN(t, l, 0)
	r1 := replica(s, "r1", nil)
	c, err := r1.Claim(ctx, l, u, 1)
	if err != nil {
		t.Fatalf("Claim: %v", err)
	}
	okey, _ := l.ObjectKey(u, 1)
	m := newManifest(r1, l, u, okey)
	if err := c.Record(ctx, m); err != nil {
		t.Fatalf("Record: %v", err)
	}
	body := []byte("day,n\n2027-03-14,1\n")
	info, err := s.Put(ctx, okey, bytes.NewReader(body), archive.PutOptions{ContentType: "text/csv"})
	if err != nil {
		t.Fatalf("Put object: %v", err)
	}
	m.Objects[0].Bytes, m.Objects[0].SHA256 = info.Size, archive.SHA256Hex(body)
	key, sum, err := r1.Commit(ctx, c, m, archive.PutOptions{})
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if want, _ := l.ManifestKey(u, 1); key != want {
		t.Errorf("Commit key = %s, want %s", key, want)
	}
	stored := readAll(t, s, key)
	if archive.SHA256Hex(stored) != sum {
		t.Errorf("Commit returned sha256 %s, stored manifest has %s", sum, archive.SHA256Hex(stored))
	}
	got, err := archive.ParseManifest(stored)
	if err != nil {
		t.Fatal(err)
	}
	if got.Sequence != 1 || got.Prev != nil || got.Objects[0].Key != okey {
		t.Errorf("manifest = seq %d prev %+v objects %+v", got.Sequence, got.Prev, got.Objects)
	}
	// The claim only coordinated the run: once the manifest is committed
	// it is gone, not left running (nor done) for ever.
	if data, _, err := s.Read(ctx, c.Key()); !errors.Is(err, archive.ErrNotFound) {
		t.Errorf("claim after commit = %s (err %v), want it removed", data, err)
	}
	if left := listKeys(t, s, "_claims/"); len(left) != 0 {
		t.Errorf("claims left after commit: %q", left)
	}
	for _, who := range []string{"r1", "r2"} {
		_, err = replica(s, who, nil).Claim(ctx, l, u, 1)
		var aa *archive.AlreadyArchivedError
		if !errors.Is(err, archive.ErrAlreadyArchived) || !errors.As(err, &aa) || aa.Key != key {
			t.Errorf("Claim by %s after commit: err = %v, want ErrAlreadyArchived with key %s", who, err, key)
		}
	}
	VerifyChain(t, s, l, 1)
}

func testLiveClaim(t *testing.T, s archive.Store) {
	ctx := t.Context()
	l := testLayout(t)
	u := unitN(t, l, 1)
	clk := &clock{t: time.Date(2027, 3, 16, 9, 0, 0, 0, time.UTC)}
	if _, err := replica(s, "r1", clk).Claim(ctx, l, u, 1); err != nil {
		t.Fatal(err)
	}
	clk.Add(59 * time.Second)
	_, err := replica(s, "r2", clk).Claim(ctx, l, u, 1)
	var ce *archive.ClaimedError
	if !errors.Is(err, archive.ErrClaimed) || !errors.As(err, &ce) || ce.Owner != "r1" {
		t.Fatalf("Claim of a live claim: err = %v, want ErrClaimed owned by r1", err)
	}
	// Another unit and another revision of the same unit are independent.
	if _, err := replica(s, "r2", clk).Claim(ctx, l, unitN(t, l, 2), 1); err != nil {
		t.Errorf("Claim of another unit: %v", err)
	}
	if _, err := replica(s, "r2", clk).Claim(ctx, l, u, 2); err != nil {
		t.Errorf("Claim of revision 2: %v", err)
	}
}

func testExpiredLease(t *testing.T, s archive.Store) {
	ctx := t.Context()
	l := testLayout(t)
	u := unitN(t, l, 2)
	clk := &clock{t: time.Date(2027, 3, 17, 9, 0, 0, 0, time.UTC)}
	r1, r2 := replica(s, "r1", clk), replica(s, "r2", clk)
	c1, err := r1.Claim(ctx, l, u, 1)
	if err != nil {
		t.Fatal(err)
	}
	okey, _ := l.ObjectKey(u, 1)
	pending := newManifest(r1, l, u, okey)
	if err := c1.Record(ctx, pending); err != nil {
		t.Fatal(err)
	}
	clk.Add(61 * time.Second) // r1 died: its lease (1m) ran out
	c2, err := r2.Claim(ctx, l, u, 1)
	if err != nil {
		t.Fatalf("Claim of an expired claim: %v", err)
	}
	prev := c2.Previous()
	if prev == nil || prev.Owner != "r1" || prev.Pending == nil || prev.Pending.Objects[0].Key != okey || prev.Pending.UnitID != u.ID() {
		t.Fatalf("Previous() = %+v, want r1's record with its pending manifest", prev)
	}
	var rec archive.ClaimRecord
	data, _, _ := s.Read(ctx, c2.Key())
	if err := json.Unmarshal(data, &rec); err != nil || rec.Owner != "r2" || rec.Takeovers != 1 || rec.Pending == nil {
		t.Fatalf("claim after takeover = %s, want owner r2, takeovers 1, the pending manifest kept", data)
	}
	// The old owner finds out at its next renewal and cannot release it.
	if err := c1.Renew(ctx); !errors.Is(err, archive.ErrClaimLost) {
		t.Fatalf("Renew by the old owner: err = %v, want ErrClaimLost", err)
	}
	if err := c1.Release(ctx); err == nil {
		t.Fatal("Release by the old owner deleted the new owner's claim")
	}
	if _, _, err := s.Read(ctx, c2.Key()); err != nil {
		t.Fatalf("the new owner's claim is gone: %v", err)
	}
	// The new owner completes the run.
	if err := c2.Renew(ctx); err != nil {
		t.Fatalf("Renew by the new owner: %v", err)
	}
	if _, err := s.Put(ctx, okey, strings.NewReader("day,n\n"), archive.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r2.Commit(ctx, c2, prev.Pending, archive.PutOptions{}); err != nil {
		t.Fatalf("Commit after takeover: %v", err)
	}
	VerifyChain(t, s, l, 1)
}

func testRelease(t *testing.T, s archive.Store) {
	ctx := t.Context()
	l := testLayout(t)
	u := unitN(t, l, 3)
	clk := &clock{t: time.Date(2027, 3, 18, 9, 0, 0, 0, time.UTC)}
	c, err := replica(s, "r1", clk).Claim(ctx, l, u, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Release(ctx); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if _, _, err := s.Read(ctx, c.Key()); !errors.Is(err, archive.ErrNotFound) {
		t.Fatalf("claim after Release: err = %v, want ErrNotFound", err)
	}
	c2, err := replica(s, "r2", clk).Claim(ctx, l, u, 1)
	if err != nil {
		t.Fatalf("Claim after Release (lease still running): %v", err)
	}
	if c2.Previous() != nil {
		t.Errorf("a fresh claim has Previous() = %+v", c2.Previous())
	}
	if err := c.Release(ctx); err == nil {
		t.Error("a second Release by the old holder deleted the new claim")
	}
}

// testPauseMarker: a pause marker is written once (a second pause keeps
// the first one's record), read by any replica, listed under the prefix
// with nothing beside it (no lock files), and deleted by a resume, after
// which the schedule can be paused again.
func testPauseMarker(t *testing.T, s archive.Store) {
	ctx := t.Context()
	l := testLayout(t)
	r1, r2 := replica(s, "r1", nil), replica(s, "r2", nil)
	since := time.Date(2027, 3, 18, 9, 0, 0, 0, time.UTC)
	for round := range 2 {
		if _, ok, err := r2.Paused(ctx, l); err != nil || ok {
			t.Fatalf("round %d: paused before any pause: %v, %v", round, ok, err)
		}
		got, err := r1.Pause(ctx, l, archive.PauseRecord{Since: since, Reason: "operator"})
		if err != nil || got.By != "r1" || got.Schedule != l.Schedule {
			t.Fatalf("round %d: Pause = %+v, %v", round, got, err)
		}
		again, err := r2.Pause(ctx, l, archive.PauseRecord{Since: since.Add(time.Hour), Reason: "failures", Failures: 10})
		if err != nil || again.By != "r1" || again.Reason != "operator" {
			t.Fatalf("round %d: a second pause replaced the first: %+v, %v", round, again, err)
		}
		seen, ok, err := r2.Paused(ctx, l)
		if err != nil || !ok || !seen.Since.Equal(since) || seen.By != "r1" {
			t.Fatalf("round %d: Paused on another replica = %+v, %v, %v", round, seen, ok, err)
		}
		if keys := listKeys(t, s, l.Prefix+"/"); len(keys) != 1 || keys[0] != l.PauseKey() {
			t.Fatalf("round %d: listing %v, want only %s", round, keys, l.PauseKey())
		}
		if err := r2.Resume(ctx, l); err != nil {
			t.Fatalf("round %d: Resume: %v", round, err)
		}
		if err := r1.Resume(ctx, l); err != nil {
			t.Fatalf("round %d: a second Resume: %v", round, err)
		}
	}
}

func testChain(t *testing.T, s archive.Store) {
	l := testLayout(t)
	r1, r2 := replica(s, "r1", nil), replica(s, "r2", nil)
	var want []string
	// Commit order, not logical order, decides the chain.
	for i, n := range []int{4, 0, 3, 1, 2} {
		a := r1
		if i%2 == 1 {
			a = r2
		}
		want = append(want, mustExport(t, a, l, unitN(t, l, n)))
	}
	got := VerifyChain(t, s, l, 5)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("chain order =\n  %q\nwant commit order\n  %q", got, want)
	}
	for i, key := range got {
		m, err := archive.ParseManifest(readAll(t, s, key))
		if err != nil {
			t.Fatal(err)
		}
		if m.Sequence != int64(i+1) {
			t.Errorf("%s: sequence %d, want %d", key, m.Sequence, i+1)
		}
		if i > 0 && (m.Prev == nil || m.Prev.Key != got[i-1] || m.Prev.SHA256 != archive.SHA256Hex(readAll(t, s, got[i-1]))) {
			t.Errorf("%s: prev %+v, want %s and the sha256 of its bytes", key, m.Prev, got[i-1])
		}
	}
}

// advanceHeadAndDie does what a committer does up to advancing the head, and
// dies before writing its manifest.
func advanceHeadAndDie(t *testing.T, a *archive.Archive, l domain.Layout, u domain.Unit) (key string, data []byte) {
	t.Helper()
	ctx := t.Context()
	if _, err := a.Claim(ctx, l, u, 1); err != nil {
		t.Fatal(err)
	}
	okey, _ := l.ObjectKey(u, 1)
	if _, err := a.Store.Put(ctx, okey, strings.NewReader("day,n\n"), archive.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	h, etag, ok, err := a.ReadHead(ctx, l)
	if err != nil || !ok {
		t.Fatalf("ReadHead: %v %v", ok, err)
	}
	m := newManifest(a, l, u, okey)
	m.FormatVersion = archive.FormatVersion
	m.Prev = &archive.Link{Key: h.Key, SHA256: h.SHA256}
	m.Sequence = h.Sequence + 1
	data, err = m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	key, _ = l.ManifestKey(u, 1)
	nh, _ := json.Marshal(archive.Head{FormatVersion: archive.FormatVersion, Schedule: l.Schedule, Sequence: m.Sequence,
		Key: key, SHA256: archive.SHA256Hex(data), Manifest: data, PutOptions: &archive.PutOptions{ContentType: "application/json"}})
	if _, err := a.Store.Replace(ctx, l.HeadKey(), nh, etag); err != nil {
		t.Fatalf("advance head by hand: %v", err)
	}
	return key, data
}

func testHeadAheadOfManifest(t *testing.T, s archive.Store) {
	ctx := t.Context()
	l := testLayout(t)
	r1, r2 := replica(s, "r1", nil), replica(s, "r2", nil)
	mustExport(t, r1, l, unitN(t, l, 0))
	mustExport(t, r1, l, unitN(t, l, 1))

	// Completed by the next Claim.
	key2, data2 := advanceHeadAndDie(t, r1, l, unitN(t, l, 2))
	if _, err := s.Stat(ctx, key2); !errors.Is(err, archive.ErrNotFound) {
		t.Fatalf("setup: manifest %s exists", key2)
	}
	c3, err := r2.Claim(ctx, l, unitN(t, l, 3), 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, s, key2); !bytes.Equal(got, data2) {
		t.Fatalf("after the next Claim, %s holds %q, want the head's manifest bytes", key2, got)
	}
	if _, err := r2.Claim(ctx, l, unitN(t, l, 2), 1); !errors.Is(err, archive.ErrAlreadyArchived) {
		t.Fatalf("Claim of the unit whose committer died after advancing the head: err = %v, want ErrAlreadyArchived", err)
	}
	if err := c3.Release(ctx); err != nil {
		t.Fatal(err)
	}
	mustExport(t, r2, l, unitN(t, l, 3))

	// Completed by the next Commit: r2 holds a claim from before the head
	// was advanced, so its Claim could not repair anything.
	u4 := unitN(t, l, 4)
	c4, err := r2.Claim(ctx, l, u4, 1)
	if err != nil {
		t.Fatal(err)
	}
	key5, data5 := advanceHeadAndDie(t, r1, l, unitN(t, l, 5))
	okey4, _ := l.ObjectKey(u4, 1)
	if _, err := s.Put(ctx, okey4, strings.NewReader("day,n\n"), archive.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	key4, _, err := r2.Commit(ctx, c4, newManifest(r2, l, u4, okey4), archive.PutOptions{})
	if err != nil {
		t.Fatalf("Commit over a head whose manifest is missing: %v", err)
	}
	if got := readAll(t, s, key5); !bytes.Equal(got, data5) {
		t.Fatalf("after the next Commit, %s holds %q, want the head's manifest bytes", key5, got)
	}
	keys := VerifyChain(t, s, l, 6)
	if keys[4] != key5 || keys[5] != key4 {
		t.Errorf("chain tail = %q, want %s then %s", keys[4:], key5, key4)
	}
}

func testStaleCommitter(t *testing.T, s archive.Store) {
	ctx := t.Context()
	l := testLayout(t)
	clk := &clock{t: time.Now()}
	r1, r2, r3 := replica(s, "r1", clk), replica(s, "r2", clk), replica(s, "r3", clk)

	// r1 stalls past its lease; r2 takes the unit over and commits it. In
	// the first round r3 then commits another unit, so the head has moved
	// past the unit when r1 wakes up and commits it too; in the second the
	// head still points at it.
	chain := 0
	for round, movedPast := range []bool{true, false} {
		u := unitN(t, l, 10*round)
		c1, err := r1.Claim(ctx, l, u, 1)
		if err != nil {
			t.Fatal(err)
		}
		okey, _ := l.ObjectKey(u, 1)
		m1 := newManifest(r1, l, u, okey)
		if err := c1.Record(ctx, m1); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Put(ctx, okey, strings.NewReader("day,n\n"), archive.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		clk.Add(2 * time.Minute)
		c2, err := r2.Claim(ctx, l, u, 1)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := r2.Commit(ctx, c2, newManifest(r2, l, u, okey), archive.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		chain++
		if movedPast {
			mustExport(t, r3, l, unitN(t, l, 10*round+1))
			chain++
		}
		_, _, err = r1.Commit(ctx, c1, m1, archive.PutOptions{})
		if !errors.Is(err, archive.ErrClaimLost) || !errors.Is(err, archive.ErrAlreadyArchived) {
			t.Errorf("head moved past=%v: Commit by the stale owner: err = %v, want ErrClaimLost and ErrAlreadyArchived", movedPast, err)
		}
		VerifyChain(t, s, l, chain)
		mkey, _ := l.ManifestKey(u, 1)
		stored, err := archive.ParseManifest(readAll(t, s, mkey))
		if err != nil || stored.Run.Instance != "r2" {
			t.Fatalf("head moved past=%v: the unit's manifest was written by %q (err %v), want r2", movedPast, stored.Run.Instance, err)
		}
	}
}

func testConcurrentReplicas(t *testing.T, s archive.Store) {
	ctx := t.Context()
	l := testLayout(t)
	const replicas, units = 4, 16
	var (
		mu      sync.Mutex
		commits = map[string]int{}
		wg      sync.WaitGroup
		errs    = make(chan error, replicas*units)
	)
	for r := range replicas {
		a := replica(s, fmt.Sprintf("r%d", r), nil)
		wg.Go(func() {
			// Each replica walks the units from a different start, so
			// claims and head updates collide.
			for i := range units {
				u := unitN(t, l, (i+r*units/replicas)%units)
				key, err := export(ctx, a, l, u)
				switch {
				case errors.Is(err, archive.ErrAlreadyArchived), errors.Is(err, archive.ErrClaimed):
				case err != nil:
					errs <- fmt.Errorf("%s: unit %s: %w", a.Instance, u.ID(), err)
				default:
					mu.Lock()
					commits[key]++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// A unit skipped as claimed by every replica was committed by its holder.
	keys := VerifyChain(t, s, l, units)
	for _, k := range keys {
		if commits[k] != 1 {
			t.Errorf("%s committed %d times", k, commits[k])
		}
	}
	if len(commits) != units {
		t.Errorf("%d distinct commits, want %d", len(commits), units)
	}
}
