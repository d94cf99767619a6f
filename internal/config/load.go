package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.yaml.in/yaml/v3"
	"golang.org/x/sync/errgroup"

	"github.com/exportd/exportd/internal/workbook"
)

// LoadOptions tune Load. The zero value loads a config for running it.
type LoadOptions struct {
	// LookupEnv resolves ${ENV_VAR} secret references; nil is
	// os.LookupEnv. It is consulted for Secret fields only.
	LookupEnv func(name string) (string, bool)
	// SkipSecrets checks the shape of secret references but does not
	// resolve them (validate in CI, without production credentials).
	// Every Secret is then unset.
	SkipSecrets bool
	// CheckElement checks a schedule's element (the workbook compiler:
	// formulas, columns, that from.sql is one SELECT); it also gets the
	// daemon config being loaded (state folder, sources). Load calls it for
	// each schedule whose own fields are fine and whose source is valid,
	// and places each returned error at element.<Field> in the file. Load
	// checks schedules concurrently: CheckElement must be safe for that.
	CheckElement func(cfg *Config, s *Schedule) []ElementError
	// DecodedCache, when set, is asked once the daemon config is read for
	// schedule files decoded by an earlier Load (see DecodedCache); it may
	// return nil. Load then returns the cache of this load in
	// Config.DecodedCache.
	DecodedCache func(cfg *Config) *DecodedCache
}

// Load reads the daemon config at path and every schedule file in its
// schedules_dir. It returns all problems at once as Errors (matching
// ErrInvalid), sorted by file, line and column, or another error when the
// daemon config cannot be read at all. Schedule files are checked only
// when the daemon config parses (they refer to its sources and
// integrations). CheckElement sees cfg while it is being loaded:
// cfg.Schedules is not complete yet.
func Load(path string, opts LoadOptions) (*Config, error) {
	if opts.LookupEnv == nil {
		opts.LookupEnv = os.LookupEnv
	}
	path = filepath.Clean(path)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	l := &loader{opts: opts}
	cfg := l.daemon(path, data)
	if cfg != nil {
		l.loadSchedules(cfg)
	}
	var errs Errors
	for _, f := range l.files {
		errs = append(errs, f.errs...)
	}
	if len(errs) > 0 {
		errs.sort()
		return nil, errs
	}
	return cfg, nil
}

type loader struct {
	opts LoadOptions
	// files are the files loaded so far, with their problems.
	files []*fileState
	// locs caches time zones: time.LoadLocation reads a file each time.
	locMu sync.Mutex
	locs  map[string]locResult
	// sourceBad and integrationBad mark sources and integrations with
	// problems: their schedules are not handed to CheckElement, which
	// could not make sense of them, and are not checked against settings
	// that are wrong anyway (allowed_locations).
	sourceBad, integrationBad map[string]bool
	// daemonFile is the daemon config's state, to stay quiet about
	// references into parts of it that could not be decoded.
	daemonFile *fileState
}

// fileState collects what is known about one file while it is checked.
type fileState struct {
	doc    *document
	export string
	// bad are paths with a structural error; semantic checks at or below
	// them would only repeat it.
	bad  []string
	errs Errors
}

func (f *fileState) isBad(path string) bool {
	for _, b := range f.bad {
		if b == "" || path == b || strings.HasPrefix(path, b+".") || strings.HasPrefix(path, b+"[") {
			return true
		}
	}
	return false
}

// add records a problem of f. It touches nothing but f, so that files can
// be parsed concurrently.
func (l *loader) add(f *fileState, e *Error) { f.errs = append(f.errs, e) }

// errorf reports a problem at path (a YAML path in f) unless a structural
// error already covers it.
func (l *loader) errorf(f *fileState, path, format string, args ...any) {
	if f.isBad(path) {
		return
	}
	line, col := f.doc.pos(path)
	l.add(f, &Error{File: f.doc.file, Line: line, Column: col, Export: f.export, Field: path, Msg: fmt.Sprintf(format, args...)})
}

