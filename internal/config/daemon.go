package config

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/exportd/exportd/internal/domain"
)

// Built-in defaults.
const (
	DefaultSchedulesDir    = "schedules"
	DefaultListen          = "127.0.0.1:8080"
	DefaultShutdownTimeout = Duration(60 * time.Second)
	DefaultMaxConcurrent   = 4
	DefaultLease           = Duration(10 * time.Minute)
	MinLease               = Duration(30 * time.Second)
	// DefaultSweepUploadsEvery is how often serve aborts stale multipart
	// uploads; MinSweepUploadsEvery bounds it.
	DefaultSweepUploadsEvery = Duration(time.Hour)
	MinSweepUploadsEvery     = Duration(time.Second)
	// DefaultArchiveRefreshEvery is how often serve re-reads the schedules'
	// chain heads; MinArchiveRefreshEvery bounds it.
	DefaultArchiveRefreshEvery = Duration(time.Minute)
	MinArchiveRefreshEvery     = Duration(time.Second)
	DefaultTimezone            = "UTC"
	DefaultRetryAttempts       = 3
	// MaxRetryAttempts and MaxRetryBackoff bound retries: beyond them a
	// failing unit would hold its slot for ever.
	MaxRetryAttempts          = 100
	MaxRetryBackoff           = 24 * time.Hour
	DefaultRetryInitial       = Duration(30 * time.Second)
	DefaultRetryMax           = Duration(10 * time.Minute)
	DefaultPauseAfterFailures = 10
	DefaultPartSize           = Size(16 << 20)
	MinPartSize               = Size(5 << 20)
	MaxPartSize               = Size(5 << 30)
	DefaultConcurrency        = 4
	MaxConcurrency            = 64
	DuckDBMemory              = ":memory:"
)

