package s3store

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	tmtypes "github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"go.uber.org/zap"

	"github.com/exportd/exportd/internal/archive"
)

// streamSums computes checksums of the stream as the uploader reads it,
// before it is cut into parts and buffered: the CRC-64/NVME of each part
// (transfermanager cuts parts of exactly PartSize bytes, the last one
// shorter) and, by combining those, of the whole object, in one pass over
// the bytes. S3 verifies each part's checksum on UploadPart and the whole
// object's on CompleteMultipartUpload, so bytes changed anywhere between
// the renderer and the disk fail the upload.
type streamSums struct {
	r        io.Reader
	partSize int64

	mu     sync.Mutex
	n      int64
	cur    *crc64NVME
	curLen int64
	parts  []partSum // by part number - 1
	full   uint64
}

type partSum struct {
	crc uint64
	n   int64
}

func newStreamSums(r io.Reader, partSize int64) *streamSums {
	return &streamSums{r: r, partSize: partSize, cur: newCRC64NVME()}
}

func (s *streamSums) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.mu.Lock()
	defer s.mu.Unlock()
	for b := p[:n]; len(b) > 0; {
		k := min(int64(len(b)), s.partSize-s.curLen)
		s.cur.Write(b[:k])
		s.curLen += k
		b = b[k:]
		if s.curLen == s.partSize {
			s.finishPart()
		}
	}
	s.n += int64(n)
	if err == io.EOF && s.curLen > 0 {
		s.finishPart()
	}
	return n, err
}

func (s *streamSums) finishPart() {
	crc := s.cur.Sum64()
	if len(s.parts) == 0 {
		s.full = crc
	} else {
		s.full = crc64Combine(s.full, crc, s.curLen)
	}
	s.parts = append(s.parts, partSum{crc, s.curLen})
	s.cur, s.curLen = newCRC64NVME(), 0
}

// part returns part num's checksum if the stream's part num has n bytes.
func (s *streamSums) part(num int32, n int64) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if num < 1 || int(num) > len(s.parts) || s.parts[num-1].n != n {
		return "", false
	}
	return crcBase64(s.parts[num-1].crc), true
}

// total returns the size and checksum of all that was read.
func (s *streamSums) total() (int64, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.curLen > 0 {
		s.finishPart()
	}
	return s.n, crcBase64(s.full)
}

// uploadClient wraps the S3 client that transfermanager uses for one Put:
//   - transfermanager v0.5.7 drops per-part checksums at
//     CompleteMultipartUpload, and S3 refuses a FULL_OBJECT CRC-64/NVME
//     upload without them: it records each part's and fills them in;
//   - it sends the checksums computed from the stream (streamSums), and the
//     full object's with its size at Complete, so the SDK computes none;
//   - with a signed checksum header the payload need not be hashed for the
//     signature (UNSIGNED-PAYLOAD), which saves a SHA-256 pass over every
//     byte on plain-HTTP endpoints (TLS endpoints sign no payload anyway);
//   - transfermanager logs a failed Complete through the standard log
//     package (a process-wide logger): this wrapper keeps the error to
//     itself, and Put aborts the upload and reports it.
type uploadClient struct {
	transfermanager.S3APIClient
	sums *streamSums

	mu          sync.Mutex
	uploadID    string
	parts       map[int32]string
	completeErr error
	complete    *s3.CompleteMultipartUploadOutput
	put         *s3.PutObjectOutput
}

var unsignedPayload = s3.WithAPIOptions(v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)

// bodyChecksum returns the checksum of a part body: the stream's when the
// body is the stream's part num, else computed from the body.
func (u *uploadClient) bodyChecksum(num int32, body io.Reader) (string, bool) {
	rs, ok := body.(io.ReadSeeker)
	if !ok {
		return "", false
	}
	n, err := rs.Seek(0, io.SeekEnd)
	if err != nil {
		return "", false
	}
	if _, err := rs.Seek(0, io.SeekStart); err != nil {
		return "", false
	}
	if sum, ok := u.sums.part(num, n); ok {
		return sum, true
	}
	c := newCRC64NVME()
	if _, err := io.Copy(c, rs); err != nil {
		return "", false
	}
	if _, err := rs.Seek(0, io.SeekStart); err != nil {
		return "", false
	}
	return c.Base64(), true
}

