// Package config loads exportd's daemon config (config/exportd.yaml) and its
// schedule files (one export per file under schedules_dir), strictly and
// completely: unknown keys are errors, every problem is reported at once
// with its file:line:col, defaults are applied, references between the two
// (sources, integrations) are resolved, and secrets are expanded only in
// Secret fields.
//
// Decoding is strict, by a decoder of its own (strict.go), not yaml.v3's
// KnownFields: each file is parsed once into a yaml.Node tree
// (go.yaml.in/yaml/v3), and a walk of that tree fills the config structs by
// reflection, reporting every unknown or duplicate key, every wrong type and
// every key that does not belong to the entry's type: at its line and
// column, all at once, as prometheus' rulefmt does. Only scalar types
// (Secret, Duration, Size) have their own UnmarshalYAML, which the walk
// hands their node to.
package config

import (
	"crypto/ed25519"
	"time"

	"github.com/exportd/exportd/internal/domain"
	"github.com/exportd/exportd/internal/schedule"
	"github.com/exportd/exportd/internal/workbook"
)

// Config is the daemon config with every schedule, validated and with
// defaults applied. Paths are resolved against the daemon config's folder
// (they are absolute when the config path was).
type Config struct {
	// File is the daemon config's path as given to Load, cleaned.
	File string `yaml:"-" json:"file"`
	// Dir is File's folder; relative paths in the daemon config resolve
	// against it.
	Dir string `yaml:"-" json:"dir"`

	// StateDir is the spool folder: FIFOs, the schema cache, run history.
	// Required.
	StateDir string `yaml:"state_dir" json:"state_dir"`
	// SchedulesDir holds one *.yaml (or *.yml) file per export; default
	// "schedules". Hidden files and sub-folders are ignored.
	SchedulesDir string `yaml:"schedules_dir" json:"schedules_dir"`
	// InstanceID names this process in claims and manifests; default
	// host:pid.
	InstanceID string `yaml:"instance_id" json:"instance_id"`

	Sources      map[string]*Source      `yaml:"sources" json:"sources"`
	Integrations map[string]*Integration `yaml:"integrations" json:"integrations"`
	Server       Server                  `yaml:"server" json:"server"`
	Runs         Runs                    `yaml:"runs" json:"runs"`
	Signing      Signing                 `yaml:"signing,omitempty" json:"signing"`
	// Notify are the named notifiers schedules send events to.
	Notify   map[string]*Notifier `yaml:"notify,omitempty" json:"notify,omitempty"`
	Defaults Defaults             `yaml:"defaults" json:"defaults"`

	// Schedules are all schedule files, sorted by name.
	Schedules []*Schedule `yaml:"schedules" json:"schedules"`

	doc *document
	// decoded is the cache of this load when LoadOptions.DecodedCache is
	// set; decodedHits counts the schedule files taken from the old one.
	decoded     *DecodedCache
	decodedHits int
}

// DecodedCache returns the schedule files this load decoded, for the next
// one (nil unless LoadOptions.DecodedCache was set).
func (c *Config) DecodedCache() *DecodedCache { return c.decoded }

// DecodedHits is the number of schedule files taken decoded from the
// cache rather than parsed.
func (c *Config) DecodedHits() int { return c.decodedHits }