var (
	// refNameRE is the rule for source and integration names: they appear
	// in manifests and logs.
	refNameRE    = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	instanceRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$`)
	identRE      = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	bucketRE     = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	storageClass = []string{
		"STANDARD", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER", "GLACIER_IR",
		"DEEP_ARCHIVE", "REDUCED_REDUNDANCY", "EXPRESS_ONEZONE",
	}
)

// loadLocation loads an IANA zone. "Local" is refused: it would make the
// archive's dt= folders depend on the machine the daemon runs on.
func loadLocation(name string) (*time.Location, error) {
	if name == "Local" || name == "" {
		return nil, fmt.Errorf("%q is not an IANA time zone; use a name such as UTC or Europe/London", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q; use an IANA name such as UTC, Europe/London or America/Los_Angeles", name)
	}
	return loc, nil
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// daemon decodes and checks the daemon config; nil when it is unusable.
func (l *loader) daemon(path string, data []byte) *Config {
	f := &fileState{doc: &document{file: path}}
	l.files = append(l.files, f)
	l.daemonFile = f
	if !l.parse(f, data, "the daemon config needs at least state_dir, sources and integrations") {
		return nil
	}
	var raw daemonFile
	l.decode(f, &raw)
	dir := filepath.Dir(path)
	cfg := &Config{
		File:         path,
		Dir:          dir,
		StateDir:     resolvePath(dir, raw.StateDir),
		SchedulesDir: resolvePath(dir, raw.SchedulesDir),
		InstanceID:   raw.InstanceID,
		Sources:      raw.Sources,
		Integrations: raw.Integrations,
		Server:       raw.Server,
		Runs:         raw.Runs,
		Signing:      raw.Signing,
		Notify:       raw.Notify,
		doc:          f.doc,
	}
	if cfg.Sources == nil {
		cfg.Sources = map[string]*Source{}
	}
	if cfg.Integrations == nil {
		cfg.Integrations = map[string]*Integration{}
	}

	if raw.StateDir == "" {
		l.errorf(f, "state_dir", "missing; set the folder for spool files, the schema cache and run history, e.g. state_dir: ../state")
	}
	if raw.SchedulesDir == "" {
		cfg.SchedulesDir = resolvePath(dir, DefaultSchedulesDir)
	}
	if st, err := os.Stat(cfg.SchedulesDir); err != nil {
		l.errorf(f, "schedules_dir", "cannot read folder %s: %s", cfg.SchedulesDir, pathErrReason(err))
	} else if !st.IsDir() {
		l.errorf(f, "schedules_dir", "%s is not a folder", cfg.SchedulesDir)
	}
	if cfg.InstanceID == "" {
		cfg.InstanceID = domain.DefaultInstance()
	} else if !instanceRE.MatchString(cfg.InstanceID) {
		l.errorf(f, "instance_id", "%s is not a valid instance id: use up to 128 letters, digits and . _ : @ -", quoteShort(cfg.InstanceID))
	}

	l.sourceBad = map[string]bool{}
	for _, name := range sortedKeys(cfg.Sources) {
		before := len(f.errs)
		l.checkSource(f, cfg, name)
		l.sourceBad[name] = len(f.errs) > before || f.isBad("sources."+name)
	}
	l.integrationBad = map[string]bool{}
	for _, name := range sortedKeys(cfg.Integrations) {
		before := len(f.errs)
		l.checkIntegration(f, cfg, name)
		l.integrationBad[name] = len(f.errs) > before || f.isBad("integrations."+name)
	}
	loopback := l.checkServer(f, cfg)
	l.checkRuns(f, cfg)
	l.checkNotifiers(f, cfg)
	l.checkDefaults(f, cfg, &raw.Defaults)
	l.resolveSecrets(f, cfg, loopback)
	l.checkSigning(f, cfg)
	return cfg
}

// checkSigning parses the signing key once it is resolved, so that a bad
// key stops the daemon at start rather than at its first commit. The
// message never shows the key.
func (l *loader) checkSigning(f *fileState, cfg *Config) {
	k := cfg.Signing.PrivateKey
	if !k.IsSet() || f.isBad("signing.private_key") {
		return
	}
	key, err := parsePrivateKey([]byte(k.Reveal()))
	if err != nil {
		l.errorf(f, "signing.private_key", "not an Ed25519 private key in PEM (%v); make one with: openssl genpkey -algorithm ed25519 -out exportd-signing.pem", err)
		return
	}
	cfg.Signing.Key = key
}

func (l *loader) checkSource(f *fileState, cfg *Config, name string) {
	p := "sources." + name
	s := cfg.Sources[name]
	if s == nil {
		l.keyErrorf(f, p, "empty; set type: duckdb or snowflake")
		cfg.Sources[name] = &Source{Name: name}
		return
	}
	s.Name = name
	if !refNameRE.MatchString(name) {
		l.keyErrorf(f, p, "%s is not a valid source name: use up to 63 characters a-z, 0-9, '_' and '-', starting with a letter or digit", quoteShort(name))
	}
	if s.Timezone == "" {
		s.Timezone = DefaultTimezone
	}
	loc, err := l.location(s.Timezone)
	if err != nil {
		l.errorf(f, p+".timezone", "%v", err)
	}
	s.Location = loc
	if s.Retention < 0 {
		l.errorf(f, p+".retention", "must not be negative")
	}
	for _, table := range sortedKeys(s.Columns) {
		cols := s.Columns[table]
		for _, col := range sortedKeys(cols) {
			cp := p + ".columns." + table + "." + col
			o := cols[col]
			if o == nil {
				o = &ColumnOptions{}
				cols[col] = o
			}
			if o.Zone != "" {
				if o.Location, err = l.location(o.Zone); err != nil {
					l.errorf(f, cp+".zone", "%v", err)
				}
			}
		}
	}
	switch s.Type {
	case "":
		l.errorf(f, p+".type", "missing; set duckdb or snowflake")
	case SourceDuckDB:
		d := &s.DuckDB
		if d.Path == "" {
			d.Path = DuckDBMemory
		} else if d.Path != DuckDBMemory {
			d.Path = resolvePath(cfg.Dir, d.Path)
		}
		for i, file := range d.Init {
			ip := indexPath(p+".init", i)
			if file == "" {
				l.errorf(f, ip, "empty; name an SQL file")
				continue
			}
			d.Init[i] = resolvePath(cfg.Dir, file)
			if st, err := os.Stat(d.Init[i]); err != nil {
				l.errorf(f, ip, "cannot read %s: %s", d.Init[i], pathErrReason(err))
			} else if st.IsDir() {
				l.errorf(f, ip, "%s is a folder; name an SQL file", d.Init[i])
			}
		}
		for _, k := range sortedKeys(d.Vars) {
			if !identRE.MatchString(k) {
				l.keyErrorf(f, p+".vars."+k, "%s is not a valid variable name: use letters, digits and '_', not starting with a digit", quoteShort(k))
			}
		}
		if d.Threads < 0 {
			l.errorf(f, p+".threads", "must not be negative (0 is DuckDB's default)")
		}
	case SourceSnowflake:
		sf := &s.Snowflake
		for _, req := range []struct{ field, val, example string }{
			{"account", sf.Account, "the account identifier, e.g. myorg-myaccount"},
			{"user", sf.User, "the user exportd logs in as"},
			{"database", sf.Database, "the database of the exported tables"},
		} {
			if req.val == "" {
				l.errorf(f, p+"."+req.field, "missing; set %s", req.example)
			}
		}
		var creds []string
		for _, c := range []struct {
			field string
			set   bool
		}{{"password", !sf.Password.IsZero()}, {"private_key", !sf.PrivateKey.IsZero()},
			{"token", !sf.Token.IsZero()}, {"oauth_token_file", sf.OAuthTokenFile != ""}} {
			if c.set {
				creds = append(creds, c.field)
			}
		}
		switch {
		case f.isBad(p+".password") || f.isBad(p+".private_key") || f.isBad(p+".token"):
			// A literal value was refused; that error says enough.
		case len(creds) == 0:
			l.errorf(f, p, "set password, private_key, token or oauth_token_file (secrets as ${ENV_VAR} or file:/path)")
		case len(creds) > 1:
			l.errorf(f, p+"."+creds[1], "set only one of password, private_key, token and oauth_token_file (%s is set too)", creds[0])
		default:
			want := map[string]string{"password": SnowflakeAuthPassword, "private_key": SnowflakeAuthKeyPair,
				"token": SnowflakeAuthPAT, "oauth_token_file": SnowflakeAuthOAuth}[creds[0]]
			switch {
			case sf.Authenticator == "":
				sf.Authenticator = want
			case creds[0] == "token" && (sf.Authenticator == SnowflakeAuthOAuth || sf.Authenticator == SnowflakeAuthPAT):
			case sf.Authenticator == want:
			case sf.Authenticator != SnowflakeAuthPassword && sf.Authenticator != SnowflakeAuthKeyPair &&
				sf.Authenticator != SnowflakeAuthOAuth && sf.Authenticator != SnowflakeAuthPAT:
				l.errorf(f, p+".authenticator", "unknown authenticator %s; use password, key_pair, oauth or programmatic_access_token", quoteShort(sf.Authenticator))
			default:
				l.errorf(f, p+".authenticator", "%s does not go with %s; leave authenticator out or set %s", sf.Authenticator, creds[0], want)
			}
		}
		if sf.OAuthTokenFile != "" {
			sf.OAuthTokenFile = resolvePath(cfg.Dir, sf.OAuthTokenFile)
		}
		if sf.StatementTimeout < 0 {
			l.errorf(f, p+".statement_timeout", "must not be negative")
		} else if sf.StatementTimeout == 0 {
			sf.StatementTimeout = DefaultStatementTimeout
		}
		if !sf.PrivateKeyPassphrase.IsZero() && sf.PrivateKey.IsZero() {
			l.errorf(f, p+".private_key_passphrase", "needs private_key")
		}
		switch sf.Protocol {
		case "":
			sf.Protocol = "https"
		case "https", "http":
		default:
			l.errorf(f, p+".protocol", "unknown protocol %s; use https or http", quoteShort(sf.Protocol))
		}
		if sf.Port < 0 || sf.Port > 65535 {
			l.errorf(f, p+".port", "must be between 0 and 65535")
		}
	default:
		l.errorf(f, p+".type", "unknown source type %s; use duckdb or snowflake", quoteShort(s.Type))
	}
}

func (l *loader) checkIntegration(f *fileState, cfg *Config, name string) {
	p := "integrations." + name
	ig := cfg.Integrations[name]
	if ig == nil {
		l.keyErrorf(f, p, "empty; set type: folder or s3")
		cfg.Integrations[name] = &Integration{Name: name}
		return
	}
	ig.Name = name
	if !refNameRE.MatchString(name) {
		l.keyErrorf(f, p, "%s is not a valid integration name: use up to 63 characters a-z, 0-9, '_' and '-', starting with a letter or digit", quoteShort(name))
	}
	switch ig.Type {
	case "":
		l.errorf(f, p+".type", "missing; set folder or s3")
	case IntegrationFolder:
		if ig.Folder.Path == "" {
			l.errorf(f, p+".path", "missing; set the archive's root folder, e.g. path: ../archive")
		}
		ig.Folder.Path = resolvePath(cfg.Dir, ig.Folder.Path)
	case IntegrationS3:
		l.checkS3(f, p, &ig.S3)
	default:
		l.errorf(f, p+".type", "unknown integration type %s; use folder or s3", quoteShort(ig.Type))
	}
}

func (l *loader) checkS3(f *fileState, p string, s *S3Options) {
	if s.Endpoint != "" {
		u, err := url.Parse(s.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			l.errorf(f, p+".endpoint", "must be an http(s) URL such as https://s3.example.com:9000")
		}
	}
	if s.AccessKeyID.IsZero() != s.SecretAccessKey.IsZero() && !f.isBad(p+".access_key_id") && !f.isBad(p+".secret_access_key") {
		l.errorf(f, p, "set both access_key_id and secret_access_key, or neither (AWS default chain)")
	}
	if s.RoleARN != "" && (!strings.HasPrefix(s.RoleARN, "arn:") || !strings.Contains(s.RoleARN, ":role/")) {
		l.errorf(f, p+".role_arn", "must be an IAM role ARN such as arn:aws:iam::123456789012:role/exportd")
	}
	l.checkSnowflakeIntegration(f, p, s)
	if !s.ExternalID.IsZero() && s.RoleARN == "" && !f.isBad(p+".role_arn") {
		l.errorf(f, p+".external_id", "needs role_arn")
	}
	if len(s.AllowedLocations) == 0 {
		l.errorf(f, p+".allowed_locations", "missing; list the locations this integration may write to, e.g. [\"s3://bucket/audit/\"] (\"*\" allows any)")
	}
	for i, loc := range s.AllowedLocations {
		if loc == "*" {
			continue
		}
		norm, _, _, err := parseS3URI(loc)
		if err != nil {
			l.errorf(f, indexPath(p+".allowed_locations", i), "%v", err)
		}
		s.AllowedLocations[i] = norm
	}
	for i, loc := range s.BlockedLocations {
		norm, _, _, err := parseS3URI(loc)
		if err != nil {
			l.errorf(f, indexPath(p+".blocked_locations", i), "%v", err)
		}
		s.BlockedLocations[i] = norm
	}
	switch s.SSE {
	case "", "AES256":
		if s.KMSKeyID != "" {
			l.errorf(f, p+".kms_key_id", "needs sse: aws:kms")
		}
	case "aws:kms":
	default:
		l.errorf(f, p+".sse", "unknown encryption %s; use AES256 or aws:kms", quoteShort(s.SSE))
	}
	if s.StorageClass != "" && !slices.Contains(storageClass, s.StorageClass) {
		l.errorf(f, p+".storage_class", "unknown storage class %s; use one of %s", quoteShort(s.StorageClass), strings.Join(storageClass, ", "))
	}
	if ol := s.ObjectLock; ol != nil {
		switch ol.Mode {
		case "":
			l.errorf(f, p+".object_lock.mode", "missing; set COMPLIANCE or GOVERNANCE")
		case "COMPLIANCE", "GOVERNANCE":
		default:
			l.errorf(f, p+".object_lock.mode", "unknown mode %s; use COMPLIANCE or GOVERNANCE", quoteShort(ol.Mode))
		}
		if ol.Retain <= 0 {
			l.errorf(f, p+".object_lock.retain", "must be positive, e.g. 5y")
		}
	}
	if s.PartSize == 0 {
		s.PartSize = DefaultPartSize
	} else if s.PartSize < MinPartSize || s.PartSize > MaxPartSize {
		l.errorf(f, p+".part_size", "must be between %s and %s (S3 limits)", MinPartSize, MaxPartSize)
	}
	if s.Concurrency == 0 {
		s.Concurrency = DefaultConcurrency
	} else if s.Concurrency < 1 || s.Concurrency > MaxConcurrency {
		l.errorf(f, p+".concurrency", "must be between 1 and %d", MaxConcurrency)
	}
}

// parseS3URI parses s3://bucket[/prefix][/] and returns it normalized to
// end with '/', with its bucket and its prefix (no trailing '/').
func parseS3URI(s string) (norm, bucket, prefix string, err error) {
	rest, ok := strings.CutPrefix(s, "s3://")
	if !ok {
		return s, "", "", fmt.Errorf("%s is not an s3:// URI; write s3://bucket/prefix/", quoteShort(s))
	}
	bucket, p, _ := strings.Cut(rest, "/")
	if !bucketRE.MatchString(bucket) || strings.Contains(bucket, "..") {
		return s, "", "", fmt.Errorf("%s: invalid bucket name %s: use 3 to 63 characters a-z, 0-9, '.' and '-'", quoteShort(s), quoteShort(bucket))
	}
	prefix, err = domain.ValidatePrefix(p)
	if err != nil {
		return s, "", "", fmt.Errorf("%s: invalid prefix: %s", quoteShort(s), keyReason(err, p))
	}
	norm = "s3://" + bucket + "/"
	if prefix != "" {
		norm += prefix + "/"
	}
	return norm, bucket, prefix, nil
}

// keyReason is archive's reason why a key or prefix is invalid, without
// the repeated key.
func keyReason(err error, key string) string {
	msg := err.Error()
	for _, k := range []string{key, strings.TrimSuffix(key, "/")} {
		if r, ok := strings.CutPrefix(msg, fmt.Sprintf("%v %q: ", domain.ErrBadKey, k)); ok {
			return r
		}
	}
	return msg
}

// checkServer checks the HTTP server settings and reports whether it
// listens on a loopback address only.
func (l *loader) checkServer(f *fileState, cfg *Config) (loopback bool) {
	s := &cfg.Server
	if s.Listen == "" {
		s.Listen = DefaultListen
	}
	host, port, err := net.SplitHostPort(s.Listen)
	if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 0 || n > 65535 {
		l.errorf(f, "server.listen", "%s is not host:port; write e.g. 127.0.0.1:8080", quoteShort(s.Listen))
		loopback = true // the listen error is enough; do not also ask for a token
	} else {
		ip := net.ParseIP(host)
		loopback = host == "localhost" || (ip != nil && ip.IsLoopback())
	}
	switch s.StatusPage {
	case "":
		s.StatusPage = "signed_in"
	case "signed_in", "anyone":
	default:
		l.errorf(f, "server.status_page", "%s: want signed_in (only browsers signed in with the token) or anyone (read-only for anyone who reaches the listener)", quoteShort(s.StatusPage))
	}
	if s.ShutdownTimeout == 0 {
		s.ShutdownTimeout = DefaultShutdownTimeout
	} else if s.ShutdownTimeout < 0 {
		l.errorf(f, "server.shutdown_timeout", "must not be negative")
	}
	if !loopback && s.Token.IsZero() && !f.isBad("server.token") {
		l.errorf(f, "server.listen", "%s is not a loopback address, so the API needs a token: set server.token: ${EXPORTD_TOKEN} (or file:/path)", s.Listen)
	}
	return loopback
}

func (l *loader) checkRuns(f *fileState, cfg *Config) {
	r := &cfg.Runs
	if r.MaxConcurrent == 0 {
		r.MaxConcurrent = DefaultMaxConcurrent
	} else if r.MaxConcurrent < 0 {
		l.errorf(f, "runs.max_concurrent", "must be at least 1")
	}
	if r.Lease == 0 {
		r.Lease = DefaultLease
	} else if r.Lease < MinLease {
		l.errorf(f, "runs.lease", "must be at least %s: a claim is renewed while its run lasts", MinLease)
	}
	if r.SweepUploadsEvery == 0 {
		r.SweepUploadsEvery = DefaultSweepUploadsEvery
	} else if r.SweepUploadsEvery < MinSweepUploadsEvery {
		l.errorf(f, "runs.sweep_uploads_every", "must be at least %s", MinSweepUploadsEvery)
	}
	if r.ArchiveRefreshEvery == 0 {
		r.ArchiveRefreshEvery = DefaultArchiveRefreshEvery
	} else if r.ArchiveRefreshEvery < MinArchiveRefreshEvery {
		l.errorf(f, "runs.archive_refresh_every", "must be at least %s", MinArchiveRefreshEvery)
	}
	if r.SweepUploadsOlderThan == 0 {
		r.SweepUploadsOlderThan = 2 * r.Lease
	} else if r.SweepUploadsOlderThan < 0 {
		l.errorf(f, "runs.sweep_uploads_older_than", "must not be negative; it must exceed the longest upload (default: twice runs.lease)")
	}
}

func (l *loader) checkDefaults(f *fileState, cfg *Config, raw *defaultsFile) {
	d := &cfg.Defaults
	d.Timezone = cmpOr(raw.Timezone, DefaultTimezone)
	loc, err := l.location(d.Timezone)
	if err != nil {
		l.errorf(f, "defaults.timezone", "%v", err)
		// Schedules inherit UTC rather than repeat the error.
		d.Timezone, loc = DefaultTimezone, time.UTC
	}
	d.Location = loc
	d.CatchUp = CatchUp(cmpOr(raw.CatchUp, string(CatchUpAll)))
	l.checkEnum(f, "defaults.catch_up", string(d.CatchUp), "catch-up policy", catchUps)
	d.Condition = Condition(cmpOr(raw.Condition, string(ConditionAlways)))
	l.checkEnum(f, "defaults.condition", string(d.Condition), "condition", conditions)
	d.OnSchemaChange = SchemaChange(cmpOr(raw.OnSchemaChange, string(SchemaChangeFail)))
	l.checkEnum(f, "defaults.on_schema_change", string(d.OnSchemaChange), "policy", schemaChanges)
	if raw.Gzip != nil {
		d.Gzip = *raw.Gzip
	}
	d.Retries = l.retries(f, "defaults.retries", raw.Retries, Retries{
		Attempts: DefaultRetryAttempts, Initial: DefaultRetryInitial, Max: DefaultRetryMax,
	})
	d.PauseAfterFailures = DefaultPauseAfterFailures
	if raw.PauseAfterFailures != nil {
		d.PauseAfterFailures = *raw.PauseAfterFailures
		if d.PauseAfterFailures < 0 {
			l.errorf(f, "defaults.pause_after_failures", "must not be negative (0 never pauses)")
		}
	}
	d.Notify = raw.Notify
	l.checkNotifyRefs(f, cfg, "defaults.notify", raw.Notify)
}

var (
	catchUps      = []string{string(CatchUpAll), string(CatchUpLatest), string(CatchUpSkip)}
	conditions    = []string{string(ConditionAlways), string(ConditionIfData), string(ConditionIfNoData)}
	schemaChanges = []string{string(SchemaChangeFail), string(SchemaChangeWarn)}
	periods       = []string{string(PeriodHour), string(PeriodDay), string(PeriodWeek), string(PeriodMonth)}
)

func (l *loader) checkEnum(f *fileState, path, v, what string, valid []string) bool {
	if slices.Contains(valid, v) {
		return true
	}
	l.errorf(f, path, "unknown %s %s; use %s", what, quoteShort(v), orList(valid))
	return false
}

// orList renders ["a","b","c"] as "a, b or c".
func orList(vs []string) string {
	if len(vs) == 1 {
		return vs[0]
	}
	return strings.Join(vs[:len(vs)-1], ", ") + " or " + vs[len(vs)-1]
}

func cmpOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// retries merges a retries block over inherited values and checks it.
func (l *loader) retries(f *fileState, p string, raw retriesFile, inherit Retries) Retries {
	r := inherit
	if raw.Attempts != nil {
		r.Attempts = *raw.Attempts
	}
	if raw.Initial != nil {
		r.Initial = *raw.Initial
	}
	if raw.Max != nil {
		r.Max = *raw.Max
	}
	// Only what this block sets is checked: inherited values were
	// checked where they were written.
	if raw.Attempts != nil && r.Attempts < 1 {
		l.errorf(f, p+".attempts", "must be at least 1 (1 means no retry)")
	}
	if raw.Attempts != nil && r.Attempts > MaxRetryAttempts {
		l.errorf(f, p+".attempts", "%d is more than %d: a run that fails that often will not succeed by retrying; use a number from 1 to %d", r.Attempts, MaxRetryAttempts, MaxRetryAttempts)
	}
	if raw.Max != nil && time.Duration(r.Max) > MaxRetryBackoff {
		l.errorf(f, p+".max", "%s is more than %s: a unit would wait longer than its next fire; use at most %s", r.Max, Duration(MaxRetryBackoff), Duration(MaxRetryBackoff))
	}
	if raw.Initial != nil && r.Initial <= 0 {
		l.errorf(f, p+".initial", "must be positive, e.g. 30s")
	}
	if (raw.Max != nil || raw.Initial != nil) && r.Max < r.Initial && r.Initial > 0 {
		l.errorf(f, p+".max", "must be at least initial (%s)", r.Initial)
	}
	return r
}

// resolveSecrets expands every Secret of the daemon config. Reflection
// finds them, so that a Secret field added later cannot be forgotten.
func (l *loader) resolveSecrets(f *fileState, cfg *Config, loopback bool) {
	visitSecrets(reflect.ValueOf(cfg).Elem(), "", func(path string, s *Secret) {
		if s.IsZero() || l.opts.SkipSecrets || f.isBad(path) {
			return
		}
		err := s.resolve(l.opts.LookupEnv, cfg.Dir)
		var unset *unsetError
		if err != nil && path == "server.token" && loopback && errors.As(err, &unset) {
			return // optional on loopback: no variable, no token
		}
		if err != nil {
			l.errorf(f, path, "%v", err)
		}
	})
}

var secretType = reflect.TypeFor[Secret]()

func visitSecrets(v reflect.Value, path string, fn func(string, *Secret)) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			visitSecrets(v.Elem(), path, fn)
		}
	case reflect.Struct:
		if v.Type() == secretType {
			fn(path, v.Addr().Interface().(*Secret))
			return
		}
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			name, inline, skip := yamlName(t.Field(i))
			if skip || name == "schedules" {
				continue
			}
			if inline {
				visitSecrets(v.Field(i), path, fn)
			} else {
				visitSecrets(v.Field(i), joinPath(path, name), fn)
			}
		}
	case reflect.Map:
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		for _, k := range keys {
			visitSecrets(v.MapIndex(k), joinPath(path, k.String()), fn)
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			visitSecrets(v.Index(i), indexPath(path, i), fn)
		}
	}
}
