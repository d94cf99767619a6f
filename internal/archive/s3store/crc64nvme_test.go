package s3store

import (
	"bytes"
	"hash/crc64"
	"io"
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
	for _, n := range []int{0, 1, 7, 8, 9, 63, 64, 65, 127, 128, 255, 256, 257, 1023, 1024, 4095, 4096, 65537, 1<<20 + 3} {
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

func TestCRC64Combine(t *testing.T) {
	tab := crc64.MakeTable(crc64NVMEPoly)
	r := rand.New(rand.NewPCG(3, 4))
	data := make([]byte, 100000)
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	for _, cut := range []int{0, 1, 8, 4095, 50000, 99999, 100000} {
		a, b := crc64.Checksum(data[:cut], tab), crc64.Checksum(data[cut:], tab)
		if got, want := crc64Combine(a, b, int64(len(data)-cut)), crc64.Checksum(data, tab); got != want {
			t.Errorf("cut at %d: combine = %#x, want %#x", cut, got, want)
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

func TestStreamSums(t *testing.T) {
	tab := crc64.MakeTable(crc64NVMEPoly)
	r := rand.New(rand.NewPCG(5, 6))
	const part = 1000
	for _, size := range []int{0, 1, 999, 1000, 1001, 2000, 4321} {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(r.Uint32())
		}
		s := newStreamSums(&chunky{data: data, r: r}, part)
		got, err := io.ReadAll(s)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%d bytes: read %d, %v", size, len(got), err)
		}
		for i := 0; i*part < size; i++ {
			chunk := data[i*part : min(size, (i+1)*part)]
			want := crc64.Checksum(chunk, tab)
			sum, ok := s.part(int32(i+1), int64(len(chunk)))
			if !ok || sum != crcBase64(want) {
				t.Errorf("%d bytes: part %d = %q %v, want %q", size, i+1, sum, ok, crcBase64(want))
			}
		}
		if _, ok := s.part(1, part+1); ok {
			t.Errorf("%d bytes: a part of the wrong length matched", size)
		}
		n, sum := s.total()
		if n != int64(size) || sum != crcBase64(crc64.Checksum(data, tab)) {
			t.Errorf("%d bytes: total = %d %q", size, n, sum)
		}
	}
}

// chunky reads in random-sized pieces.
type chunky struct {
	data []byte
	r    *rand.Rand
}

func (c *chunky) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), 1+c.r.IntN(700))], c.data)
	c.data = c.data[n:]
	return n, nil
}
