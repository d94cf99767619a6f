package s3store

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/exportd/exportd/internal/archive"
)

var _ archive.LockInspector = (*Store)(nil)

// BucketLock implements archive.LockInspector: the bucket's versioning and
// Object Lock configuration (Enabled false when the bucket has none).
func (s *Store) BucketLock(ctx context.Context) (archive.BucketLock, error) {
	b := s.opts.Bucket
	var bl archive.BucketLock
	v, err := s.client.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(b)})
	if err != nil {
		return bl, fmt.Errorf("s3 bucket %q: read versioning: %w", b, err)
	}
	bl.Versioning = string(v.Status)
	lc, err := s.client.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: aws.String(b)})
	if err != nil {
		if code := errorCode(err); code == "ObjectLockConfigurationNotFoundError" || httpStatus(err) == http.StatusNotFound {
			return bl, nil
		}
		return bl, fmt.Errorf("s3 bucket %q: read Object Lock configuration: %w", b, err)
	}
	cfg := lc.ObjectLockConfiguration
	if cfg == nil {
		return bl, nil
	}
	bl.Enabled = cfg.ObjectLockEnabled == s3types.ObjectLockEnabledEnabled
	if cfg.Rule != nil && cfg.Rule.DefaultRetention != nil {
		r := cfg.Rule.DefaultRetention
		bl.DefaultMode, bl.DefaultDays, bl.DefaultYears = string(r.Mode), aws.ToInt32(r.Days), aws.ToInt32(r.Years)
	}
	return bl, nil
}

var _ archive.LegalHolder = (*Store)(nil)

// SetLegalHold implements archive.LegalHolder: an Object Lock legal hold
// on (or off) the current version of key.
func (s *Store) SetLegalHold(ctx context.Context, key string, on bool) error {
	if err := s.checkKey(key); err != nil {
		return err
	}
	status := s3types.ObjectLockLegalHoldStatusOff
	if on {
		status = s3types.ObjectLockLegalHoldStatusOn
	}
	_, err := s.client.PutObjectLegalHold(ctx, &s3.PutObjectLegalHoldInput{Bucket: aws.String(s.opts.Bucket), Key: aws.String(key),
		LegalHold: &s3types.ObjectLockLegalHold{Status: status}})
	if err != nil {
		return fmt.Errorf("s3 legal hold %s on s3://%s/%s: %w", status, s.opts.Bucket, key, err)
	}
	return nil
}

var _ archive.RetentionExtender = (*Store)(nil)

// ExtendRetention implements archive.RetentionExtender: the current
// version's retain-until moves to until when that is later (S3 allows
// extending a COMPLIANCE retention, never shortening it). Without Object
// Lock configured, or with until already past, it does nothing.
func (s *Store) ExtendRetention(ctx context.Context, key string, until time.Time) error {
	if err := s.checkKey(key); err != nil {
		return err
	}
	if s.opts.ObjectLock == nil || !until.After(time.Now()) {
		return nil
	}
	cur, err := s.Stat(ctx, key)
	if err != nil {
		return err
	}
	if cur.LockMode != "" && !cur.RetainUntil.Before(until) {
		return nil
	}
	mode := s3types.ObjectLockRetentionMode(s.opts.ObjectLock.Mode)
	if cur.LockMode != "" {
		mode = s3types.ObjectLockRetentionMode(cur.LockMode)
	}
	_, err = s.client.PutObjectRetention(ctx, &s3.PutObjectRetentionInput{Bucket: aws.String(s.opts.Bucket), Key: aws.String(key),
		Retention: &s3types.ObjectLockRetention{Mode: mode, RetainUntilDate: aws.Time(until.UTC())}})
	if err != nil {
		return fmt.Errorf("s3 %s: extend retention to %s: %w", key, until.UTC().Format(time.RFC3339), err)
	}
	return nil
}
