package s3store

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"go.uber.org/zap"
)

// ErrBucket matches Check's errors (errors.Is) when the bucket is missing,
// refuses our credentials or lacks what the configuration needs: a
// configuration problem that retrying does not fix.
var ErrBucket = errors.New("s3 bucket not usable")

// bucketError is a Check failure: its message says what to fix.
type bucketError struct {
	msg string
	err error
}

func (e *bucketError) Error() string        { return e.msg }
func (e *bucketError) Unwrap() error        { return e.err }
func (e *bucketError) Is(target error) bool { return target == ErrBucket }

func bucketErrf(cause error, format string, args ...any) error {
	return &bucketError{msg: fmt.Sprintf(format, args...), err: cause}
}

func checkRetry(o *s3.Options) { o.RetryMaxAttempts = 2 }

func (s *Store) endpoint() string {
	if s.opts.Endpoint != "" {
		return "endpoint " + s.opts.Endpoint
	}
	return "AWS region " + s.client.Options().Region
}

// Check is the start-up check: the bucket exists and our credentials work,
// and with Object Lock configured, the bucket has versioning and Object Lock
// enabled. It makes a few requests with at most one retry each and returns
// one error that says what to fix.
func (s *Store) Check(ctx context.Context) error {
	b := s.opts.Bucket
	// A list of our prefix rather than HeadBucket: a HEAD answer has no
	// body, so "no such bucket" and "unknown access key" look alike (some
	// servers answer both with 404), and it needs the permission the
	// archive uses (s3:ListBucket on the prefix).
	_, err := s.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(b), Prefix: aws.String(s.listPrefix()), MaxKeys: aws.Int32(1)}, checkRetry)
	if err != nil {
		return s.bucketErr(err)
	}
	if s.opts.ObjectLock == nil {
		return nil
	}
	v, err := s.client.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(b)}, checkRetry)
	if err != nil {
		return bucketErrf(err, "s3 bucket %q: read versioning (object_lock is configured; needs s3:GetBucketVersioning): %v", b, short(err))
	}
	if v.Status != s3types.BucketVersioningStatusEnabled {
		status := string(v.Status)
		if status == "" {
			status = "never enabled"
		}
		return bucketErrf(nil, "s3 bucket %q: object_lock is configured but bucket versioning is %s; "+
			"Object Lock needs a bucket created with Object Lock enabled (which enables versioning)", b, status)
	}
	lc, err := s.client.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: aws.String(b)}, checkRetry)
	if err != nil {
		if code := errorCode(err); code == "ObjectLockConfigurationNotFoundError" || httpStatus(err) == http.StatusNotFound {
			return bucketErrf(err, "s3 bucket %q: object_lock is configured but the bucket does not have Object Lock enabled; "+
				"enable it on the bucket (put-object-lock-configuration with ObjectLockEnabled=Enabled, no default retention)", b)
		}
		return bucketErrf(err, "s3 bucket %q: read Object Lock configuration (needs s3:GetBucketObjectLockConfiguration): %v", b, short(err))
	}
	cfg := lc.ObjectLockConfiguration
	if cfg == nil || cfg.ObjectLockEnabled != s3types.ObjectLockEnabledEnabled {
		return bucketErrf(nil, "s3 bucket %q: object_lock is configured but the bucket does not have Object Lock enabled", b)
	}
	if cfg.Rule != nil && cfg.Rule.DefaultRetention != nil {
		// exportd locks each object and manifest itself; a bucket default
		// also locks every old version of the claims and heads, which are
		// rewritten all the time.
		s.log.Warn("the bucket has a default Object Lock retention; exportd sets retention per object and does not need it, "+
			"and it makes every version of the claims and heads undeletable for its period",
			zap.String("bucket", b), zap.String("mode", string(cfg.Rule.DefaultRetention.Mode)))
	}
	return nil
}

func (s *Store) listPrefix() string {
	if s.prefix == "" {
		return ""
	}
	return s.prefix + "/"
}

