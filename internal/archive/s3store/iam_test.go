package s3store_test

import (
	"context"
	"encoding/json"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"

	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/archive/archivetest"
	"github.com/exportd/exportd/internal/archive/s3store"
)

// iamActions records the IAM actions the S3 calls made through a store
// need (an operation's action, plus the actions its parameters add).
type iamActions struct {
	mu   sync.Mutex
	seen map[string][]string // action -> operations that needed it
}

func (a *iamActions) add(action, op string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !slices.Contains(a.seen[action], op) {
		a.seen[action] = append(a.seen[action], op)
	}
}

// option is an APIOptions entry that records every call.
func (a *iamActions) option(t *testing.T) func(*middleware.Stack) error {
	return func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("RecordIAMAction",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				op := middleware.GetOperationName(ctx)
				action, ok := s3Action[op]
				if !ok {
					t.Errorf("S3 operation %s has no IAM action in this test's table: add it", op)
				}
				a.add(action, op)
				switch p := in.Parameters.(type) {
				case *s3.PutObjectInput:
					if p.ObjectLockMode != "" || p.ObjectLockRetainUntilDate != nil {
						a.add("s3:PutObjectRetention", op)
					}
				case *s3.CreateMultipartUploadInput:
					if p.ObjectLockMode != "" || p.ObjectLockRetainUntilDate != nil {
						a.add("s3:PutObjectRetention", op)
					}
				case *s3.DeleteObjectInput:
					if p.VersionId != nil {
						a.add("s3:DeleteObjectVersion", op)
					}
				case *s3.GetObjectInput:
					if p.VersionId != nil {
						a.add("s3:GetObjectVersion", op)
					}
				case *s3.HeadObjectInput:
					if p.VersionId != nil {
						a.add("s3:GetObjectVersion", op)
					}
				}
				return next.HandleInitialize(ctx, in)
			}), middleware.Before)
	}
}

// s3Action is the IAM action of each S3 operation, from the service
// authorization reference ("Actions defined by Amazon S3").
var s3Action = map[string]string{
	"AbortMultipartUpload":       "s3:AbortMultipartUpload",
	"CompleteMultipartUpload":    "s3:PutObject",
	"CreateMultipartUpload":      "s3:PutObject",
	"UploadPart":                 "s3:PutObject",
	"PutObject":                  "s3:PutObject",
	"GetObject":                  "s3:GetObject",
	"HeadObject":                 "s3:GetObject",
	"DeleteObject":               "s3:DeleteObject",
	"ListObjectsV2":              "s3:ListBucket",
	"HeadBucket":                 "s3:ListBucket",
	"ListObjectVersions":         "s3:ListBucketVersions",
	"ListMultipartUploads":       "s3:ListBucketMultipartUploads",
	"ListParts":                  "s3:ListMultipartUploadParts",
	"GetBucketVersioning":        "s3:GetBucketVersioning",
	"GetObjectLockConfiguration": "s3:GetBucketObjectLockConfiguration",
	"GetBucketLocation":          "s3:GetBucketLocation",
	"PutObjectRetention":         "s3:PutObjectRetention",
}

// TestIAMPolicyIsWhatTheStoreCalls runs the archive acceptance suite (on a
// plain and on an Object Lock bucket) and the start-up checks against
// versitygw, records every S3 operation the store calls, and compares the
// IAM actions they need with deploy/aws/exportd-policy.json: nothing
// missing (a call denied in production), nothing more (least privilege).
func TestIAMPolicyIsWhatTheStoreCalls(t *testing.T) {
	rec := &iamActions{seen: map[string][]string{}}
	open := func(t *testing.T, lock bool) *s3store.Store {
		return newStore(t, gw, lock, func(o *s3store.Options) {
			o.APIOptions = append(o.APIOptions, rec.option(t))
			if lock {
				o.ObjectLock = &s3store.ObjectLock{Mode: s3store.LockCompliance, Retain: 24 * time.Hour}
			}
		})
	}
	for _, lock := range []bool{false, true} {
		archivetest.Run(t, func(t *testing.T) archive.Store { return open(t, lock) })
		s := open(t, lock)
		// What serve does at start: check the bucket, sweep stale uploads.
		if err := s.Check(t.Context()); err != nil {
			t.Fatalf("Check: %v", err)
		}
		if _, err := s.SweepStaleUploads(t.Context(), "", 0); err != nil {
			t.Fatalf("SweepStaleUploads: %v", err)
		}
		if lock {
			// What an export does on a locked bucket: objects and
			// manifests with a retention, small and multipart.
			for _, size := range []int{1 << 10, 6 << 20} {
				body := strings.NewReader(strings.Repeat("x", size))
				if _, err := s.Put(t.Context(), "sigma/locked-"+strconv.Itoa(size), body, archive.PutOptions{RetainUntil: time.Now().Add(time.Hour)}); err != nil {
					t.Fatalf("Put with retention: %v", err)
				}
			}
		}
	}

	data, err := os.ReadFile("../../../deploy/aws/exportd-policy.json")
	if err != nil {
		t.Fatal(err)
	}
	var policy struct {
		Statement []struct {
			Effect   string
			Action   []string
			Resource string
		}
	}
	if err := json.Unmarshal(data, &policy); err != nil {
		t.Fatalf("deploy/aws/exportd-policy.json: %v", err)
	}
	granted := map[string]bool{}
	for _, st := range policy.Statement {
		for _, a := range st.Action {
			if st.Effect != "Allow" {
				t.Errorf("statement with effect %q", st.Effect)
			}
			if strings.HasPrefix(a, "s3:") {
				granted[a] = true
			}
		}
	}
	called := slices.Sorted(maps.Keys(rec.seen))
	for _, a := range called {
		if !granted[a] {
			t.Errorf("the store calls %v, which need %s; exportd-policy.json does not grant it", rec.seen[a], a)
		}
	}
	for a := range granted {
		if _, ok := rec.seen[a]; !ok {
			t.Errorf("exportd-policy.json grants %s, which no call of the store needs", a)
		}
	}
	if len(called) < 5 {
		t.Fatalf("recorded only %v", called)
	}
	t.Logf("S3 actions the store needs: %v", called)
}
