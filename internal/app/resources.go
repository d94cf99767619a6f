package app

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/archive/folderstore"
	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/export"
	"github.com/exportd/exportd/internal/source"
	"github.com/exportd/exportd/internal/source/duckdb"
	"github.com/exportd/exportd/internal/workbook"
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
		err = fmt.Errorf("source %q: snowflake sources are not built yet", name)
	default:
		err = fmt.Errorf("source %q: unknown type %q", name, sc.Type)
	}
	if err != nil {
		return nil, err
	}
	a.sources[name] = s
	return s, nil
}

// Store opens (once) and returns the named integration's store.
func (a *App) Store(ctx context.Context, name string) (archive.Store, *archive.Archive, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if s, ok := a.stores[name]; ok {
		return s, a.archives[name], nil
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
	default:
		err = fmt.Errorf("integration %q: type %q is not built yet", name, ic.Type)
	}
	if err != nil {
		return nil, nil, err
	}
	inst := a.cfg.InstanceID
	if inst == "" {
		inst = archive.DefaultInstance()
	}
	ar := &archive.Archive{Store: st, Instance: inst, Lease: time.Duration(a.cfg.Runs.Lease)}
	a.stores[name], a.archives[name] = st, ar
	return st, ar, nil
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
	_, ar, err := a.Store(ctx, s.Destination.Integration)
	if err != nil {
		return nil, nil, err
	}
	var retain time.Duration
	if ic := s.Destination.IntegrationConfig; ic != nil && ic.Type == config.IntegrationS3 && ic.S3.ObjectLock != nil {
		retain = time.Duration(ic.S3.ObjectLock.Retain)
	}
	j := &export.Job{
		Name: s.Name, Timezone: s.Location.String(), Layout: s.Layout(), Archive: ar, Source: src,
		Gzip: s.Destination.Gzip, Retain: retain, Condition: string(s.Condition),
		OnSchemaChange: string(s.OnSchemaChange), Version: a.opts.Version,
		Logger: a.log,
		Query: func(u archive.Unit) (export.Query, error) {
			cq := c.full
			if u.Window.IsZero() {
				cq = c.snap
			}
			args, err := cq.Bind(workbook.Values{Now: u.Logical, WindowStart: u.Window.Start, WindowEnd: u.Window.End})
			if err != nil {
				return export.Query{}, err
			}
			q := export.Query{SQL: cq.SQL, Args: args, Params: []archive.Param{}}
			for i, p := range cq.Params {
				q.Params = append(q.Params, archive.Param{Name: p.Name, Type: p.Type, Value: fmt.Sprint(args[i])})
			}
			return q, nil
		},
	}
	return j, s, nil
}

func (a *App) sourceConfig(name string) *config.Source {
	if a.cfg != nil {
		return a.cfg.Sources[name]
	}
	return a.loading.Sources[name]
}

func (a *App) stateDir() string {
	if a.cfg != nil {
		return a.cfg.StateDir
	}
	return a.loading.StateDir
}

func (a *App) scheduleNames() []string {
	var out []string
	for _, s := range a.cfg.Schedules {
		out = append(out, s.Name)
	}
	return out
}