func (u *uploadClient) PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	if sum, ok := u.bodyChecksum(1, in.Body); ok {
		in.ChecksumCRC64NVME = aws.String(sum)
		opts = append(opts, unsignedPayload)
	}
	out, err := u.S3APIClient.PutObject(ctx, in, opts...)
	if err == nil {
		u.mu.Lock()
		u.put = out
		u.mu.Unlock()
	}
	return out, err
}

func (u *uploadClient) CreateMultipartUpload(ctx context.Context, in *s3.CreateMultipartUploadInput, opts ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error) {
	out, err := u.S3APIClient.CreateMultipartUpload(ctx, in, opts...)
	if err == nil {
		u.mu.Lock()
		u.uploadID = aws.ToString(out.UploadId)
		u.mu.Unlock()
	}
	return out, err
}

func (u *uploadClient) UploadPart(ctx context.Context, in *s3.UploadPartInput, opts ...func(*s3.Options)) (*s3.UploadPartOutput, error) {
	sum, ok := u.bodyChecksum(aws.ToInt32(in.PartNumber), in.Body)
	if ok {
		in.ChecksumCRC64NVME = aws.String(sum)
		opts = append(opts, unsignedPayload)
	}
	out, err := u.S3APIClient.UploadPart(ctx, in, opts...)
	if err != nil {
		return out, err
	}
	if out.ChecksumCRC64NVME != nil {
		sum = *out.ChecksumCRC64NVME
	}
	u.mu.Lock()
	u.parts[aws.ToInt32(in.PartNumber)] = sum
	u.mu.Unlock()
	return out, nil
}

