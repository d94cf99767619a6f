package s3store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"go.uber.org/zap"
)

// What a warehouse-side unload needs of the store beyond archive.Store:
// the s3:// URL Snowflake writes to, retention applied after the object
// was checked, and removal of the staging objects with all their versions.

// Location is the s3:// URL of key, as a storage integration names it.
func (s *Store) Location(key string) string { return s.where(key) }

// SetRetention locks key until the given time with the store's Object
// Lock mode (PutObjectRetention). Without an Object Lock, or for a date
// already past, it does nothing, as Put does.
func (s *Store) SetRetention(ctx context.Context, key string, until time.Time) error {
	if err := s.checkWriteKey(key); err != nil {
		return err
	}
	if s.opts.ObjectLock == nil || until.IsZero() {
		return nil
	}
	if !until.After(time.Now()) {
		s.log.Info("retention already elapsed; object not locked", zap.String("key", key), zap.Time("retain_until", until))
		return nil
	}
	_, err := s.client.PutObjectRetention(ctx, &s3.PutObjectRetentionInput{
		Bucket: aws.String(s.opts.Bucket), Key: aws.String(key),
		Retention: &s3types.ObjectLockRetention{
			Mode:            s3types.ObjectLockRetentionMode(s.opts.ObjectLock.Mode),
			RetainUntilDate: aws.Time(until.UTC()),
		},
	})
	if err != nil {
		return fmt.Errorf("s3 set retention %s: %w", s.where(key), err)
	}
	return nil
}

// DeleteVersions removes every version and delete marker of the objects
// whose key starts with prefix (a staging folder ending in '/'), or of key
// alone when exact. In a versioned bucket (every Object Lock bucket) a
// plain delete would leave the data behind as a noncurrent version. It
// needs s3:ListBucketVersions and s3:DeleteObjectVersion. It returns how
// many versions it removed.
func (s *Store) DeleteVersions(ctx context.Context, prefix string, exact bool) (int, error) {
	if err := s.checkWriteKey(strings.TrimSuffix(prefix, "/")); err != nil {
		return 0, err
	}
	type ver struct{ key, id string }
	var vs []ver
	p := s3.NewListObjectVersionsPaginator(s.client, &s3.ListObjectVersionsInput{Bucket: aws.String(s.opts.Bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return 0, fmt.Errorf("s3 list versions %s: %w", s.where(prefix), err)
		}
		for _, v := range page.Versions {
			vs = append(vs, ver{aws.ToString(v.Key), aws.ToString(v.VersionId)})
		}
		for _, m := range page.DeleteMarkers {
			vs = append(vs, ver{aws.ToString(m.Key), aws.ToString(m.VersionId)})
		}
	}
	n := 0
	for _, v := range vs {
		if exact && v.key != prefix {
			continue
		}
		in := &s3.DeleteObjectInput{Bucket: aws.String(s.opts.Bucket), Key: aws.String(v.key)}
		if v.id != "" && v.id != "null" {
			in.VersionId = aws.String(v.id)
		}
		if _, err := s.client.DeleteObject(ctx, in); err != nil && !isNotFound(err) {
			return n, fmt.Errorf("s3 delete %s version %s: %w", s.where(v.key), v.id, err)
		}
		n++
	}
	return n, nil
}
