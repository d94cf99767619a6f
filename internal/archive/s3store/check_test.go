package s3store_test

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/archive/s3store"
	"github.com/exportd/exportd/internal/domain"
	"github.com/exportd/exportd/internal/testenv"
)

// TestCheck: the start-up check passes on a usable bucket and fails with
// one clear error otherwise.
func TestCheck(t *testing.T) {
	ctx := t.Context()
	plain := gw.Bucket(t, false)
	locked := gw.Bucket(t, true)
	versioned := gw.Bucket(t, false)
	if err := gw.EnableVersioning(ctx, versioned); err != nil {
		t.Fatal(err)
	}
	lock := &s3store.ObjectLock{Mode: s3store.LockCompliance, Retain: 5 * 365 * 24 * time.Hour}
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close() // nothing listens there now

	cases := []struct {
		name   string
		mutate func(*s3store.Options)
		want   string // "" for success
		bucket bool   // errors.Is(err, ErrBucket)
	}{
		{"plain bucket", func(o *s3store.Options) {}, "", false},
		{"plain bucket with prefix", func(o *s3store.Options) { o.Prefix = "audit/prod" }, "", false},
		{"object lock bucket", func(o *s3store.Options) { o.Bucket, o.ObjectLock = locked, lock }, "", false},
		{"missing bucket", func(o *s3store.Options) { o.Bucket = "no-such-bucket" },
			fmt.Sprintf(`s3 bucket "no-such-bucket" does not exist (endpoint %s)`, gw.Endpoint), true},
		{"wrong secret", func(o *s3store.Options) {
			o.Credentials = credentials.NewStaticCredentialsProvider(gw.AccessKey, "wrong-secret", "")
		}, fmt.Sprintf(`s3 credentials rejected for bucket %q (endpoint %s): `, plain, gw.Endpoint), true},
		{"unknown access key", func(o *s3store.Options) {
			o.Credentials = credentials.NewStaticCredentialsProvider("nobody", "x", "")
		}, fmt.Sprintf(`s3 credentials rejected for bucket %q`, plain), true},
		{"object lock on a plain bucket", func(o *s3store.Options) { o.ObjectLock = lock },
			fmt.Sprintf(`s3 bucket %q: object_lock is configured but bucket versioning is never enabled`, plain), true},
		{"object lock on a versioned bucket without it", func(o *s3store.Options) { o.Bucket, o.ObjectLock = versioned, lock },
			fmt.Sprintf(`s3 bucket %q: object_lock is configured but the bucket does not have Object Lock enabled`, versioned), true},
		{"nothing listening", func(o *s3store.Options) { o.Endpoint = "http://" + deadAddr },
			fmt.Sprintf(`s3 bucket %q: cannot reach endpoint http://%s`, plain, deadAddr), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := storeOptions(gw, plain)
			c.mutate(&o)
			s, err := s3store.New(ctx, o)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			err = s.Check(ctx)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("Check: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("Check = %v\nwant an error containing %q", err, c.want)
			case c.want != "" && errors.Is(err, s3store.ErrBucket) != c.bucket:
				t.Fatalf("Check = %v: errors.Is(ErrBucket) = %v, want %v", err, !c.bucket, c.bucket)
			}
			if err != nil {
				t.Logf("%v", err)
			}
		})
	}
}

// TestSweepStaleUploads: the sweep aborts the uploads under the prefix that
// are older than the cut-off, and nothing else.
func TestSweepStaleUploads(t *testing.T) {
	s := newStore(t, gw, false, func(o *s3store.Options) { o.Prefix = "audit" })
	ctx := t.Context()
	c := s.Client()
	start := func(key string) {
		if _, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(s.Bucket()), Key: aws.String(key)}); err != nil {
			t.Fatal(err)
		}
	}
	start("audit/daily/dt=2027-03-14/a.csv")
	start("audit/daily/dt=2027-03-14/a.csv")
	start("audit-evil/x.csv")
	start("other/y.csv")
	if n, err := s.SweepStaleUploads(ctx, "", time.Hour); err != nil || n != 0 {
		t.Fatalf("sweep of uploads older than 1h = %d, %v; want 0", n, err)
	}
	n, err := s.SweepStaleUploads(ctx, "", 0)
	if err != nil || n != 2 {
		t.Fatalf("sweep under the store's prefix = %d, %v; want 2", n, err)
	}
	left := uploads(t, c, s.Bucket(), "")
	if len(left) != 2 {
		t.Fatalf("uploads left = %v, want the 2 outside audit/", left)
	}
	if _, err := s.SweepStaleUploads(ctx, "../", 0); !errors.Is(err, domain.ErrBadKey) {
		t.Fatalf("sweep of a bad prefix: %v", err)
	}
}