func (u *uploadClient) CompleteMultipartUpload(ctx context.Context, in *s3.CompleteMultipartUploadInput, opts ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error) {
	u.mu.Lock()
	if in.MultipartUpload != nil {
		for i := range in.MultipartUpload.Parts {
			p := &in.MultipartUpload.Parts[i]
			if sum := u.parts[aws.ToInt32(p.PartNumber)]; sum != "" {
				p.ChecksumCRC64NVME = aws.String(sum)
			}
		}
	}
	u.mu.Unlock()
	// All of the body has been read by now: the sums are final.
	size, sum := u.sums.total()
	in.ChecksumCRC64NVME = aws.String(sum)
	in.ChecksumType = s3types.ChecksumTypeFullObject
	in.MpuObjectSize = aws.Int64(size)
	var out *s3.CompleteMultipartUploadOutput
	var err error
	for attempt := 1; ; attempt++ {
		out, err = u.S3APIClient.CompleteMultipartUpload(ctx, in, opts...)
		if err == nil || !isConditionalConflict(err) || attempt == 3 {
			break
		}
		if !sleep(ctx, time.Duration(attempt)*200*time.Millisecond) {
			break
		}
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if err != nil {
		u.completeErr = err
		return &s3.CompleteMultipartUploadOutput{}, nil
	}
	u.complete = out
	return out, nil
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// lockFor returns the Object Lock settings for a Put, or zero values.
func (s *Store) lockFor(key string, opts archive.PutOptions) (tmtypes.ObjectLockMode, *time.Time) {
	if s.opts.ObjectLock == nil || opts.RetainUntil.IsZero() {
		return "", nil
	}
	if !opts.RetainUntil.After(time.Now()) {
		// A catch-up of a window older than its retention: S3 refuses a
		// retain-until date in the past, and there is nothing to protect.
		s.log.Info("retention already elapsed; object not locked", zap.String("key", key), zap.Time("retain_until", opts.RetainUntil))
		return "", nil
	}
	until := opts.RetainUntil.UTC()
	return tmtypes.ObjectLockMode(s.opts.ObjectLock.Mode), &until
}

// Put implements archive.Writer: a create-only streaming upload. A single
// part goes as one PutObject; more go as a multipart upload completed with
// If-None-Match: *, so a concurrent writer of the key that completes first
// makes this one fail with ErrExists and nothing of it is visible.
func (s *Store) Put(ctx context.Context, key string, body io.Reader, opts archive.PutOptions) (archive.ObjectInfo, error) {
	if err := s.checkWriteKey(key); err != nil {
		return archive.ObjectInfo{}, err
	}
	sums := newStreamSums(body, s.opts.PartSize)
	uc := &uploadClient{S3APIClient: s.client, sums: sums, parts: map[int32]string{}}
	in := &transfermanager.UploadObjectInput{
		Bucket:            aws.String(s.opts.Bucket),
		Key:               aws.String(key),
		Body:              sums,
		IfNoneMatch:       aws.String("*"),
		ChecksumAlgorithm: tmtypes.ChecksumAlgorithm(s3types.ChecksumAlgorithmCrc64nvme), // transfermanager v0.5.7 has no constant for it
		ChecksumType:      tmtypes.ChecksumTypeFullObject,
		StorageClass:      tmtypes.StorageClass(s.opts.StorageClass),
	}
	if opts.ContentType != "" {
		in.ContentType = aws.String(opts.ContentType)
	}
	if opts.ContentEncoding != "" {
		in.ContentEncoding = aws.String(opts.ContentEncoding)
	}
	s.encryption(&in.ServerSideEncryption, &in.SSEKMSKeyID)
	in.ObjectLockMode, in.ObjectLockRetainUntilDate = s.lockFor(key, opts)

	_, err := s.tm.UploadObject(ctx, in, func(o *transfermanager.Options) { o.S3 = uc })
	uc.mu.Lock()
	uploadID, completeErr, complete, put := uc.uploadID, uc.completeErr, uc.complete, uc.put
	uc.mu.Unlock()
	if err == nil && completeErr != nil {
		err = completeErr
	}
	if err != nil {
		if uploadID != "" {
			s.abort(ctx, key, uploadID)
		}
		if isPreconditionFailed(err) {
			return archive.ObjectInfo{}, fmt.Errorf("%s: %w", s.where(key), archive.ErrExists)
		}
		return archive.ObjectInfo{}, fmt.Errorf("s3 put %s: %w", s.where(key), err)
	}
	size, ours := sums.total()
	info := archive.ObjectInfo{Key: key, Size: size, Modified: time.Now().UTC()}
	var crc *string
	switch {
	case complete != nil:
		info.ETag, crc = aws.ToString(complete.ETag), complete.ChecksumCRC64NVME
	case put != nil:
		info.ETag, crc = aws.ToString(put.ETag), put.ChecksumCRC64NVME
	}
	if crc == nil {
		// The server did not echo it: ask, so that what we record is what
		// the store holds.
		st, err := s.Stat(ctx, key)
		if err != nil {
			return archive.ObjectInfo{}, fmt.Errorf("s3 put %s: read back checksum: %w", s.where(key), err)
		}
		if v := st.Checksums["CRC64NVME"]; v != "" {
			crc = &v
		}
	}
	if crc != nil {
		if *crc != ours {
			// S3 verified the checksum we sent, so this cannot happen
			// unless the server ignores checksums: say so loudly.
			return archive.ObjectInfo{}, fmt.Errorf("s3 put %s: the server's CRC64NVME %s differs from ours %s", s.where(key), *crc, ours)
		}
		info.Checksums = map[string]string{"CRC64NVME": *crc}
	}
	if in.ObjectLockRetainUntilDate != nil {
		info.RetainUntil = *in.ObjectLockRetainUntilDate
	}
	return info, nil
}

// abort aborts a failed multipart upload with a fresh context: the run's
// context may be what failed it (aws-sdk-go-v2#3341). transfermanager
// aborts too; a second abort of an aborted upload is harmless.
func (s *Store) abort(ctx context.Context, key, uploadID string) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.AbortTimeout)
	defer cancel()
	_, err := s.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{
		Bucket: aws.String(s.opts.Bucket), Key: aws.String(key), UploadId: aws.String(uploadID),
	})
	if err != nil && !isNotFound(err) && errorCode(err) != "NoSuchUpload" {
		s.log.Warn("abort multipart upload failed; the start-up sweep or the bucket's AbortIncompleteMultipartUpload rule removes it",
			zap.String("key", key), zap.String("upload_id", uploadID), zap.Error(err))
	}
}

