package s3store_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/archive/archivetest"
	"github.com/exportd/exportd/internal/archive/s3store"
	"github.com/exportd/exportd/internal/testenv"
)

// gatedReader yields first, then waits for the gate to open, then yields
// rest: a CSV stream that stalls mid-upload.
type gatedReader struct {
	first, rest io.Reader
	gate        <-chan struct{}
	opened      bool
}

func (g *gatedReader) Read(p []byte) (int, error) {
	if n, err := g.first.Read(p); n > 0 || err != io.EOF {
		return n, err
	}
	if !g.opened {
		<-g.gate
		g.opened = true
	}
	return g.rest.Read(p)
}

// uploads lists the multipart uploads in flight under prefix.
func uploads(t *testing.T, c *s3.Client, bucket, prefix string) []string {
	t.Helper()
	out, err := c.ListMultipartUploads(t.Context(), &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	if err != nil {
		t.Fatalf("list multipart uploads: %v", err)
	}
	var ids []string
	for _, u := range out.Uploads {
		ids = append(ids, aws.ToString(u.UploadId))
	}
	return ids
}

// waitForPart waits until an upload under prefix has at least one part
// stored on the server.
func waitForPart(t *testing.T, c *s3.Client, bucket, key string) string {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		for _, id := range uploads(t, c, bucket, key) {
			parts, err := c.ListParts(t.Context(), &s3.ListPartsInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: aws.String(id)})
			if err == nil && len(parts.Parts) > 0 {
				return id
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no part of %s reached the server", key)
	return ""
}

// TestServerKilledMidUpload: the server dies after the first part of a
// multipart upload. Nothing is visible, the upload cannot be aborted (the
// server is gone), the start-up sweep removes it after a restart, and a
// later Put of the key succeeds.
func TestServerKilledMidUpload(t *testing.T) {
	srv := testenv.VersityGW(t)
	s := newStore(t, srv, false, func(o *s3store.Options) {
		o.AbortTimeout = 5 * time.Second
	})
	admin := srv.Client()
	key := "audit/daily/dt=2027-03-14/killed.csv"
	gate := make(chan struct{})
	body := &gatedReader{first: bytes.NewReader(archivetest.Pattern(1, 6<<20)), rest: bytes.NewReader(archivetest.Pattern(2, 6<<20)), gate: gate}
	done := make(chan error, 1)
	go func() {
		_, err := s.Put(t.Context(), key, body, archive.PutOptions{})
		done <- err
	}()
	uploadID := waitForPart(t, admin, s.Bucket(), key)
	srv.Kill()
	close(gate)
	var err error
	select {
	case err = <-done:
	case <-time.After(3 * time.Minute):
		t.Fatal("Put did not return after the server died")
	}
	if err == nil || errors.Is(err, archive.ErrExists) {
		t.Fatalf("Put with the server killed mid-upload: err = %v, want a failure", err)
	}
	t.Logf("Put failed as expected: %v", err)

	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(t.Context(), key); !errors.Is(err, archive.ErrNotFound) {
		t.Fatalf("after the crash, Stat = %v, want ErrNotFound", err)
	}
	if got := uploads(t, admin, s.Bucket(), key); len(got) != 1 || got[0] != uploadID {
		t.Fatalf("after the crash, uploads in flight = %v, want the orphaned %s", got, uploadID)
	}
	// A fresh upload is not stale yet.
	if n, err := s.SweepStaleUploads(t.Context(), "audit/", time.Hour); err != nil || n != 0 {
		t.Fatalf("sweep of uploads older than 1h = %d, %v; want 0", n, err)
	}
	n, err := s.SweepStaleUploads(t.Context(), "audit/", 0)
	if err != nil || n != 1 {
		t.Fatalf("sweep = %d, %v; want 1", n, err)
	}
	if got := uploads(t, admin, s.Bucket(), ""); len(got) != 0 {
		t.Fatalf("after the sweep, uploads in flight = %v", got)
	}
	want := archivetest.Pattern(3, 11<<20)
	if _, err := s.Put(t.Context(), key, bytes.NewReader(want), archive.PutOptions{}); err != nil {
		t.Fatalf("Put after restart and sweep: %v", err)
	}
	rc, _, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read back %d bytes (err %v), want %d", len(got), err, len(want))
	}
}

// TestIfNoneMatchOnComplete: another writer creates the key while a
// multipart upload is in flight. The upload's CompleteMultipartUpload gets
// 412: the Put returns ErrExists, the other writer's object stays, no
// upload is left behind, and transfermanager's log line stays out of the
// process-wide logger.
func TestIfNoneMatchOnComplete(t *testing.T) {
	s := newStore(t, gw, false)
	admin := gw.Client()
	key := "audit/daily/dt=2027-03-14/race.csv"

	var logged bytes.Buffer
	log.SetOutput(&logged)
	defer func() {
		log.SetOutput(os.Stderr)
		if logged.Len() > 0 {
			t.Errorf("the standard logger got: %q", logged.String())
		}
	}()

	gate := make(chan struct{})
	body := &gatedReader{first: bytes.NewReader(archivetest.Pattern(1, 6<<20)), rest: bytes.NewReader(archivetest.Pattern(2, 6<<20)), gate: gate}
	done := make(chan error, 1)
	go func() {
		_, err := s.Put(t.Context(), key, body, archive.PutOptions{})
		done <- err
	}()
	waitForPart(t, admin, s.Bucket(), key)
	winner := []byte("day,n\n2027-03-14,1\n")
	if _, err := s.Put(t.Context(), key, bytes.NewReader(winner), archive.PutOptions{}); err != nil {
		t.Fatalf("the competing Put: %v", err)
	}
	close(gate)
	if err := <-done; !errors.Is(err, archive.ErrExists) {
		t.Fatalf("multipart Put that lost the race: err = %v, want ErrExists", err)
	}
	if got := uploads(t, admin, s.Bucket(), key); len(got) != 0 {
		t.Fatalf("uploads left behind: %v", got)
	}
	rc, _, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, winner) {
		t.Fatalf("the key holds %d bytes, want the winner's %d", len(got), len(winner))
	}
}

// TestCancelAbortsUpload: a run cancelled mid-upload leaves no upload
// behind: the abort runs on a fresh context (aws-sdk-go-v2#3341).
func TestCancelAbortsUpload(t *testing.T) {
	s := newStore(t, gw, false)
	admin := gw.Client()
	key := "audit/daily/dt=2027-03-14/cancel.csv"
	ctx, cancel := context.WithCancel(t.Context())
	gate := make(chan struct{})
	body := &gatedReader{first: bytes.NewReader(archivetest.Pattern(1, 6<<20)), rest: strings.NewReader("tail"), gate: gate}
	done := make(chan error, 1)
	go func() {
		_, err := s.Put(ctx, key, body, archive.PutOptions{})
		done <- err
	}()
	waitForPart(t, admin, s.Bucket(), key)
	cancel()
	close(gate)
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Put: err = %v, want context.Canceled", err)
	}
	if got := uploads(t, admin, s.Bucket(), key); len(got) != 0 {
		t.Fatalf("a cancelled Put left uploads behind: %v", got)
	}
	if _, err := s.Stat(t.Context(), key); !errors.Is(err, archive.ErrNotFound) {
		t.Fatalf("Stat after a cancelled Put: %v", err)
	}
}