func TestOptionsValidate(t *testing.T) {
	base := storeOptions(gw, "bucket")
	cases := []struct {
		mutate func(*s3store.Options)
		want   string
	}{
		{func(o *s3store.Options) { o.Bucket = "" }, "bucket: required"},
		{func(o *s3store.Options) { o.Bucket = "a/b" }, "bucket: \"a/b\" is not a bucket name"},
		{func(o *s3store.Options) { o.Prefix = "_claims" }, "prefix:"},
		{func(o *s3store.Options) { o.Prefix = "a//b" }, "prefix:"},
		{func(o *s3store.Options) { o.SSE = "aes" }, `sse: "aes": want AES256 or aws:kms`},
		{func(o *s3store.Options) { o.SSE, o.KMSKeyID = "AES256", "k" }, "kms_key_id: only with sse: aws:kms"},
		{func(o *s3store.Options) { o.ExternalID = "x" }, "external_id: only with role_arn"},
		{func(o *s3store.Options) { o.ObjectLock = &s3store.ObjectLock{Mode: "LEGAL", Retain: time.Hour} }, "object_lock.mode"},
		{func(o *s3store.Options) { o.ObjectLock = &s3store.ObjectLock{Mode: "COMPLIANCE"} }, "object_lock.retain: must be > 0"},
		{func(o *s3store.Options) { o.PartSize = 1 << 20 }, "part_size: 1048576: want 5 MiB to 5 GiB"},
		{func(o *s3store.Options) { o.Concurrency = -1 }, "concurrency"},
		{func(o *s3store.Options) { o.Endpoint = "127.0.0.1:9000" }, "endpoint"},
	}
	for _, c := range cases {
		o := base
		c.mutate(&o)
		_, err := s3store.New(t.Context(), o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New = %v, want an error containing %q", err, c.want)
		}
	}
	// Every problem at once.
	o := base
	o.Bucket, o.SSE, o.PartSize = "", "x", 1
	_, err := s3store.New(t.Context(), o)
	if err == nil || strings.Count(err.Error(), "s3 store:") != 3 {
		t.Errorf("New with three problems = %v, want all three", err)
	}
	s, err := s3store.New(t.Context(), base)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, want := s.Describe(), "s3://bucket/ (endpoint "+gw.Endpoint+")"; got != want {
		t.Errorf("Describe = %q, want %q", got, want)
	}
}

// TestPrefixGuard: a store with a prefix writes only under it (on a '/'
// boundary); reads are not limited.
func TestPrefixGuard(t *testing.T) {
	s := newStore(t, gw, false, func(o *s3store.Options) { o.Prefix = "audit/" })
	ctx := t.Context()
	for _, key := range []string{"other/x.csv", "audit-evil/x.csv", "audit"} {
		if _, err := s.Put(ctx, key, strings.NewReader("x"), archive.PutOptions{}); !errors.Is(err, domain.ErrBadKey) {
			t.Errorf("Put %s outside the prefix: %v", key, err)
		}
		if _, err := s.Create(ctx, key, []byte("x")); !errors.Is(err, domain.ErrBadKey) {
			t.Errorf("Create %s outside the prefix: %v", key, err)
		}
	}
	if _, err := s.Put(ctx, "audit/x.csv", strings.NewReader("x"), archive.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(ctx, "other/x.csv"); !errors.Is(err, archive.ErrNotFound) {
		t.Errorf("Stat outside the prefix: %v", err)
	}
}

// TestSSE: server-side encryption settings reach the server (versitygw
// accepts AES256).
func TestSSE(t *testing.T) {
	s := newStore(t, gw, false, func(o *s3store.Options) { o.SSE = s3store.SSES3 })
	ctx := t.Context()
	if _, err := s.Put(ctx, "k/x.csv", strings.NewReader("x"), archive.PutOptions{}); err != nil {
		t.Fatalf("Put with SSE: %v", err)
	}
	if _, err := s.Create(ctx, "k/claim", []byte("x")); err != nil {
		t.Fatalf("Create with SSE: %v", err)
	}
}

var _ = testenv.Region