// keyErrorf is errorf at the key that names path rather than at its
// value: for problems with the key (a source's name).
func (l *loader) keyErrorf(f *fileState, path, format string, args ...any) {
	if f.isBad(path) {
		return
	}
	line, col := f.doc.keyPos(path)
	l.add(f, &Error{File: f.doc.file, Line: line, Column: col, Export: f.export, Field: path, Msg: fmt.Sprintf(format, args...)})
}

var (
	yamlLineRE   = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
	yamlAnchorRE = regexp.MustCompile(`^unknown anchor '(.*)' referenced$`)
	// yamlParserErrRE matches the problems go-yaml's parser (not its
	// scanner) reports.
	yamlParserErrRE = regexp.MustCompile(`^(did not find expected (key|node content|'-' indicator|',' or '[}\]]'|<document start>|<stream-start>)|found (duplicate %YAML|incompatible YAML|undefined tag handle))`)
)

// parse reads one YAML document. It reports an empty file, a file that is
// not YAML, a second document and a top level that is not a mapping, and
// returns false for all of them.
func (l *loader) parse(f *fileState, data []byte, what string) bool {
	file := f.doc.file
	fail := func(line, col int, msg string) bool {
		l.add(f, &Error{File: file, Line: line, Column: col, Msg: msg})
		return false
	}
	parseErr := func(err error) bool {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		line := 0
		if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
			line, _ = strconv.Atoi(m[1])
			msg = m[2]
		}
		// go-yaml counts lines from 0 in parser errors (from 1 in scanner
		// errors) and leaves out "line 0".
		if yamlParserErrRE.MatchString(msg) {
			line++
		}
		col := min(line, 1)
		if m := yamlAnchorRE.FindStringSubmatch(msg); m != nil {
			if i := bytes.Index(data, []byte("*"+m[1])); i >= 0 {
				line = 1 + bytes.Count(data[:i], []byte("\n"))
				col = 1 + i - (bytes.LastIndexByte(data[:i], '\n') + 1)
			}
		}
		return fail(line, col, "not valid YAML: "+msg)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	err := dec.Decode(&doc)
	if errors.Is(err, io.EOF) || (err == nil && (len(doc.Content) == 0 || isNull(doc.Content[0]))) {
		return fail(1, 1, "empty file; "+what)
	}
	if err != nil {
		return parseErr(err)
	}
	var second yaml.Node
	switch err := dec.Decode(&second); {
	case err == nil:
		line := 1
		if len(second.Content) > 0 {
			line = second.Content[0].Line
		}
		// The "---" separator is on the line before the second document.
		return fail(max(1, line-1), 1, "a second YAML document; a file holds exactly one (put each export in its own file)")
	case !errors.Is(err, io.EOF):
		return parseErr(err)
	}
	root := deref(doc.Content[0])
	if root.Kind != yaml.MappingNode {
		return fail(root.Line, root.Column, "must be a mapping of fields, not "+describeNode(root))
	}
	f.doc.root, f.doc.data = root, data
	return true
}

// decode checks the document against out's type (the structural pass) and
// decodes it strictly. out keeps what could be decoded even when there are
// problems, so that semantic checks still run on the rest.
func (l *loader) decode(f *fileState, out any) {
	c := checker{report: func(n *yaml.Node, field, msg string, bad ...string) {
		l.add(f, &Error{File: f.doc.file, Line: n.Line, Column: n.Column, Export: f.export, Field: field, Msg: msg})
		f.bad = append(f.bad, bad...)
	}}
	c.walk(f.doc.root, reflect.ValueOf(out).Elem(), "")
}

