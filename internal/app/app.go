// Package app is exportd's composition root: it loads the configuration
// (compiling elements through internal/compile), opens sources and stores,
// builds each schedule's export job and fire, and starts the daemon
// (internal/daemon) over them. The CLI and tests build an App and call its
// methods; main stays thin.
package app

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/compile"
	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/source"
)

// Options configure Load.
type Options struct {
	// ConfigPath is the daemon config (config/exportd.yaml).
	ConfigPath string
	Logger     *zap.Logger
	Version    string
	// Online reads table columns from the warehouse for every source; by
	// default only embedded sources (DuckDB) are opened to check elements,
	// others use the cached or declared columns.
	Online bool
	// NoRows is for commands that export nothing (next, explain, validate):
	// an embedded source is checked against the columns cached by an earlier
	// open of the same database and init files, without opening it (the
	// demo's init generates its whole table); without such a cache it opens
	// as usual. Online overrides it.
	NoRows bool
	// SkipSecrets checks secret references without resolving them.
	SkipSecrets bool
	// Now is the wall clock; nil is time.Now. Tests move it.
	Now func() time.Time
	// ArchiveOnly loads the configuration for the auditor commands: the
	// elements are not compiled and no source is opened (they read only
	// the archive).
	ArchiveOnly bool
	// ConfigCache keeps the decoded schedule files in
	// state_dir/schedules.cache for the next start of the same binary, and
	// in memory for reloads, which then parse only the files that changed
	// (config.DecodedCache). serve sets it; checks are the same with or
	// without it.
	ConfigCache bool
	// Daemon tunes the daemon Run starts; the zero value is serve's.
	Daemon DaemonOptions
}

func (o *Options) validate() error {
	if o.ConfigPath == "" {
		return errors.New("app: ConfigPath is required")
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return nil
}

// App is a loaded configuration with its open resources.
type App struct {
	opts Options
	cfg  *config.Config
	log  *zap.Logger

	// loading is the config being loaded, while Load checks elements.
	loading atomic.Pointer[config.Config]

	mu       sync.Mutex
	sources  map[string]source.Source
	stores   map[string]archive.Store
	archives map[string]*archive.Archive
	compiled map[string]*compile.Compiled
	// slots bound the exports running at once in this App, whatever
	// started them (cron fires, catch-up, run now, rechecks):
	// runs.max_concurrent.
	slots chan struct{}

	// compiler checks elements during the load.
	compiler *compile.Compiler

	// signer signs a digest of every commit (config signing.private_key).
	signer ed25519.PrivateKey
	// notifier is the daemon's (none for a local run): data alerts.
	notifier notifierHolder
}

// Load reads and checks the configuration, opening the sources that are
// needed to check elements. The returned error is a config.Errors when
// the files have problems.
func Load(ctx context.Context, opts Options) (*App, error) {
	return load(ctx, opts, nil)
}

// load is Load reusing the schedule files decoded by the load that made
// prev (a reload), when prev is not nil.
func load(ctx context.Context, opts Options, prev *config.DecodedCache) (*App, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	a := &App{opts: opts, log: opts.Logger,
		sources: map[string]source.Source{}, stores: map[string]archive.Store{},
		archives: map[string]*archive.Archive{}, compiled: map[string]*compile.Compiled{}}
	a.compiler = compile.New(compile.Options{Source: a.Source, Online: opts.Online, NoRows: opts.NoRows, StateDir: a.stateDir, Now: opts.Now})
	lo := config.LoadOptions{
		SkipSecrets: opts.SkipSecrets,
		CheckElement: func(cfg *config.Config, s *config.Schedule) []config.ElementError {
			a.loading.Store(cfg)
			return a.checkElement(ctx, s)
		},
	}
	if opts.ArchiveOnly {
		lo.CheckElement = nil
	}
	if opts.ConfigCache {
		lo.DecodedCache = func(cfg *config.Config) *config.DecodedCache {
			if prev == nil {
				var err error
				if prev, err = cfg.ReadDecodedCacheFile(); err != nil {
					a.log.Warn("ignoring the decoded-schedules cache; every schedule file is parsed", zap.Error(err))
				}
			}
			return prev
		}
	}
	cfg, err := config.Load(opts.ConfigPath, lo)
	if err != nil {
		a.Close()
		return nil, err
	}
	a.cfg = cfg
	a.signer = cfg.Signing.Key
	if opts.ConfigCache && !cfg.DecodedCache().Equal(prev) {
		if err := cfg.WriteDecodedCacheFile(); err != nil {
			a.log.Warn("cannot write the decoded-schedules cache; the next start parses every schedule file", zap.Error(err))
		}
	}
	a.loading.Store(nil)
	a.slots = make(chan struct{}, max(1, cfg.Runs.MaxConcurrent))
	return a, nil
}

// Config returns the loaded configuration.
func (a *App) Config() *config.Config { return a.cfg }

// Now is the wall clock of Options.Now.
func (a *App) Now() time.Time { return a.opts.Now() }

// Close releases sources.
func (a *App) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	var errs []error
	for name, s := range a.sources {
		if err := s.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close source %s: %w", name, err))
		}
	}
	a.sources = map[string]source.Source{}
	for id, st := range a.stores {
		if c, ok := st.(io.Closer); ok {
			if err := c.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close store %s: %w", st.Describe(), err))
			}
		}
		delete(a.stores, id)
		delete(a.archives, id)
	}
	return errors.Join(errs...)
}

// checkElement compiles a schedule's element against its source's schema
// and keeps the result for the schedule's runs.
func (a *App) checkElement(ctx context.Context, s *config.Schedule) []config.ElementError {
	c, errs := a.compiler.Element(ctx, s)
	if len(errs) > 0 {
		return errs
	}
	if errs := checkAlerts(s, c.Full); len(errs) > 0 {
		return errs
	}
	a.mu.Lock()
	a.compiled[s.Name] = c
	a.mu.Unlock()
	return nil
}

// exportSlot waits for one of the runs.max_concurrent export slots; the
// caller runs its export and then calls release. Retries wait for their
// backoff without a slot.
func (a *App) exportSlot(ctx context.Context) (release func(), err error) {
	select {
	case a.slots <- struct{}{}:
		return func() { <-a.slots }, nil
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}
