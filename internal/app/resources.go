package app

import (
	"context"

	"fmt"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/archive/folderstore"
	"github.com/exportd/exportd/internal/archive/s3store"
	"github.com/exportd/exportd/internal/compile"
	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/domain"
	"github.com/exportd/exportd/internal/export"
	"github.com/exportd/exportd/internal/source"
	"github.com/exportd/exportd/internal/source/duckdb"
	"github.com/exportd/exportd/internal/source/snowflake"
)

// Source opens (once) and returns the named source.
func (a *App) Source(ctx context.Context, name string) (source.Source, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if s, ok := a.sources[name]; ok {
		return s, nil
	}
	sc := a.sourceConfig(name)
	if sc == nil {
		return nil, fmt.Errorf("unknown source %q", name)
	}
	var (
		s   source.Source
		err error
	)
	switch sc.Type {
	case config.SourceDuckDB:
		vars := map[string]string{}
		for k, v := range sc.DuckDB.Vars {
			vars[k] = v
		}
		if _, ok := vars["demo_end"]; !ok {
			// The demo data ends now unless the config pins it.
			vars["demo_end"] = a.opts.Now().UTC().Truncate(time.Second).Format(time.RFC3339)
		}
		mem := ""
		if sc.DuckDB.MemoryLimit > 0 {
			mem = fmt.Sprintf("%dB", int64(sc.DuckDB.MemoryLimit))
		}
		s, err = duckdb.Open(ctx, duckdb.Options{
			Name: name, Path: sc.DuckDB.Path, Init: sc.DuckDB.Init, Vars: vars,
			// CSV timestamps are UTC whatever the source's zone: the source
			// zone only says how to read zone-less columns (workbook).
			TimeZone:    "UTC",
			SpoolDir:    filepath.Join(a.stateDir(), "spool", name),
			Threads:     sc.DuckDB.Threads,
			MemoryLimit: mem,
			Logger:      a.log,
		})
	case config.SourceSnowflake:
		c := sc.Snowflake
		s, err = snowflake.Open(ctx, snowflake.Options{
			Name: name, Account: c.Account, User: c.User, Database: c.Database, Schema: c.Schema,
			Warehouse: c.Warehouse, Role: c.Role, Host: c.Host, Port: c.Port, Protocol: c.Protocol,
			Authenticator: c.Authenticator, Password: c.Password.Reveal(), PrivateKey: c.PrivateKey.Reveal(),
			PrivateKeyPassphrase: c.PrivateKeyPassphrase.Reveal(), Token: c.Token.Reveal(), TokenFile: c.OAuthTokenFile,
			StatementTimeout: time.Duration(c.StatementTimeout), MaxConns: a.maxConcurrent(), Logger: a.log,
		})
	default:
		err = fmt.Errorf("source %q: unknown type %q", name, sc.Type)
	}
	if err != nil {
		return nil, err
	}
	a.sources[name] = s
	return s, nil
}

// Store opens (once) and returns the store of an integration; bucket
// names the bucket of an s3 integration ("" for a folder).
func (a *App) Store(ctx context.Context, name, bucket string) (archive.Store, *archive.Archive, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	id := name + "\x00" + bucket
	if s, ok := a.stores[id]; ok {
		return s, a.archives[id], nil
	}
	ic := a.cfg.Integrations[name]
	if ic == nil {
		return nil, nil, fmt.Errorf("unknown integration %q", name)
	}
	var (
		st  archive.Store
		err error
	)
	switch ic.Type {
	case config.IntegrationFolder:
		st, err = folderstore.New(ic.Folder.Path)
	case config.IntegrationS3:
		st, err = a.openS3(ctx, ic, bucket)
	default:
		err = fmt.Errorf("integration %q: unknown type %q", name, ic.Type)
	}
	if err != nil {
		return nil, nil, err
	}
	inst := a.cfg.InstanceID
	if inst == "" {
		inst = domain.DefaultInstance()
	}
	ar := &archive.Archive{Store: st, Instance: inst, Lease: time.Duration(a.cfg.Runs.Lease)}
	if inst == domain.DefaultInstance() {
		// host:pid owners: a claim of a dead process of this host is taken
		// over at once (a restart after kill -9 need not wait for the lease).
		ar.OwnerDead = archive.LocalOwnerDead
	}
	a.stores[id], a.archives[id] = st, ar
	return st, ar, nil
}

