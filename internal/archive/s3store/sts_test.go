package s3store_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/archive/s3store"
)

// stsStandIn answers STS AssumeRole, as AWS STS would, with the test
// server's credentials. STS cannot run here; S3 can, and the credentials
// it hands out are checked by the real S3 server. They carry no session
// token: versitygw refuses tokens it did not issue.
type stsStandIn struct {
	mu       sync.Mutex
	calls    int
	lifetime time.Duration
	akid     string
	secret   string
	bad      []string
}

func (s *stsStandIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	for k, want := range map[string]string{"Action": "AssumeRole", "RoleArn": "arn:aws:iam::111122223333:role/exportd-archive",
		"ExternalId": "exportd-ext-42", "RoleSessionName": "exportd"} {
		if got := r.Form.Get(k); got != want {
			s.bad = append(s.bad, fmt.Sprintf("%s = %q, want %q", k, got, want))
		}
	}
	if !strings.Contains(r.Header.Get("Authorization"), "Credential=base-key/") {
		s.bad = append(s.bad, "AssumeRole not signed with the base credentials: "+r.Header.Get("Authorization"))
	}
	exp := time.Now().Add(s.lifetime).UTC().Format(time.RFC3339)
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprintf(w, `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <Credentials>
      <AccessKeyId>%s</AccessKeyId>
      <SecretAccessKey>%s</SecretAccessKey>
      <Expiration>%s</Expiration>
    </Credentials>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::111122223333:assumed-role/exportd-archive/exportd</Arn>
      <AssumedRoleId>AROA:exportd</AssumedRoleId>
    </AssumedRoleUser>
  </AssumeRoleResult>
  <ResponseMetadata><RequestId>stand-in</RequestId></ResponseMetadata>
</AssumeRoleResponse>`, s.akid, s.secret, exp)
}

func (s *stsStandIn) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// TestAssumeRole: with role_arn and external_id the store assumes the role
// (signed with the base credentials) and uses the role's credentials; it
// refreshes them before they expire, and reuses them while they are fresh.
func TestAssumeRole(t *testing.T) {
	sts := &stsStandIn{lifetime: time.Minute, akid: gw.AccessKey, secret: gw.SecretKey}
	srv := httptest.NewServer(sts)
	defer srv.Close()
	t.Setenv("AWS_ENDPOINT_URL_STS", srv.URL)
	o := storeOptions(gw, gw.Bucket(t, false))
	o.Credentials = credentials.NewStaticCredentialsProvider("base-key", "base-secret", "")
	o.RoleARN, o.ExternalID = "arn:aws:iam::111122223333:role/exportd-archive", "exportd-ext-42"
	s, err := s3store.New(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	// Credentials that expire within the refresh window (5 minutes) are
	// refreshed before each use.
	if err := s.Check(ctx); err != nil {
		t.Fatalf("Check with the assumed role: %v", err)
	}
	if _, err := s.Put(ctx, "k/a.csv", strings.NewReader("x"), archive.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := sts.count(); n < 2 {
		t.Fatalf("AssumeRole called %d times for credentials about to expire, want a refresh per use", n)
	}
	// Fresh credentials are cached.
	sts.mu.Lock()
	sts.lifetime = time.Hour
	sts.mu.Unlock()
	if _, _, err := s.Read(ctx, "k/a.csv"); err != nil {
		t.Fatal(err)
	}
	before := sts.count()
	for i := range 5 {
		if _, err := s.Stat(ctx, "k/a.csv"); err != nil {
			t.Fatalf("Stat %d: %v", i, err)
		}
	}
	if n := sts.count(); n != before {
		t.Errorf("AssumeRole called %d more times with fresh credentials, want 0", n-before)
	}
	sts.mu.Lock()
	defer sts.mu.Unlock()
	for _, b := range sts.bad {
		t.Error(b)
	}
}
