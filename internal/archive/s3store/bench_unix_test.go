//go:build unix

package s3store_test

import "syscall"

// flushPageCache writes dirty pages back (sync(2)), so that an upload does
// not pay for the writeback of the ones before it.
func flushPageCache() { syscall.Sync() }
