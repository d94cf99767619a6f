package s3store_test

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/exportd/exportd/internal/archive/s3store"
	"github.com/exportd/exportd/internal/testenv"
)

// gw is the versitygw shared by this package's tests; tests that kill the
// server start their own.
var gw *testenv.Server

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "exportd-s3store-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	gw, err = testenv.StartVersityGW(dir)
	if err != nil {
		// No server, no pass: the S3 store is only tested on a real one.
		fmt.Fprintln(os.Stderr, "s3store tests need versitygw:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	_ = gw.Stop()
	os.RemoveAll(dir)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutines leaked:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// newStore opens a store on a fresh bucket of srv.
func newStore(t testing.TB, srv *testenv.Server, objectLock bool, mutate ...func(*s3store.Options)) *s3store.Store {
	t.Helper()
	o := storeOptions(srv, srv.Bucket(t, objectLock))
	for _, m := range mutate {
		m(&o)
	}
	s, err := s3store.New(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func storeOptions(srv *testenv.Server, bucket string) s3store.Options {
	return s3store.Options{
		Bucket:         bucket,
		Endpoint:       srv.Endpoint,
		ForcePathStyle: true,
		Region:         testenv.Region,
		Credentials:    srv.Credentials(),
		// The smallest part size S3 allows, so that the suite's 12 MiB
		// bodies go as multipart uploads.
		PartSize:    5 << 20,
		Concurrency: 2,
	}
}