// resolvePath resolves p against dir unless it is absolute.
func resolvePath(dir, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

// daemonFile is the daemon config as written.
type daemonFile struct {
	StateDir     string                  `yaml:"state_dir"`
	SchedulesDir string                  `yaml:"schedules_dir"`
	InstanceID   string                  `yaml:"instance_id"`
	Sources      map[string]*Source      `yaml:"sources"`
	Integrations map[string]*Integration `yaml:"integrations"`
	Server       Server                  `yaml:"server"`
	Runs         Runs                    `yaml:"runs"`
	Signing      Signing                 `yaml:"signing"`
	Notify       map[string]*Notifier    `yaml:"notify"`
	Defaults     defaultsFile            `yaml:"defaults"`
}

type defaultsFile struct {
	Timezone           string      `yaml:"timezone"`
	CatchUp            string      `yaml:"catch_up"`
	Condition          string      `yaml:"condition"`
	OnSchemaChange     string      `yaml:"on_schema_change"`
	Gzip               *bool       `yaml:"gzip"`
	Retries            retriesFile `yaml:"retries"`
	PauseAfterFailures *int        `yaml:"pause_after_failures"`
	Notify             []string    `yaml:"notify"`
}

type retriesFile struct {
	Attempts *int      `yaml:"attempts"`
	Initial  *Duration `yaml:"initial"`
	Max      *Duration `yaml:"max"`
}

// scheduleFile is a schedule file as written; pointers tell "not set"
// (inherit) from a zero value.
type scheduleFile struct {
	Name               string            `yaml:"name"`
	Description        string            `yaml:"description"`
	Enabled            *bool             `yaml:"enabled"`
	Source             string            `yaml:"source"`
	Cron               string            `yaml:"cron"`
	Timezone           string            `yaml:"timezone"`
	Window             *windowFile       `yaml:"window"`
	CatchUp            string            `yaml:"catch_up"`
	Condition          string            `yaml:"condition"`
	DedupeBy           []string          `yaml:"dedupe_by"`
	Recheck            Duration          `yaml:"recheck"`
	OnSchemaChange     string            `yaml:"on_schema_change"`
	Retries            retriesFile       `yaml:"retries"`
	PauseAfterFailures *int              `yaml:"pause_after_failures"`
	Element            *workbook.Element `yaml:"element"`
	Destination        *destinationFile  `yaml:"destination"`
	Unload             string            `yaml:"unload"`
	Notify             []string          `yaml:"notify"`
	Alerts             []DataAlert       `yaml:"alerts"`
}

type windowFile struct {
	Every  string   `yaml:"every"`
	Column string   `yaml:"column"`
	Lag    Duration `yaml:"lag"`
	Start  string   `yaml:"start"`
}

type destinationFile struct {
	Integration string `yaml:"integration"`
	Prefix      string `yaml:"prefix"`
	URI         string `yaml:"uri"`
	Filename    string `yaml:"filename"`
	Gzip        *bool  `yaml:"gzip"`
}

// loadSchedules loads every schedule file of cfg.SchedulesDir. Reading,
// parsing and decoding run in parallel (they are most of the work with
// thousands of schedules); checks and CheckElement run in file order.
func (l *loader) loadSchedules(cfg *Config) {
	entries, err := os.ReadDir(cfg.SchedulesDir)
	if err != nil {
		return // reported with schedules_dir
	}
	var cache *DecodedCache
	if l.opts.DecodedCache != nil {
		cache = l.opts.DecodedCache(cfg)
	}
	var files []*parsedSchedule
	for _, e := range entries {
		name := e.Name()
		ext := filepath.Ext(name)
		if strings.HasPrefix(name, ".") || (ext != ".yaml" && ext != ".yml") {
			continue
		}
		file := filepath.Join(cfg.SchedulesDir, name)
		// Stat follows symlinks (Kubernetes ConfigMap volumes are links).
		if st, err := os.Stat(file); err != nil || !st.Mode().IsRegular() {
			continue
		}
		files = append(files, &parsedSchedule{f: &fileState{doc: &document{file: file}}})
	}
	// Each file is read, checked and handed to CheckElement on its own
	// (they touch nothing but their fileState); only the check for
	// duplicate names needs them all.
	// A few long-lived workers rather than a goroutine per file: each
	// fresh goroutine grew its stack again in the parser's recursion.
	var next atomic.Int64
	var g errgroup.Group
	for range min(runtime.GOMAXPROCS(0), len(files)) {
		g.Go(func() error {
			for i := next.Add(1) - 1; i < int64(len(files)); i = next.Add(1) - 1 {
				p := files[i]
				l.readSchedule(p, cache)
				if p.ok {
					p.s = l.checkSchedule(cfg, p.f, &p.raw)
					l.checkElement(cfg, p.f, p.s)
					p.raw = scheduleFile{}
				}
				p.f.doc.release()
			}
			return nil
		})
	}
	_ = g.Wait()

	first := map[string]*Schedule{}
	if l.opts.DecodedCache != nil {
		cfg.decoded = NewDecodedCache()
	}
	for _, p := range files {
		l.files = append(l.files, p.f)
		if !p.ok {
			continue
		}
		if p.hit {
			cfg.decodedHits++
		}
		if cfg.decoded != nil && p.js != nil {
			cfg.decoded.m[p.sum] = p.js
		}
		s := p.s
		if s.Name != "" {
			if prev, ok := first[s.Name]; ok {
				line, col := prev.Pos("name")
				l.errorf(p.f, "name", "duplicate export name; %q is also defined in %s:%d:%d", s.Name, prev.File, line, col)
			} else {
				first[s.Name] = s
			}
		}
		cfg.Schedules = append(cfg.Schedules, s)
	}
	slices.SortStableFunc(cfg.Schedules, func(a, b *Schedule) int { return strings.Compare(a.Name, b.Name) })
}

// parsedSchedule is a schedule file after reading and decoding.
type parsedSchedule struct {
	f   *fileState
	raw scheduleFile
	ok  bool      // decoded far enough to be checked
	s   *Schedule // the checked schedule, when ok
	// sum and js are the file's SHA-256 and its decoded form as JSON, for
	// the DecodedCache, when it decoded without problems; hit tells that
	// it came from the cache.
	sum [sha256.Size]byte
	js  []byte
	hit bool
}

// checkElement hands a schedule whose own fields are fine to
// LoadOptions.CheckElement.
func (l *loader) checkElement(cfg *Config, f *fileState, s *Schedule) {
	if len(f.errs) > 0 || l.opts.CheckElement == nil || s.SourceConfig == nil || l.sourceBad[s.Source] {
		return
	}
	for _, ee := range l.opts.CheckElement(cfg, s) {
		path := "element"
		if ee.Field != "" {
			path += "." + ee.Field
		}
		if ee.Path != "" {
			path = ee.Path
		}
		l.errorf(f, path, "%s", ee.Msg)
	}
}

// readSchedule reads, parses and decodes one schedule file, or takes it
// decoded from cache. It touches nothing outside p.
func (l *loader) readSchedule(p *parsedSchedule, cache *DecodedCache) {
	f := p.f
	data, err := os.ReadFile(f.doc.file)
	if err != nil {
		l.add(f, &Error{File: f.doc.file, Msg: "cannot read: " + pathErrReason(err)})
		return
	}
	if l.opts.DecodedCache != nil {
		p.sum = sha256.Sum256(data)
		if js, ok := cache.lookup(p.sum, &p.raw); ok {
			// Positions, for messages only, come from parsing data again.
			f.doc.data = data
			f.export = p.raw.Name
			p.ok, p.hit, p.js = true, true, js
			return
		}
	}
	if !l.parse(f, data, "a schedule needs at least name, source, cron, element and destination") {
		return
	}
	for _, kv := range pairs(f.doc.root) {
		if v := deref(kv.v); kv.k.Value == "name" && v.Kind == yaml.ScalarNode && !isNull(v) {
			f.export = v.Value
		}
	}
	l.decode(f, &p.raw)
	p.ok = true
	if l.opts.DecodedCache != nil && len(f.errs) == 0 && len(f.bad) == 0 {
		p.js, _ = json.Marshal(&p.raw)
	}
}

type locResult struct {
	loc *time.Location
	err error
}

// location is loadLocation, cached.
func (l *loader) location(name string) (*time.Location, error) {
	l.locMu.Lock()
	defer l.locMu.Unlock()
	if r, ok := l.locs[name]; ok {
		return r.loc, r.err
	}
	loc, err := loadLocation(name)
	if l.locs == nil {
		l.locs = map[string]locResult{}
	}
	l.locs[name] = locResult{loc, err}
	return loc, err
}
