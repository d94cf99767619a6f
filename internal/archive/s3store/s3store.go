// Package s3store is the archive.Store on S3 (or an S3-compatible server).
//
// Keys are full bucket keys: the archive's Layout already puts the
// destination prefix in every key. Coordination between replicas rests only
// on S3's strong consistency and conditional writes: data objects and
// manifests are created with If-None-Match: * (also on
// CompleteMultipartUpload), claims and heads are swapped with If-Match, and
// claims are deleted with If-Match.
//
// Data objects stream through feature/s3/transfermanager with a CRC-64/NVME
// full-object checksum that the server verifies; memory is bounded by part
// size × (concurrency + 2) whatever the object size. A failed multipart
// upload is aborted with a fresh context; one that cannot be aborted (the
// server is gone) is removed by SweepStaleUploads at the next start-up and,
// as a second net, by the bucket lifecycle rule AbortIncompleteMultipartUpload.
package s3store

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	"go.uber.org/zap"

	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/domain"
)

// Object Lock modes.
const (
	LockCompliance = "COMPLIANCE"
	LockGovernance = "GOVERNANCE"
)

// Server-side encryption settings.
const (
	SSES3  = "AES256"
	SSEKMS = "aws:kms"
)

const (
	minPartSize = 5 << 20
	maxPartSize = 5 << 30
	// DefaultPartSize and DefaultConcurrency bound a Put's memory to about
	// 8 MiB × (4 + 2).
	DefaultPartSize    = 8 << 20
	DefaultConcurrency = 4
	// DefaultAbortTimeout bounds the abort of a failed upload, which runs
	// on a fresh context because the run's may be cancelled.
	DefaultAbortTimeout = 30 * time.Second
)

// ObjectLock configures S3 Object Lock retention of data objects and
// manifests.
type ObjectLock struct {
	// Mode is COMPLIANCE or GOVERNANCE.
	Mode string
	// Retain is how long after a window's end (or a snapshot's logical
	// time) its objects stay locked. The caller computes RetainUntil.
	Retain time.Duration
}

// Options configure a Store.
type Options struct {
	Bucket string
	// Prefix is the integration's location inside the bucket ("" or
	// "audit/prod"). Keys passed to the store are full bucket keys; when
	// Prefix is set, writes outside it are refused, and it is what
	// SweepStaleUploads sweeps by default.
	Prefix string
	// Region is required unless the default chain provides one; with an
	// Endpoint and no region, us-east-1 is used.
	Region string
	// Endpoint and ForcePathStyle address S3-compatible servers.
	Endpoint       string
	ForcePathStyle bool
	// RoleARN, if set, is assumed through STS (with ExternalID) on top of
	// the default credential chain; the credentials are refreshed before
	// they expire.
	RoleARN    string
	ExternalID string
	// SSE is "" (bucket default), AES256 or aws:kms; KMSKeyID only with
	// aws:kms.
	SSE      string
	KMSKeyID string
	// StorageClass applies to data objects and manifests; claims and heads
	// are rewritten often and stay in STANDARD.
	StorageClass string
	// ObjectLock, when set, locks data objects and manifests whose
	// PutOptions carry a RetainUntil; Check then requires the bucket to
	// have versioning and Object Lock enabled.
	ObjectLock *ObjectLock
	// PartSize (>= 5 MiB) and Concurrency bound a Put's memory.
	PartSize    int64
	Concurrency int
	// AbortTimeout bounds aborting a failed multipart upload.
	AbortTimeout time.Duration
	Logger       *zap.Logger
	// Credentials replaces the default chain. For tests only.
	Credentials aws.CredentialsProvider
	// APIOptions are added to every S3 call's middleware stack (the
	// transfer manager's too). Tests record the operations called.
	APIOptions []func(*middleware.Stack) error
}

