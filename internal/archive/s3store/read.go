package s3store

import (
	"context"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/exportd/exportd/internal/archive"
)

// maxSmall bounds what Read loads: claims and heads are a few KiB (a head
// carries one manifest).
const maxSmall = 64 << 20

func (s *Store) readErr(op, key string, err error) error {
	if isNotFound(err) {
		return fmt.Errorf("%s: %w", s.where(key), archive.ErrNotFound)
	}
	return fmt.Errorf("s3 %s %s: %w", op, s.where(key), err)
}

// checksums collects the checksums S3 reports for an object.
func checksums(crc64nvme, crc32c, crc32, sha256, sha1 *string) map[string]string {
	m := map[string]string{}
	for alg, v := range map[string]*string{"CRC64NVME": crc64nvme, "CRC32C": crc32c, "CRC32": crc32, "SHA256": sha256, "SHA1": sha1} {
		if v != nil && *v != "" {
			m[alg] = *v
		}
	}
	if len(m) == 0 {
		return nil
	}
	return m
}

// Stat implements archive.Reader.
func (s *Store) Stat(ctx context.Context, key string) (archive.ObjectInfo, error) {
	if err := s.checkKey(key); err != nil {
		return archive.ObjectInfo{}, err
	}
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{
		Bucket: aws.String(s.opts.Bucket), Key: aws.String(key), ChecksumMode: s3types.ChecksumModeEnabled,
	})
	if err != nil {
		return archive.ObjectInfo{}, s.readErr("stat", key, err)
	}
	return archive.ObjectInfo{
		Key: key, Size: aws.ToInt64(out.ContentLength), ETag: aws.ToString(out.ETag), Modified: aws.ToTime(out.LastModified).UTC(),
		Checksums:   checksums(out.ChecksumCRC64NVME, out.ChecksumCRC32C, out.ChecksumCRC32, out.ChecksumSHA256, out.ChecksumSHA1),
		RetainUntil: aws.ToTime(out.ObjectLockRetainUntilDate).UTC(),
		LockMode:    string(out.ObjectLockMode), LegalHold: out.ObjectLockLegalHoldStatus == s3types.ObjectLockLegalHoldStatusOn,
	}, nil
}

// Get implements archive.Reader. With a full-object checksum stored, the
// SDK verifies it as the body is read: a corrupted object fails the read.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, archive.ObjectInfo, error) {
	if err := s.checkKey(key); err != nil {
		return nil, archive.ObjectInfo{}, err
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(s.opts.Bucket), Key: aws.String(key), ChecksumMode: s3types.ChecksumModeEnabled,
	})
	if err != nil {
		return nil, archive.ObjectInfo{}, s.readErr("get", key, err)
	}
	return out.Body, archive.ObjectInfo{
		Key: key, Size: aws.ToInt64(out.ContentLength), ETag: aws.ToString(out.ETag), Modified: aws.ToTime(out.LastModified).UTC(),
		Checksums:   checksums(out.ChecksumCRC64NVME, out.ChecksumCRC32C, out.ChecksumCRC32, out.ChecksumSHA256, out.ChecksumSHA1),
		RetainUntil: aws.ToTime(out.ObjectLockRetainUntilDate).UTC(),
		LockMode:    string(out.ObjectLockMode), LegalHold: out.ObjectLockLegalHoldStatus == s3types.ObjectLockLegalHoldStatusOn,
	}, nil
}

// List implements archive.Reader. S3 lists in UTF-8 byte order, which is
// Go's string order. Multipart uploads in flight are not objects and are
// not listed.
func (s *Store) List(ctx context.Context, prefix string, fn func(archive.ObjectInfo) error) error {
	if err := checkListPrefix(prefix); err != nil {
		return err
	}
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: aws.String(s.opts.Bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("s3 list s3://%s/%s: %w", s.opts.Bucket, prefix, err)
		}
		for _, o := range page.Contents {
			oi := archive.ObjectInfo{Key: aws.ToString(o.Key), Size: aws.ToInt64(o.Size), ETag: aws.ToString(o.ETag),
				Modified: aws.ToTime(o.LastModified).UTC()}
			if err := fn(oi); err != nil {
				return err
			}
		}
	}
	return nil
}

// Read implements archive.Writer. The etag is returned verbatim (quotes
// included) and passed back verbatim as If-Match.
func (s *Store) Read(ctx context.Context, key string) ([]byte, string, error) {
	if err := s.checkKey(key); err != nil {
		return nil, "", err
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.opts.Bucket), Key: aws.String(key)})
	if err != nil {
		return nil, "", s.readErr("read", key, err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(io.LimitReader(out.Body, maxSmall+1))
	if err != nil {
		return nil, "", fmt.Errorf("s3 read %s: %w", s.where(key), err)
	}
	if len(data) > maxSmall {
		return nil, "", fmt.Errorf("s3 read %s: larger than %d bytes; not a claim or head", s.where(key), maxSmall)
	}
	return data, aws.ToString(out.ETag), nil
}