func (s *Store) encryption(sse *tmtypes.ServerSideEncryption, kms **string) {
	if s.opts.SSE == "" {
		return
	}
	*sse = tmtypes.ServerSideEncryption(s.opts.SSE)
	if s.opts.KMSKeyID != "" {
		*kms = aws.String(s.opts.KMSKeyID)
	}
}

func (s *Store) smallPut(key string, data []byte) *s3.PutObjectInput {
	in := &s3.PutObjectInput{
		Bucket:        aws.String(s.opts.Bucket),
		Key:           aws.String(key),
		ContentType:   aws.String("application/json"),
		ContentLength: aws.Int64(int64(len(data))),
	}
	if s.opts.SSE != "" {
		in.ServerSideEncryption = s3types.ServerSideEncryption(s.opts.SSE)
		if s.opts.KMSKeyID != "" {
			in.SSEKMSKeyId = aws.String(s.opts.KMSKeyID)
		}
	}
	return in
}

var defaultRetryable = retry.IsErrorRetryables(retry.DefaultRetryables)

// conditional runs one conditional write of a small object. The SDK's own
// retries are off for it: a retry of a write that succeeded but whose answer
// was lost meets its own write and fails the condition. Here a condition
// failure after such an ambiguous attempt is checked by reading the object
// back: if it holds exactly our bytes, the write was ours.
func (s *Store) conditional(ctx context.Context, key string, data []byte, call func(context.Context) (*string, error)) (string, error) {
	ambiguous := false
	for attempt := 1; ; attempt++ {
		etag, err := call(ctx)
		if err == nil {
			return aws.ToString(etag), nil
		}
		switch {
		case isPreconditionFailed(err) || isNotFound(err):
			if ambiguous {
				if cur, curTag, rerr := s.Read(ctx, key); rerr == nil && bytes.Equal(cur, data) {
					return curTag, nil
				}
			}
			return "", err
		case isConditionalConflict(err) && attempt < 5:
			// Refused, not applied: another conditional write of the key
			// was in flight. Its outcome decides ours on the next try.
		case defaultRetryable.IsErrorRetryable(err) == aws.TrueTernary && attempt < 4:
			ambiguous = true
		default:
			return "", err
		}
		if !sleep(ctx, time.Duration(attempt*attempt)*100*time.Millisecond) {
			return "", err
		}
	}
}

func noSDKRetry(o *s3.Options) { o.RetryMaxAttempts = 1 }

// Create implements archive.Writer: PutObject with If-None-Match: *.
func (s *Store) Create(ctx context.Context, key string, data []byte) (string, error) {
	if err := s.checkWriteKey(key); err != nil {
		return "", err
	}
	etag, err := s.conditional(ctx, key, data, func(ctx context.Context) (*string, error) {
		in := s.smallPut(key, data)
		in.Body = bytes.NewReader(data)
		in.IfNoneMatch = aws.String("*")
		out, err := s.client.PutObject(ctx, in, noSDKRetry)
		if err != nil {
			return nil, err
		}
		return out.ETag, nil
	})
	switch {
	case err == nil:
		return etag, nil
	case isPreconditionFailed(err):
		return "", fmt.Errorf("%s: %w", s.where(key), archive.ErrExists)
	default:
		return "", fmt.Errorf("s3 create %s: %w", s.where(key), err)
	}
}