func (o *Options) validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("s3 store: %s: %s", field, fmt.Sprintf(format, args...)))
	}
	if o.Bucket == "" {
		bad("bucket", "required")
	} else if len(o.Bucket) < 3 || len(o.Bucket) > 63 || strings.ContainsAny(o.Bucket, "/\\ ") {
		bad("bucket", "%q is not a bucket name", o.Bucket)
	}
	if _, err := domain.ValidatePrefix(o.Prefix); err != nil {
		bad("prefix", "%v", err)
	}
	switch o.SSE {
	case "", SSES3, SSEKMS:
	default:
		bad("sse", "%q: want AES256 or aws:kms", o.SSE)
	}
	if o.KMSKeyID != "" && o.SSE != SSEKMS {
		bad("kms_key_id", "only with sse: aws:kms")
	}
	if o.ExternalID != "" && o.RoleARN == "" {
		bad("external_id", "only with role_arn")
	}
	if l := o.ObjectLock; l != nil {
		if l.Mode != LockCompliance && l.Mode != LockGovernance {
			bad("object_lock.mode", "%q: want COMPLIANCE or GOVERNANCE", l.Mode)
		}
		if l.Retain <= 0 {
			bad("object_lock.retain", "must be > 0")
		}
	}
	if o.PartSize != 0 && (o.PartSize < minPartSize || o.PartSize > maxPartSize) {
		bad("part_size", "%d: want 5 MiB to 5 GiB", o.PartSize)
	}
	if o.Concurrency < 0 || o.Concurrency > 64 {
		bad("concurrency", "%d: want 1 to 64", o.Concurrency)
	}
	if o.Endpoint != "" && !strings.HasPrefix(o.Endpoint, "http://") && !strings.HasPrefix(o.Endpoint, "https://") {
		bad("endpoint", "%q: want an http:// or https:// URL", o.Endpoint)
	}
	return errors.Join(errs...)
}

// Store is an S3 archive.
type Store struct {
	opts      Options
	prefix    string
	client    *s3.Client
	tm        *transfermanager.Client
	transport *http.Transport
	log       *zap.Logger
}

var _ archive.Store = (*Store)(nil)

// New builds a Store. It does not contact S3; call Check at start-up.
func New(ctx context.Context, o Options) (*Store, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	prefix, _ := domain.ValidatePrefix(o.Prefix)
	if o.PartSize == 0 {
		o.PartSize = DefaultPartSize
	}
	if o.Concurrency == 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.AbortTimeout <= 0 {
		o.AbortTimeout = DefaultAbortTimeout
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	var loadOpts []func(*config.LoadOptions) error
	region := o.Region
	if region == "" && o.Endpoint != "" {
		region = "us-east-1"
	}
	if region != "" {
		loadOpts = append(loadOpts, config.WithRegion(region))
	}
	if o.Credentials != nil {
		loadOpts = append(loadOpts, config.WithCredentialsProvider(o.Credentials))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("s3 store %s: aws config: %w", o.Bucket, err)
	}
	// Our own transport, so that Close can drop its idle connections. It
	// starts from the SDK's, which carries AWS_CA_BUNDLE if one is set.
	bc, ok := cfg.HTTPClient.(*awshttp.BuildableClient)
	if !ok {
		bc = awshttp.NewBuildableClient()
	}
	tr := bc.GetTransport()
	tr.MaxIdleConnsPerHost = o.Concurrency + 8
	// A server that accepted a request but never answers must not hang a
	// run forever; S3 answers CompleteMultipartUpload at once and keeps
	// the connection alive with whitespace while it assembles.
	tr.ResponseHeaderTimeout = 5 * time.Minute
	cfg.HTTPClient = &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if cfg.Region == "" {
		return nil, fmt.Errorf("s3 store %s: region: required (set region, AWS_REGION or a profile's region)", o.Bucket)
	}
	if o.RoleARN != "" {
		provider := stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), o.RoleARN, func(ao *stscreds.AssumeRoleOptions) {
			ao.RoleSessionName = "exportd"
			if o.ExternalID != "" {
				ao.ExternalID = aws.String(o.ExternalID)
			}
		})
		// The cache refreshes the role's credentials this long before they
		// expire, so that no request is signed with credentials about to
		// lapse mid-upload.
		cfg.Credentials = aws.NewCredentialsCache(provider, func(co *aws.CredentialsCacheOptions) {
			co.ExpiryWindow = 5 * time.Minute
			co.ExpiryWindowJitterFrac = 0.5
		})
	}
	client := s3.NewFromConfig(cfg, func(so *s3.Options) {
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
		}
		so.UsePathStyle = o.ForcePathStyle
		so.APIOptions = append(so.APIOptions, o.APIOptions...)
	})
	tm := transfermanager.New(client, func(to *transfermanager.Options) {
		to.PartSizeBytes = o.PartSize
		// One part or less goes as a single PutObject; the first part is
		// never read in a larger buffer than the others.
		to.MultipartUploadThreshold = o.PartSize
		to.Concurrency = o.Concurrency
		to.FailTimeout = o.AbortTimeout
	})
	return &Store{opts: o, prefix: prefix, client: client, tm: tm, transport: tr, log: o.Logger}, nil
}

