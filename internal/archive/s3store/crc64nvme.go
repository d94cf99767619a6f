package s3store

import (
	"encoding/base64"
	"encoding/binary"
	"hash/crc64"
	"sync"
)

// crc64NVMEPoly is the CRC-64/NVME polynomial, bit-reversed as hash/crc64
// wants it (the same constant the AWS SDK uses).
const crc64NVMEPoly = 0x9a6c9329ac4bc9b5

// slicing8 is the slicing-by-8 table for CRC-64/NVME. hash/crc64 keeps such
// tables only for ISO and ECMA and rebuilds one (16 KiB) on every Update for
// other polynomials, which costs as much as the checksum on 32 KiB writes.
var slicing8 = sync.OnceValue(func() *[8][256]uint64 {
	var t [8][256]uint64
	t[0] = *crc64.MakeTable(crc64NVMEPoly)
	for i := range 256 {
		crc := t[0][i]
		for j := 1; j < 8; j++ {
			crc = t[0][crc&0xff] ^ (crc >> 8)
			t[j][i] = crc
		}
	}
	return &t
})

// crc64NVME is a running CRC-64/NVME.
type crc64NVME struct {
	crc uint64 // inverted while running
	tab *[8][256]uint64
}

func newCRC64NVME() *crc64NVME { return &crc64NVME{crc: ^uint64(0), tab: slicing8()} }

func (c *crc64NVME) Write(p []byte) (int, error) {
	n := len(p)
	crc, t := c.crc, c.tab
	for len(p) >= 8 {
		crc ^= binary.LittleEndian.Uint64(p)
		crc = t[7][crc&0xff] ^ t[6][(crc>>8)&0xff] ^ t[5][(crc>>16)&0xff] ^ t[4][(crc>>24)&0xff] ^
			t[3][(crc>>32)&0xff] ^ t[2][(crc>>40)&0xff] ^ t[1][(crc>>48)&0xff] ^ t[0][crc>>56]
		p = p[8:]
	}
	for _, b := range p {
		crc = t[0][byte(crc)^b] ^ (crc >> 8)
	}
	c.crc = crc
	return n, nil
}

func (c *crc64NVME) Sum64() uint64 { return ^c.crc }

// Base64 is the checksum as S3 headers carry it: big-endian, base64.
func (c *crc64NVME) Base64() string { return crcBase64(c.Sum64()) }

// crc64Combine returns the CRC-64/NVME of A||B from crcA, crcB and the length
// of B (zlib's crc32_combine, for 64 bits): appending lenB zero bytes to A
// is a linear map on its CRC, applied by repeated squaring.
func crc64Combine(crcA, crcB uint64, lenB int64) uint64 {
	if lenB <= 0 {
		return crcA
	}
	var even, odd [64]uint64
	odd[0] = crc64NVMEPoly // the operator for one zero bit
	row := uint64(1)
	for n := 1; n < 64; n++ {
		odd[n] = row
		row <<= 1
	}
	gf2Square(&even, &odd) // two zero bits
	gf2Square(&odd, &even) // four zero bits
	for {
		gf2Square(&even, &odd) // first pass: one zero byte
		if lenB&1 != 0 {
			crcA = gf2Times(&even, crcA)
		}
		lenB >>= 1
		if lenB == 0 {
			break
		}
		gf2Square(&odd, &even)
		if lenB&1 != 0 {
			crcA = gf2Times(&odd, crcA)
		}
		lenB >>= 1
		if lenB == 0 {
			break
		}
	}
	return crcA ^ crcB
}

func gf2Times(mat *[64]uint64, vec uint64) uint64 {
	var sum uint64
	for i := 0; vec != 0; i, vec = i+1, vec>>1 {
		if vec&1 != 0 {
			sum ^= mat[i]
		}
	}
	return sum
}

func gf2Square(square, mat *[64]uint64) {
	for n := range 64 {
		square[n] = gf2Times(mat, mat[n])
	}
}

func crcBase64(v uint64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return base64.StdEncoding.EncodeToString(b[:])
}