// openS3 opens an s3 integration's store for one bucket and checks, once,
// that the bucket exists, the credentials work and Object Lock is on when
// configured: one clear error at start-up rather than a retry storm.
func (a *App) openS3(ctx context.Context, ic *config.Integration, bucket string) (*s3store.Store, error) {
	o := ic.S3
	opts := s3store.Options{
		Bucket: bucket, Region: o.Region, Endpoint: o.Endpoint, ForcePathStyle: o.ForcePathStyle,
		RoleARN: o.RoleARN, ExternalID: o.ExternalID.Reveal(), SSE: o.SSE, KMSKeyID: o.KMSKeyID,
		StorageClass: o.StorageClass, PartSize: int64(o.PartSize), Concurrency: o.Concurrency, Logger: a.log,
	}
	if o.ObjectLock != nil {
		opts.ObjectLock = &s3store.ObjectLock{Mode: o.ObjectLock.Mode, Retain: time.Duration(o.ObjectLock.Retain)}
	}
	if o.AccessKeyID.IsSet() {
		opts.Credentials = credentials.NewStaticCredentialsProvider(o.AccessKeyID.Reveal(), o.SecretAccessKey.Reveal(), "")
	}
	st, err := s3store.New(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("integration %q: %w", ic.Name, err)
	}
	if err := st.Check(ctx); err != nil {
		st.Close()
		return nil, fmt.Errorf("integration %q: %w", ic.Name, err)
	}
	return st, nil
}

// Job builds the export job of a schedule.
func (a *App) Job(ctx context.Context, name string) (*export.Job, *config.Schedule, error) {
	s := a.cfg.Schedule(name)
	if s == nil {
		return nil, nil, fmt.Errorf("unknown schedule %q; schedules: %v", name, a.scheduleNames())
	}
	a.mu.Lock()
	c := a.compiled[name]
	a.mu.Unlock()
	if c == nil {
		return nil, nil, fmt.Errorf("schedule %q: element not compiled", name)
	}
	src, err := a.Source(ctx, s.Source)
	if err != nil {
		return nil, nil, err
	}
	_, ar, err := a.Store(ctx, s.Destination.Integration, s.Destination.Bucket)
	if err != nil {
		return nil, nil, err
	}
	var retain time.Duration
	if ic := s.Destination.IntegrationConfig; ic != nil && ic.Type == config.IntegrationS3 && ic.S3.ObjectLock != nil {
		retain = time.Duration(ic.S3.ObjectLock.Retain)
	}
	def := compile.Definition(s, src.Dialect(), c.SQL())
	j := &export.Job{
		Name: s.Name, Timezone: s.Location.String(), Layout: s.Layout(), Archive: ar, Source: src, Definition: &def,
		Gzip: s.Destination.Gzip, Retain: retain, Condition: string(s.Condition),
		OnSchemaChange: string(s.OnSchemaChange), Version: a.opts.Version,
		Logger: a.log, Signer: a.signer,
		Query: c.Query,
	}
	j.Tap = a.alertTap(s, c.Full.Columns)
	if s.Unload == config.UnloadWarehouse {
		if j.Unload, err = compile.WarehouseUnload(s, src, c); err != nil {
			return nil, nil, err
		}
	}
	return j, s, nil
}

func (a *App) sourceConfig(name string) *config.Source {
	if a.cfg != nil {
		return a.cfg.Sources[name]
	}
	return a.loading.Load().Sources[name]
}

func (a *App) maxConcurrent() int {
	if a.cfg != nil {
		return a.cfg.Runs.MaxConcurrent
	}
	return a.loading.Load().Runs.MaxConcurrent
}

func (a *App) stateDir() string {
	if a.cfg != nil {
		return a.cfg.StateDir
	}
	return a.loading.Load().StateDir
}

func (a *App) scheduleNames() []string { return a.cfg.ScheduleNames() }