// Close drops idle connections. The store must not be used afterwards.
func (s *Store) Close() error {
	s.transport.CloseIdleConnections()
	return nil
}

// Describe implements archive.Store.
func (s *Store) Describe() string {
	d := "s3://" + s.opts.Bucket + "/" + s.prefix
	if s.opts.Endpoint != "" {
		d += " (endpoint " + s.opts.Endpoint + ")"
	}
	return d
}

// Bucket is the store's bucket.
func (s *Store) Bucket() string { return s.opts.Bucket }

// Client is the store's S3 client (for tools and tests).
func (s *Store) Client() *s3.Client { return s.client }

// ObjectLock returns the configured Object Lock, or nil.
func (s *Store) ObjectLock() *ObjectLock { return s.opts.ObjectLock }

func (s *Store) checkKey(key string) error {
	return domain.ValidateKey(key)
}

// checkWriteKey also keeps writes inside the store's prefix.
func (s *Store) checkWriteKey(key string) error {
	if err := domain.ValidateKey(key); err != nil {
		return err
	}
	if s.prefix != "" && !strings.HasPrefix(key, s.prefix+"/") {
		return fmt.Errorf("%w %q: outside the store's prefix %q", domain.ErrBadKey, key, s.prefix+"/")
	}
	return nil
}

// checkListPrefix refuses list prefixes that no valid key can start with:
// every complete segment must be a valid one; the last, partial segment
// may be anything a key may hold.
func checkListPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	bad := func(why string) error { return fmt.Errorf("%w: list prefix %q: %s", domain.ErrBadKey, prefix, why) }
	if strings.HasPrefix(prefix, "/") {
		return bad("absolute")
	}
	i := strings.LastIndexByte(prefix, '/')
	if i >= 0 {
		if err := domain.ValidateKey(prefix[:i]); err != nil {
			return bad("a segment is empty or a dot segment")
		}
	}
	if last := prefix[i+1:]; last != "" {
		if err := domain.ValidateKey("x" + last); err != nil {
			return bad("holds a backslash or a control character")
		}
	}
	return nil
}

// httpStatus is the HTTP status of a failed S3 call, or 0.
func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// isNotFound: the object (not the bucket, not the access key: versitygw
// answers an unknown one with 404 too) is missing.
func isNotFound(err error) bool {
	switch errorCode(err) {
	case "NoSuchKey", "NotFound":
		return true
	case "":
		return httpStatus(err) == http.StatusNotFound
	}
	return false
}

func isPreconditionFailed(err error) bool {
	return httpStatus(err) == http.StatusPreconditionFailed || errorCode(err) == "PreconditionFailed"
}

// isConditionalConflict: S3 refused a conditional write because another
// conditional write to the key was in flight; the request can be retried.
func isConditionalConflict(err error) bool {
	return httpStatus(err) == http.StatusConflict || errorCode(err) == "ConditionalRequestConflict"
}

func (s *Store) where(key string) string { return "s3://" + s.opts.Bucket + "/" + key }

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