func (s *Store) bucketErr(err error) error {
	b := s.opts.Bucket
	code, status := errorCode(err), httpStatus(err)
	switch {
	// versitygw answers an unknown access key with 404 XAdminUserNotFound.
	case code == "InvalidAccessKeyId" || code == "SignatureDoesNotMatch" || code == "AccessDenied" || code == "XAdminUserNotFound" ||
		code == "ExpiredToken" || code == "InvalidToken" || status == http.StatusForbidden || status == http.StatusUnauthorized:
		return bucketErrf(err, "s3 credentials rejected for bucket %q (%s): %s", b, s.endpoint(), short(err))
	case code == "NoSuchBucket" || status == http.StatusNotFound:
		return bucketErrf(err, "s3 bucket %q does not exist (%s)", b, s.endpoint())
	case code == "PermanentRedirect" || code == "AuthorizationHeaderMalformed" || status == http.StatusMovedPermanently:
		return bucketErrf(err, "s3 bucket %q is in another region than %q: set region", b, s.client.Options().Region)
	case status == 0 && isCredentialsErr(err):
		return bucketErrf(err, "s3 credentials for bucket %q could not be obtained: %s", b, short(err))
	case status == 0:
		return fmt.Errorf("s3 bucket %q: cannot reach %s: %w", b, s.endpoint(), err)
	default:
		return bucketErrf(err, "s3 bucket %q (%s): %v", b, s.endpoint(), err)
	}
}

// short is the server's message without the SDK's request ids.
func short(err error) string {
	if code := errorCode(err); code != "" {
		var ae interface{ ErrorMessage() string }
		if errors.As(err, &ae) && ae.ErrorMessage() != "" {
			return code + ": " + ae.ErrorMessage()
		}
		return code
	}
	return err.Error()
}

func isCredentialsErr(err error) bool {
	var re interface{ RetrieveError() }
	if errors.As(err, &re) {
		return true
	}
	// The SDK wraps provider failures as "failed to retrieve credentials".
	return containsAny(err.Error(), "failed to retrieve credentials", "failed to refresh cached credentials", "get identity")
}

// SweepStaleUploads aborts the multipart uploads under prefix (the store's
// prefix when empty) that were started more than olderThan ago: uploads of
// runs that died, or whose abort could not reach the server. Start-up runs
// it; olderThan must exceed the longest upload, because another replica's
// upload in flight looks the same. It returns how many it aborted.
func (s *Store) SweepStaleUploads(ctx context.Context, prefix string, olderThan time.Duration) (int, error) {
	if prefix == "" {
		prefix = s.listPrefix()
	}
	if err := checkListPrefix(prefix); err != nil {
		return 0, err
	}
	cutoff := time.Now().Add(-olderThan)
	p := s3.NewListMultipartUploadsPaginator(s.client, &s3.ListMultipartUploadsInput{Bucket: aws.String(s.opts.Bucket), Prefix: aws.String(prefix)})
	n := 0
	var errs []error
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return n, fmt.Errorf("s3 list multipart uploads s3://%s/%s: %w", s.opts.Bucket, prefix, err)
		}
		for _, u := range page.Uploads {
			if u.Initiated != nil && u.Initiated.After(cutoff) {
				continue
			}
			_, err := s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(s.opts.Bucket), Key: u.Key, UploadId: u.UploadId})
			if err != nil && errorCode(err) != "NoSuchUpload" && !isNotFound(err) {
				errs = append(errs, fmt.Errorf("abort upload %s of %s: %w", aws.ToString(u.UploadId), s.where(aws.ToString(u.Key)), err))
				continue
			}
			n++
			s.log.Info("aborted a stale multipart upload", zap.String("key", aws.ToString(u.Key)),
				zap.String("upload_id", aws.ToString(u.UploadId)), zap.Time("initiated", aws.ToTime(u.Initiated)))
		}
	}
	return n, errors.Join(errs...)
}
