package s3store_test

import (
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/archive/s3store"
)

// TestPutStreamsInBoundedMemory streams 200 MiB through a store with 5 MiB
// parts and concurrency 2: the heap stays within a small multiple of part
// size × (concurrency + 2), far below the object's size.
func TestPutStreamsInBoundedMemory(t *testing.T) {
	const part, conc, size = 5 << 20, 2, 200 << 20
	s := newStore(t, gw, false, func(o *s3store.Options) { o.PartSize, o.Concurrency = part, conc })
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var (
		mu   sync.Mutex
		peak uint64
		stop = make(chan struct{})
		done = make(chan struct{})
	)
	go func() {
		defer close(done)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				mu.Lock()
				peak = max(peak, m.HeapInuse)
				mu.Unlock()
			}
		}
	}()
	block := renderCSV(1 << 20)
	info, err := s.Put(t.Context(), "audit/big.csv", newCSVReader(size, block), archive.PutOptions{})
	close(stop)
	<-done
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != size {
		t.Fatalf("size %d, want %d", info.Size, size)
	}
	// Buffers: (concurrency + 1) parts in the pool, the first part read
	// separately (grown by doubling), and the garbage the collector has
	// not reclaimed yet (GOGC=100 lets the heap double).
	bound := uint64(2*(part*(conc+1)+2*part) + 16<<20)
	grew := peak - min(peak, base.HeapInuse)
	t.Logf("heap grew by %d MiB at most while streaming %d MiB (bound %d MiB)", grew>>20, size>>20, bound>>20)
	if grew > bound {
		t.Fatalf("heap grew by %d MiB streaming %d MiB; want at most %d MiB", grew>>20, size>>20, bound>>20)
	}
}