// Schedule returns the schedule with the given name, or nil.
func (c *Config) Schedule(name string) *Schedule {
	for _, s := range c.Schedules {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// ScheduleNames returns the names of the schedules, in their order.
func (c *Config) ScheduleNames() []string {
	out := make([]string, 0, len(c.Schedules))
	for _, s := range c.Schedules {
		out = append(out, s.Name)
	}
	return out
}

// Pos returns the line and column (1-based) of a YAML path in the daemon
// config, e.g. "sources.demo.retention"; a path that is not in the file
// gives the position of its nearest ancestor that is.
func (c *Config) Pos(path string) (line, col int) { return c.doc.pos(path) }

// Source types.
const (
	SourceDuckDB    = "duckdb"
	SourceSnowflake = "snowflake"
)

// Source is a warehouse the exports query. Fields common to every type come
// first; the rest belong to one type only (setting one on another type is a
// config error).
type Source struct {
	// Name is the key under sources (lowercase letters, digits, '_', '-').
	Name string `yaml:"-" json:"name"`
	// Type is "duckdb" or "snowflake".
	Type string `yaml:"type" json:"type"`
	// Timezone is the zone of the source's zone-less timestamp columns, and
	// DuckDB's session time zone; default UTC.
	Timezone string         `yaml:"timezone,omitempty" json:"timezone"`
	Location *time.Location `yaml:"-" json:"-"`
	// Retention is how far back the source keeps data (Sigma: 90d). A
	// window older than that cannot be exported any more (it is recorded
	// as lost); 0 means the source keeps everything.
	Retention Duration `yaml:"retention,omitempty" json:"retention"`
	// Columns declares per table (key: table name as written in
	// element.from.table) and per column (key: the column's name in the
	// source) what the source cannot tell or what validate needs offline.
	Columns map[string]map[string]*ColumnOptions `yaml:"columns,omitempty" json:"columns,omitempty"`

	DuckDB    DuckDBOptions    `yaml:",inline" variant:"duckdb" json:"duckdb,omitzero"`
	Snowflake SnowflakeOptions `yaml:",inline" variant:"snowflake" json:"snowflake,omitzero"`
}

// ColumnOptions describe one source column.
type ColumnOptions struct {
	// Type is the column's SQL type as the source reports it (e.g.
	// TIMESTAMP, VARCHAR), so that validate can type-check formulas
	// without connecting.
	Type string `yaml:"type,omitempty" json:"type,omitempty"`
	// Zone overrides the source's timezone for this zone-less timestamp
	// column.
	Zone     string         `yaml:"zone,omitempty" json:"zone,omitempty"`
	Location *time.Location `yaml:"-" json:"-"`
	// DisplayName is the name formulas use for the column ([Request
	// Time]) when Sigma's rule (case-insensitive, space for underscore)
	// does not derive it from the column's name.
	DisplayName string `yaml:"display_name,omitempty" json:"display_name,omitempty"`
}

// DuckDBOptions are the settings of a "duckdb" source.
type DuckDBOptions struct {
	// Path is the database file, or ":memory:" (the default).
	Path string `yaml:"path,omitempty" json:"path,omitempty"`
	// Init lists SQL files run, in order, when the source opens, before
	// external access is switched off.
	Init []string `yaml:"init,omitempty" json:"init,omitempty"`
	// Vars are set as DuckDB variables (getvariable('name')) before Init
	// runs. Values are strings; names are SQL identifiers. The daemon
	// sets demo_end to the current time unless it is configured here.
	Vars map[string]string `yaml:"vars,omitempty" json:"vars,omitempty"`
	// Threads limits DuckDB's worker threads; 0 means exportd's default:
	// one thread for exports, which keeps an order-preserving COPY from
	// buffering the batches that finish ahead of the one being written.
	Threads int `yaml:"threads,omitempty" json:"threads,omitempty"`
	// MemoryLimit caps DuckDB's memory; 0 means exportd's default: what the
	// init files left in memory plus 88 MiB of headroom for an export.
	MemoryLimit Size `yaml:"memory_limit,omitempty" json:"memory_limit,omitempty"`
}

// SnowflakeOptions are the settings of a "snowflake" source. Exactly one
// credential is required: password, private_key (key pair), token (OAuth
// token or programmatic access token, see Authenticator) or
// oauth_token_file.
type SnowflakeOptions struct {
	Account  string `yaml:"account,omitempty" json:"account,omitempty"`
	User     string `yaml:"user,omitempty" json:"user,omitempty"`
	Password Secret `yaml:"password,omitempty" json:"password,omitzero"`
	// PrivateKey is a PEM PKCS#8 key for key-pair authentication.
	PrivateKey Secret `yaml:"private_key,omitempty" json:"private_key,omitzero"`
	// PrivateKeyPassphrase decrypts an encrypted PrivateKey.
	PrivateKeyPassphrase Secret `yaml:"private_key_passphrase,omitempty" json:"private_key_passphrase,omitzero"`
	Database             string `yaml:"database,omitempty" json:"database,omitempty"`
	Schema               string `yaml:"schema,omitempty" json:"schema,omitempty"`
	Warehouse            string `yaml:"warehouse,omitempty" json:"warehouse,omitempty"`
	Role                 string `yaml:"role,omitempty" json:"role,omitempty"`
	// Host, Port and Protocol override the endpoint derived from Account
	// (private link, a local stand-in in tests). Protocol is https
	// (default) or http.
	Host     string `yaml:"host,omitempty" json:"host,omitempty"`
	Port     int    `yaml:"port,omitempty" json:"port,omitempty"`
	Protocol string `yaml:"protocol,omitempty" json:"protocol,omitempty"`
	// Authenticator is password, key_pair, oauth or
	// programmatic_access_token. Load derives it from the credential that is
	// set; it needs saying only for token, which serves both oauth and
	// programmatic_access_token (the default).
	Authenticator string `yaml:"authenticator,omitempty" json:"authenticator,omitempty"`
	// Token is an OAuth access token (authenticator: oauth) or a
	// programmatic access token.
	Token Secret `yaml:"token,omitempty" json:"token,omitzero"`
	// OAuthTokenFile is a file holding an OAuth access token, read again at
	// every login so that whatever refreshes the token can rewrite it.
	OAuthTokenFile string `yaml:"oauth_token_file,omitempty" json:"oauth_token_file,omitempty"`
	// StatementTimeout cancels a query running longer in Snowflake
	// (STATEMENT_TIMEOUT_IN_SECONDS); default DefaultStatementTimeout.
	StatementTimeout Duration `yaml:"statement_timeout,omitempty" json:"statement_timeout"`
}

// Snowflake authenticators.
const (
	SnowflakeAuthPassword = "password"
	SnowflakeAuthKeyPair  = "key_pair"
	SnowflakeAuthOAuth    = "oauth"
	SnowflakeAuthPAT      = "programmatic_access_token"
)

// DefaultStatementTimeout bounds one Snowflake query unless the source sets
// statement_timeout.
const DefaultStatementTimeout = Duration(time.Hour)

// Integration types.
const (
	IntegrationFolder = "folder"
	IntegrationS3     = "s3"
)

// Integration is a named archive destination, as Snowflake's storage
// integrations: it holds the credentials and the limits; a schedule's
// destination names it and adds a prefix (folder) or a URI (s3).
type Integration struct {
	// Name is the key under integrations.
	Name string `yaml:"-" json:"name"`
	// Type is "folder" or "s3".
	Type string `yaml:"type" json:"type"`

	Folder FolderOptions `yaml:",inline" variant:"folder" json:"folder,omitzero"`
	S3     S3Options     `yaml:",inline" variant:"s3" json:"s3,omitzero"`
}

// FolderOptions are the settings of a "folder" integration.
type FolderOptions struct {
	// Path is the archive's root folder. Required.
	Path string `yaml:"path,omitempty" json:"path,omitempty"`
}

// S3Options are the settings of an "s3" integration. Credentials come from
// the AWS default chain unless AccessKeyID and SecretAccessKey are set
// (S3-compatible servers); RoleARN adds an STS AssumeRole on top.
type S3Options struct {
	// Region; default from the AWS chain (AWS_REGION, profile).
	Region string `yaml:"region,omitempty" json:"region,omitempty"`
	// Endpoint is an http(s) URL for S3-compatible servers.
	Endpoint       string `yaml:"endpoint,omitempty" json:"endpoint,omitempty"`
	ForcePathStyle bool   `yaml:"force_path_style,omitempty" json:"force_path_style,omitempty"`
	// AccessKeyID and SecretAccessKey are static credentials (both or
	// neither).
	AccessKeyID     Secret `yaml:"access_key_id,omitempty" json:"access_key_id,omitzero"`
	SecretAccessKey Secret `yaml:"secret_access_key,omitempty" json:"secret_access_key,omitzero"`
	RoleARN         string `yaml:"role_arn,omitempty" json:"role_arn,omitempty"`
	// ExternalID goes with RoleARN.
	ExternalID Secret `yaml:"external_id,omitempty" json:"external_id,omitzero"`
	// AllowedLocations are s3://bucket/ or s3://bucket/prefix/ URIs (or
	// "*"); a destination must lie inside one, on '/' boundaries
	// (s3://b/audit/ does not admit s3://b/audit-evil/). Required, as in
	// Snowflake. Load normalizes them to end with '/'.
	AllowedLocations []string `yaml:"allowed_locations,omitempty" json:"allowed_locations,omitempty"`
	// BlockedLocations refuse a destination inside one, or one that
	// contains one.
	BlockedLocations []string `yaml:"blocked_locations,omitempty" json:"blocked_locations,omitempty"`
	// SSE is "" (bucket default), "AES256" or "aws:kms"; KMSKeyID only
	// with aws:kms.
	SSE          string `yaml:"sse,omitempty" json:"sse,omitempty"`
	KMSKeyID     string `yaml:"kms_key_id,omitempty" json:"kms_key_id,omitempty"`
	StorageClass string `yaml:"storage_class,omitempty" json:"storage_class,omitempty"`
	// ObjectLock sets a retention on every object and manifest.
	ObjectLock *ObjectLock `yaml:"object_lock,omitempty" json:"object_lock,omitempty"`
	// PartSize of multipart uploads, 5MiB to 5GiB; default 16MiB.
	PartSize Size `yaml:"part_size,omitempty" json:"part_size,omitempty"`
	// Concurrency is the number of parts in flight per upload, 1 to 64;
	// default 4. Memory per upload is about PartSize × Concurrency.
	Concurrency int `yaml:"concurrency,omitempty" json:"concurrency,omitempty"`
	// SnowflakeIntegration names the Snowflake storage integration that
	// writes to this bucket (CREATE STORAGE INTEGRATION), for schedules
	// with unload: warehouse.
	SnowflakeIntegration string `yaml:"snowflake_integration,omitempty" json:"snowflake_integration,omitempty"`
}

// ObjectLock is an S3 Object Lock retention applied per object: retain
// until the window end (or logical time) plus Retain.
type ObjectLock struct {
	// Mode is COMPLIANCE or GOVERNANCE.
	Mode   string   `yaml:"mode" json:"mode"`
	Retain Duration `yaml:"retain" json:"retain"`
}

// Signing signs every commit: after each manifest, a digest of it (its key
// and sha256), signed with this Ed25519 key, goes to
// _digests/<schedule>/<sequence>.json. Auditors check them with the
// public key (exportd archive verify --public-key).
type Signing struct {
	// PrivateKey is an Ed25519 private key in PEM (PKCS #8): ${ENV_VAR} or
	// file:/path. Unset: no digests are written.
	PrivateKey Secret `yaml:"private_key,omitempty" json:"private_key,omitzero"`
	// Key is PrivateKey parsed, once it is resolved; nil when unset or
	// when secrets are not resolved (validate --skip-secrets).
	Key ed25519.PrivateKey `yaml:"-" json:"-"`
}

// Server is the HTTP API.
type Server struct {
	// Listen is host:port; default 127.0.0.1:8080.
	Listen string `yaml:"listen,omitempty" json:"listen"`
	// Token is the bearer token. Optional when Listen is a loopback
	// address (then an unset ${ENV_VAR} just means no token); required
	// otherwise.
	Token Secret `yaml:"token,omitempty" json:"token,omitzero"`
	// StatusPage says who sees the status pages at /: signed_in (default:
	// browsers signed in with the token) or anyone (anyone who can reach
	// the listener sees them read-only; acting still needs the sign-in).
	StatusPage string `yaml:"status_page,omitempty" json:"status_page"`
	// ShutdownTimeout bounds how long SIGTERM waits for running exports
	// before cancelling them; default 60s.
	ShutdownTimeout Duration `yaml:"shutdown_timeout,omitempty" json:"shutdown_timeout"`
}

// Runs are daemon-wide limits on running exports.
type Runs struct {
	// MaxConcurrent bounds exports running at once across all schedules
	// (catch-up included); default 4.
	MaxConcurrent int `yaml:"max_concurrent,omitempty" json:"max_concurrent"`
	// Lease is how long a claim stays valid without renewal; at least
	// 30s, default 10m.
	Lease Duration `yaml:"lease,omitempty" json:"lease"`
	// SweepUploadsEvery is how often serve aborts the stale multipart
	// uploads under its S3 destinations (runs that died, aborts that could
	// not reach the server), so a long-running daemon needs no bucket
	// lifecycle rule for them; at least 1s, default 1h.
	SweepUploadsEvery Duration `yaml:"sweep_uploads_every,omitempty" json:"sweep_uploads_every"`
	// SweepUploadsOlderThan is the age from which a multipart upload is
	// stale. It must exceed the longest upload: another replica's upload in
	// flight looks the same. Default twice the lease.
	SweepUploadsOlderThan Duration `yaml:"sweep_uploads_older_than,omitempty" json:"sweep_uploads_older_than"`
	// ArchiveRefreshEvery is how often serve reads each schedule's chain
	// head again (one small read a schedule, plus the manifests committed
	// since), so that what another replica, serve --once or exportd run
	// archived shows in the status, the API and the freshness metric; at
	// least 1s, default 1m. On S3 each read is a request: 10,000 schedules
	// at 1m are about 14 million GETs a day.
	ArchiveRefreshEvery Duration `yaml:"archive_refresh_every,omitempty" json:"archive_refresh_every"`
}

// CatchUp is what a schedule does about fires it missed (downtime, a new
// schedule with a past window.start).
type CatchUp string

const (
	// CatchUpAll exports every missing window, oldest first. Windowed
	// schedules only: a snapshot cannot be taken for a past time.
	CatchUpAll CatchUp = "all"
	// CatchUpLatest exports only the most recent missed window or
	// snapshot.
	CatchUpLatest CatchUp = "latest"
	// CatchUpSkip waits for the next fire.
	CatchUpSkip CatchUp = "skip"
)

// Condition is Sigma's conditional export.
type Condition string

const (
	ConditionAlways   Condition = "always"
	ConditionIfData   Condition = "if_data"
	ConditionIfNoData Condition = "if_no_data"
)

// SchemaChange is what a run does when its output columns differ from the
// previous window's.
type SchemaChange string

const (
	SchemaChangeFail SchemaChange = "fail"
	SchemaChangeWarn SchemaChange = "warn"
)

// Period is a window length.
type Period string

const (
	PeriodHour  Period = "hour"
	PeriodDay   Period = "day"
	PeriodWeek  Period = "week" // Monday to Monday in the schedule's zone
	PeriodMonth Period = "month"
)

// Retries is the retry policy of a failed run: exponential backoff from
// Initial, capped at Max, with jitter. Authentication and SQL errors are
// not retried.
type Retries struct {
	// Attempts counts the first try; 1 means no retry.
	Attempts int      `yaml:"attempts" json:"attempts"`
	Initial  Duration `yaml:"initial" json:"initial"`
	Max      Duration `yaml:"max" json:"max"`
}

// Backoff is the retry policy resolved for the scheduler: at least one
// attempt, 30s when Initial is not set, Max no less than Initial.
func (r Retries) Backoff() schedule.Backoff {
	b := schedule.Backoff{Initial: time.Duration(r.Initial), Max: time.Duration(r.Max), Attempts: r.Attempts}
	if b.Attempts < 1 {
		b.Attempts = 1
	}
	if b.Initial <= 0 {
		b.Initial = 30 * time.Second
	}
	if b.Max < b.Initial {
		b.Max = b.Initial
	}
	return b
}

// Defaults are what a schedule inherits for each field it does not set.
type Defaults struct {
	// Timezone: IANA name; default UTC.
	Timezone string         `yaml:"timezone" json:"timezone"`
	Location *time.Location `yaml:"-" json:"-"`
	// CatchUp: default all. A snapshot schedule (no window) that inherits
	// all gets latest instead.
	CatchUp CatchUp `yaml:"catch_up" json:"catch_up"`
	// Condition: default always.
	Condition Condition `yaml:"condition" json:"condition"`
	// OnSchemaChange: default fail.
	OnSchemaChange SchemaChange `yaml:"on_schema_change" json:"on_schema_change"`
	// Gzip compresses objects (.csv.gz); default false.
	Gzip bool `yaml:"gzip" json:"gzip"`
	// Retries: default 3 attempts from 30s up to 10m. A schedule may set
	// some of the three fields and inherit the others.
	Retries Retries `yaml:"retries" json:"retries"`
	// PauseAfterFailures pauses a schedule after that many consecutive
	// failed runs (resume over the API); 0 never pauses. Default 10, as
	// in Sigma.
	PauseAfterFailures int `yaml:"pause_after_failures" json:"pause_after_failures"`
	// Notify names the notifiers a schedule tells of failed runs, pauses,
	// lost and missing windows and data alerts, unless it sets its own.
	Notify []string `yaml:"notify,omitempty" json:"notify,omitempty"`
}

// Schedule is one export: a workbook element run on a source at cron
// fires, archived to a destination. Its fields are resolved: defaults
// applied, source and integration looked up, time zone loaded, filename
// template parsed.
type Schedule struct {
	// Name matches ^[a-z0-9][a-z0-9-]{0,62}$ and equals the file's base
	// name (daily-logins.yaml holds daily-logins).
	Name        string `yaml:"name" json:"name"`
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
	// File is the schedule file's path.
	File string `yaml:"file" json:"file"`
	// Enabled: default true. A disabled schedule is validated but never
	// fires.
	Enabled bool `yaml:"enabled" json:"enabled"`

	// Source is the source's name; SourceConfig the source itself.
	Source       string  `yaml:"source" json:"source"`
	SourceConfig *Source `yaml:"-" json:"-"`

	// Cron is a 5-field expression or a descriptor (@daily, @hourly…),
	// evaluated in Location.
	Cron string `yaml:"cron" json:"cron"`
	// Fires is Cron parsed in Location: the schedule's fire instants.
	Fires *schedule.Cron `yaml:"-" json:"-"`
	// Timezone is the IANA zone of the cron fires, of window alignment and
	// of the dt= folder; default defaults.timezone.
	Timezone string         `yaml:"timezone" json:"timezone"`
	Location *time.Location `yaml:"-" json:"-"`

	// Window makes the schedule export closed windows of source time; nil
	// exports a snapshot of the element at each fire.
	Window *Window `yaml:"window,omitempty" json:"window,omitempty"`

	CatchUp   CatchUp   `yaml:"catch_up" json:"catch_up"`
	Condition Condition `yaml:"condition" json:"condition"`
	// DedupeBy drops duplicate deliveries within a window by these
	// columns; a grouped element is de-duplicated on its source rows
	// first, then aggregated.
	DedupeBy []string `yaml:"dedupe_by,omitempty" json:"dedupe_by,omitempty"`
	// Recheck re-counts an archived window that long after archiving it
	// and writes a superseding revision if the source changed (windowed
	// schedules only); 0 only counts late rows.
	Recheck            Duration     `yaml:"recheck,omitempty" json:"recheck,omitempty"`
	OnSchemaChange     SchemaChange `yaml:"on_schema_change" json:"on_schema_change"`
	Retries            Retries      `yaml:"retries" json:"retries"`
	PauseAfterFailures int          `yaml:"pause_after_failures" json:"pause_after_failures"`
	// Notify names the notifiers of this schedule; default defaults.notify.
	Notify []string `yaml:"notify,omitempty" json:"notify,omitempty"`
	// Alerts are data alerts: conditions over the exported rows.
	Alerts []DataAlert `yaml:"alerts,omitempty" json:"alerts,omitempty"`

	// Element is the workbook element, decoded strictly; the compiler
	// checks it (LoadOptions.CheckElement).
	Element workbook.Element `yaml:"element" json:"element"`

	Destination Destination `yaml:"destination" json:"destination"`
	// Unload is "" (rows stream through exportd) or UnloadWarehouse.
	Unload Unload `yaml:"unload,omitempty" json:"unload,omitempty"`

	doc *document
}

// Windowed reports whether the schedule exports windows (not snapshots).
func (s *Schedule) Windowed() bool { return s.Window != nil }

// Pos returns the line and column (1-based) in the schedule file of a YAML
// path such as "window.lag" or "element.columns[1].formula"; a path that is
// not in the file gives the position of its nearest ancestor that is.
func (s *Schedule) Pos(path string) (line, col int) { return s.doc.pos(path) }

// WindowSpec is the windowed schedule's window spec at now, or nil for a
// snapshot schedule. Without window.start, windows start at the oldest one
// the source still retains at now (its retention, default 90 days).
func (s *Schedule) WindowSpec(now time.Time) *schedule.WindowSpec {
	if s.Window == nil {
		return nil
	}
	ws := &schedule.WindowSpec{
		Every: schedule.Every(s.Window.Every), Lag: time.Duration(s.Window.Lag),
		Start: s.Window.Start, Location: s.Location,
	}
	if ws.Start.IsZero() {
		ret := time.Duration(s.SourceConfig.Retention)
		if ret <= 0 {
			ret = 90 * 24 * time.Hour
		}
		ws.Start = now.Add(-ret).In(s.Location)
		if w, err := ws.Align(ws.Start); err == nil {
			ws.Start = w.End.In(s.Location)
		}
	}
	return ws
}

// Layout is the archive key layout of the schedule's objects.
func (s *Schedule) Layout() domain.Layout {
	ext := ".csv"
	if s.Destination.Gzip {
		ext = ".csv.gz"
	}
	return domain.Layout{
		Prefix:   s.Destination.Prefix,
		Schedule: s.Name,
		Location: s.Location,
		Filename: s.Destination.FilenameTemplate,
		Ext:      ext,
	}
}

// Window is a windowed schedule's window.
type Window struct {
	// Every is the window length: hour, day, week or month, aligned in the
	// schedule's zone.
	Every Period `yaml:"every" json:"every"`
	// Column is the timestamp column (display name, as in formulas:
	// "Request Time") that places a row in a window.
	Column string `yaml:"column" json:"column"`
	// Lag is how late the source delivers: a window [s, e) is exported
	// once e + Lag has passed. At least 0.
	Lag Duration `yaml:"lag" json:"lag"`
	// Start is the start of the first window, aligned to Every in the
	// schedule's zone (written as a date, 2026-09-01, or an RFC 3339
	// instant). Zero means the oldest window the source still retains.
	Start time.Time `yaml:"start,omitempty" json:"start,omitzero"`
}

// Destination is where a schedule's objects go.
type Destination struct {
	// Integration is the integration's name; IntegrationConfig the
	// integration itself.
	Integration       string       `yaml:"integration" json:"integration"`
	IntegrationConfig *Integration `yaml:"-" json:"-"`
	// Prefix is the key prefix inside the store, without a trailing slash
	// ("" is the root). A folder destination writes it as prefix:; for an
	// s3 destination it is the part of the URI after the bucket.
	Prefix string `yaml:"prefix,omitempty" json:"prefix,omitempty"`
	// URI (s3 only) is s3://bucket/prefix/, normalized to end with '/';
	// Bucket is its bucket.
	URI    string `yaml:"uri,omitempty" json:"uri,omitempty"`
	Bucket string `yaml:"-" json:"bucket,omitempty"`
	// Filename is the object name template (see domain.FilenameTemplate);
	// default domain.DefaultFilename.
	Filename         string                   `yaml:"filename" json:"filename"`
	FilenameTemplate *domain.FilenameTemplate `yaml:"-" json:"-"`
	// Gzip: default defaults.gzip.
	Gzip bool `yaml:"gzip" json:"gzip"`
}