// Replace implements archive.Writer: PutObject with If-Match: ifMatch.
func (s *Store) Replace(ctx context.Context, key string, data []byte, ifMatch string) (string, error) {
	if err := s.checkWriteKey(key); err != nil {
		return "", err
	}
	etag, err := s.conditional(ctx, key, data, func(ctx context.Context) (*string, error) {
		in := s.smallPut(key, data)
		in.Body = bytes.NewReader(data)
		in.IfMatch = aws.String(ifMatch)
		out, err := s.client.PutObject(ctx, in, noSDKRetry)
		if err != nil {
			return nil, err
		}
		return out.ETag, nil
	})
	switch {
	case err == nil:
		return etag, nil
	case isPreconditionFailed(err):
		return "", fmt.Errorf("%s: %w", s.where(key), archive.ErrPrecondition)
	case isNotFound(err):
		return "", fmt.Errorf("%s: %w", s.where(key), archive.ErrNotFound)
	default:
		return "", fmt.Errorf("s3 replace %s: %w", s.where(key), err)
	}
}

// Delete implements archive.Writer: DeleteObject with If-Match: ifMatch
// (conditional deletes: S3 since 2025-09 and versitygw refuse a stale etag
// with 412). Claims are never locked, so the holder can always delete.
//
// In a versioned bucket (every Object Lock bucket) the delete leaves a
// delete marker and the claim's old versions. Some S3-compatible servers
// (versitygw 1.8.0) evaluate If-None-Match and If-Match against the
// version under a delete marker, so a released claim could never be taken
// again; the claim's versions are therefore removed too (see purge).
func (s *Store) Delete(ctx context.Context, key string, ifMatch string) error {
	if err := s.checkWriteKey(key); err != nil {
		return err
	}
	out, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{
		Bucket: aws.String(s.opts.Bucket), Key: aws.String(key), IfMatch: aws.String(ifMatch),
	})
	switch {
	case err == nil:
	case isPreconditionFailed(err):
		return fmt.Errorf("%s: %w", s.where(key), archive.ErrPrecondition)
	case isNotFound(err):
		return fmt.Errorf("%s: %w", s.where(key), archive.ErrNotFound)
	default:
		return fmt.Errorf("s3 delete %s: %w", s.where(key), err)
	}
	if aws.ToBool(out.DeleteMarker) && aws.ToString(out.VersionId) != "" {
		if err := s.purge(ctx, key, aws.ToString(out.VersionId)); err != nil {
			// The claim is released either way (its current version is a
			// delete marker); only servers with the quirk above stay
			// blocked, until an operator deletes the key's versions.
			s.log.Warn("remove the versions of a released claim", zap.String("key", key), zap.Error(err))
		}
	}
	return nil
}

// purge removes every version of key once our delete marker is its latest
// entry: nobody wrote the key after our delete. The marker goes last, so
// until then the key reads as deleted, and a version created meanwhile
// (after the listing) is never touched. It needs s3:ListBucketVersions and
// s3:DeleteObjectVersion on the claims prefix.
func (s *Store) purge(ctx context.Context, key, marker string) error {
	var versions []string
	markerLatest := false
	p := s3.NewListObjectVersionsPaginator(s.client, &s3.ListObjectVersionsInput{Bucket: aws.String(s.opts.Bucket), Prefix: aws.String(key)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, v := range page.Versions {
			if aws.ToString(v.Key) == key {
				if aws.ToBool(v.IsLatest) {
					return nil // written again after our delete: it is live
				}
				versions = append(versions, aws.ToString(v.VersionId))
			}
		}
		for _, m := range page.DeleteMarkers {
			if aws.ToString(m.Key) != key {
				continue
			}
			id := aws.ToString(m.VersionId)
			if id == marker {
				markerLatest = aws.ToBool(m.IsLatest)
				continue
			}
			if aws.ToBool(m.IsLatest) {
				return nil
			}
			versions = append(versions, id)
		}
	}
	if !markerLatest {
		return nil
	}
	for _, id := range append(versions, marker) {
		_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.opts.Bucket), Key: aws.String(key), VersionId: aws.String(id)})
		if err != nil && !isNotFound(err) {
			return fmt.Errorf("delete version %s: %w", id, err)
		}
	}
	return nil
}
