package s3store_test

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"hash/crc64"
	"io"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/archive/archivetest"
)

// crc64NVME is the reference: hash/crc64 with the CRC-64/NVME polynomial.
func crc64NVME(data []byte) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], crc64.Checksum(data, crc64.MakeTable(0x9a6c9329ac4bc9b5)))
	return base64.StdEncoding.EncodeToString(b[:])
}

// TestFullObjectChecksum: single-part and multipart objects carry a
// CRC-64/NVME FULL_OBJECT checksum that the server stored (it verified the
// value we sent at CompleteMultipartUpload) and returns.
func TestFullObjectChecksum(t *testing.T) {
	s := newStore(t, gw, false)
	ctx := t.Context()
	for _, size := range []int{0, 1000, 5 << 20, archivetest.BigBody} {
		key := "audit/crc/obj-" + string(rune('a'+size%26)) + ".csv"
		data := archivetest.Pattern(byte(size), size)
		want := crc64NVME(data)
		info, err := s.Put(ctx, key, bytes.NewReader(data), archive.PutOptions{ContentType: "text/csv"})
		if err != nil {
			t.Fatalf("%d bytes: Put: %v", size, err)
		}
		if got := info.Checksums["CRC64NVME"]; got != want {
			t.Errorf("%d bytes: Put reports CRC64NVME %q, want %q", size, got, want)
		}
		head, err := s.Client().HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.Bucket()), Key: aws.String(key), ChecksumMode: s3types.ChecksumModeEnabled})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(head.ChecksumCRC64NVME) != want || head.ChecksumType != s3types.ChecksumTypeFullObject {
			t.Errorf("%d bytes: the server holds %s %q, want FULL_OBJECT %q", size, head.ChecksumType, aws.ToString(head.ChecksumCRC64NVME), want)
		}
		st, err := s.Stat(ctx, key)
		if err != nil || st.Checksums["CRC64NVME"] != want || st.Size != int64(size) || st.ETag == "" {
			t.Errorf("%d bytes: Stat = %+v, %v", size, st, err)
		}
		rc, gi, err := s.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, data) || gi.Checksums["CRC64NVME"] != want {
			t.Errorf("%d bytes: Get = %d bytes, %v, checksums %v", size, len(got), err, gi.Checksums)
		}
	}
}
