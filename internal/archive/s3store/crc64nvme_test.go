package s3store

import (
	"hash/crc64"
	"math/rand/v2"
	"testing"
)

func TestCRC64NVME(t *testing.T) {
	// The check value of CRC-64/NVME (the CRC catalogue's "123456789").
	c := newCRC64NVME()
	c.Write([]byte("123456789"))
	if got := c.Sum64(); got != 0xae8b14860a799888 {
		t.Fatalf("check value = %#x, want 0xae8b14860a799888", got)
	}
	// Same as hash/crc64 with the same polynomial, whatever the write sizes.
	tab := crc64.MakeTable(crc64NVMEPoly)
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 7, 8, 9, 63, 64, 65, 4096, 1<<20 + 3} {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(r.Uint32())
		}
		c := newCRC64NVME()
		for rest := data; len(rest) > 0; {
			k := min(len(rest), 1+r.IntN(9000))
			c.Write(rest[:k])
			rest = rest[k:]
		}
		if want := crc64.Checksum(data, tab); c.Sum64() != want {
			t.Errorf("%d bytes: %#x, want %#x", n, c.Sum64(), want)
		}
	}
}

func BenchmarkCRC64NVME(b *testing.B) {
	data := make([]byte, 32<<10)
	tab := crc64.MakeTable(crc64NVMEPoly)
	b.Run("slicing8-cached", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		c := newCRC64NVME()
		for b.Loop() {
			c.Write(data)
		}
	})
	b.Run("hash-crc64", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		h := crc64.New(tab)
		for b.Loop() {
			h.Write(data)
		}
	})
}
