package deploy_test

import (
	"debug/elf"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// runtimeImage is the image the Dockerfile runs on, and runtimeLibs the
// shared libraries it provides (distroless/cc-debian12: Debian 12's libc6,
// libgcc-s1, libstdc++6, libgomp1, libssl3), with the newest symbol
// versions they define (glibc 2.36, GCC 12).
const runtimeImage = "gcr.io/distroless/cc-debian12:nonroot"

var runtimeLibs = []string{
	"libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1", "libresolv.so.2",
	"ld-linux-x86-64.so.2", "libstdc++.so.6", "libgcc_s.so.1", "libgomp.so.1", "libssl.so.3", "libcrypto.so.3",
}

var runtimeSymbolVersions = map[string]string{
	"GLIBC":   "2.36",
	"GLIBCXX": "3.4.30",
	"CXXABI":  "1.3.13",
	"GCC":     "12.0.0",
}

// dockerfile is the parsed Dockerfile: its stages with ARG defaults
// expanded as `docker build` would without --build-arg.
type dockerfile struct {
	stages   []instructions.Stage
	metaArgs map[string]string
}

func parseDockerfile(t testing.TB) *dockerfile {
	t.Helper()
	df, err := loadDockerfile()
	if err != nil {
		t.Fatal(err)
	}
	return df
}

func loadDockerfile() (*dockerfile, error) {
	f, err := os.Open(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	res, err := parser.Parse(f)
	if err != nil {
		return nil, fmt.Errorf("Dockerfile: %w", err)
	}
	for _, w := range res.Warnings {
		return nil, fmt.Errorf("Dockerfile:%d: %s", w.Location.Start.Line, w.Short)
	}
	stages, metaArgs, err := instructions.Parse(res.AST, nil)
	if err != nil {
		return nil, fmt.Errorf("Dockerfile: %w", err)
	}
	d := &dockerfile{stages: stages, metaArgs: map[string]string{}}
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			d.metaArgs[kv.Key] = kv.ValueString()
		}
	}
	return d, nil
}

func (d *dockerfile) expand(word string, args map[string]string) string {
	env := []string{}
	for k, v := range args {
		env = append(env, k+"="+v)
	}
	out, _, err := shell.NewLex('\\').ProcessWord(word, shell.EnvsFromSlice(env))
	if err != nil {
		panic(err)
	}
	return out
}

func (d *dockerfile) stage(name string) *instructions.Stage {
	for i := range d.stages {
		if d.stages[i].Name == name {
			return &d.stages[i]
		}
	}
	return nil
}

// stageArgs are the ARG defaults declared in a stage, overridden by
// buildArgs.
func stageArgs(st *instructions.Stage, buildArgs map[string]string) map[string]string {
	args := map[string]string{}
	for _, c := range st.Commands {
		if a, ok := c.(*instructions.ArgCommand); ok {
			for _, kv := range a.Args {
				args[kv.Key] = kv.ValueString()
				if v, ok := buildArgs[kv.Key]; ok {
					args[kv.Key] = v
				}
			}
		}
	}
	return args
}

// runtime is the image's final stage and what it runs.
type runtimeStage struct {
	base        string
	user        string
	entrypoint  []string
	cmd         []string
	env         map[string]string
	volumes     []string
	expose      []string
	labels      map[string]string
	health      []string
	copies      []*instructions.CopyCommand
	entryShell  bool
	cmdShell    bool
	args        map[string]string
	healthFlags string
}

func (d *dockerfile) runtime(t testing.TB) runtimeStage {
	t.Helper()
	st := &d.stages[len(d.stages)-1]
	r := runtimeStage{env: map[string]string{}, labels: map[string]string{}, args: stageArgs(st, nil)}
	r.base = d.expand(st.BaseName, d.metaArgs)
	for _, c := range st.Commands {
		switch c := c.(type) {
		case *instructions.UserCommand:
			r.user = c.User
		case *instructions.EntrypointCommand:
			r.entrypoint, r.entryShell = c.CmdLine, c.PrependShell
		case *instructions.CmdCommand:
			r.cmd, r.cmdShell = c.CmdLine, c.PrependShell
		case *instructions.EnvCommand:
			for _, kv := range c.Env {
				r.env[kv.Key] = kv.Value
			}
		case *instructions.VolumeCommand:
			r.volumes = append(r.volumes, c.Volumes...)
		case *instructions.ExposeCommand:
			r.expose = append(r.expose, c.Ports...)
		case *instructions.LabelCommand:
			for _, kv := range c.Labels {
				r.labels[kv.Key] = kv.Value
			}
		case *instructions.HealthCheckCommand:
			r.health = c.Health.Test
			r.healthFlags = c.String()
		case *instructions.CopyCommand:
			r.copies = append(r.copies, c)
		}
	}
	return r
}

// buildCommand is the build stage's `go build` RUN line, expanded with the
// stage's ARG defaults overridden by buildArgs: the environment it sets
// and the go command's arguments.
func buildCommand(d *dockerfile, buildArgs map[string]string) (env, argv []string, err error) {
	st := d.stage("build")
	if st == nil {
		return nil, nil, fmt.Errorf("no stage named build")
	}
	for _, c := range st.Commands {
		run, ok := c.(*instructions.RunCommand)
		if !ok || !strings.Contains(strings.Join(run.CmdLine, " "), "go build") {
			continue
		}
		if !run.PrependShell || len(run.CmdLine) != 1 {
			return nil, nil, fmt.Errorf("the go build RUN is not one shell-form line: %q", run.CmdLine)
		}
		vars := []string{}
		for k, v := range stageArgs(st, buildArgs) {
			vars = append(vars, k+"="+v)
		}
		words, err := shell.NewLex('\\').ProcessWords(run.CmdLine[0], shell.EnvsFromSlice(vars))
		if err != nil {
			return nil, nil, err
		}
		for len(words) > 0 && strings.Contains(words[0], "=") {
			env, words = append(env, words[0]), words[1:]
		}
		if len(words) < 2 || words[0] != "go" || words[1] != "build" {
			return nil, nil, fmt.Errorf("RUN %q: want [VAR=value...] go build ...", run.CmdLine[0])
		}
		return env, words, nil
	}
	return nil, nil, fmt.Errorf("the build stage has no RUN ... go build")
}

// buildAsDockerfile builds exportd into out with exactly the environment
// and flags of the Dockerfile's go build line (only -o changes).
func buildAsDockerfile(out string, buildArgs map[string]string) error {
	d, err := loadDockerfile()
	if err != nil {
		return err
	}
	env, argv, err := buildCommand(d, buildArgs)
	if err != nil {
		return err
	}
	i := slices.Index(argv, "-o")
	if i < 0 || i+1 >= len(argv) {
		return fmt.Errorf("go build has no -o: %q", argv)
	}
	argv = slices.Clone(argv)
	argv[i+1] = out
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %v\n%s", strings.Join(append(env, argv...), " "), err, b)
	}
	return nil
}

func TestDockerfileStructure(t *testing.T) {
	d := parseDockerfile(t)
	cfg := prodConfig(t)
	if len(d.stages) != 2 || d.stages[0].Name != "build" || d.stages[1].Name != "runtime" {
		t.Fatalf("want two stages, build and runtime; have %d", len(d.stages))
	}
	build := d.expand(d.stages[0].BaseName, d.metaArgs)
	if !strings.HasPrefix(build, "golang:") || !strings.HasSuffix(build, "-bookworm") {
		t.Errorf("build stage FROM %s: build on Debian 12 (bookworm), the runtime's glibc", build)
	}
	r := d.runtime(t)
	if r.base != runtimeImage {
		t.Errorf("runtime stage FROM %s, want %s (the libraries TestBinaryNeedsOnlyRuntimeLibraries checks)", r.base, runtimeImage)
	}

	// A non-root user, by number (a name needs /etc/passwd to be checked).
	uid, _, _ := strings.Cut(r.user, ":")
	if n, err := strconv.Atoi(uid); err != nil || n == 0 {
		t.Errorf("USER %q: want a numeric non-root uid", r.user)
	}

	// ENTRYPOINT exportd serve, CMD the config path, both exec form.
	if r.entryShell || r.cmdShell {
		t.Error("ENTRYPOINT and CMD must be exec form (JSON): no shell in the image")
	}
	if len(r.entrypoint) != 2 || path.Base(r.entrypoint[0]) != "exportd" || r.entrypoint[1] != "serve" {
		t.Errorf("ENTRYPOINT %q, want [/path/exportd serve]", r.entrypoint)
	}
	if len(r.cmd) != 2 || r.cmd[0] != "--config" || r.cmd[1] != r.env["EXPORTD_CONFIG"] {
		t.Errorf("CMD %q and ENV EXPORTD_CONFIG=%q: want [--config <EXPORTD_CONFIG>]", r.cmd, r.env["EXPORTD_CONFIG"])
	}
	configPath := r.env["EXPORTD_CONFIG"]
	if configPath != "/etc/exportd/config/exportd.yaml" {
		t.Errorf("config at %s, want /etc/exportd/config/exportd.yaml (the unit and the pod use it)", configPath)
	}

	// HEALTHCHECK without a shell: exec form, the same binary.
	if len(r.health) != 3 || r.health[0] != "CMD" || r.health[1] != r.entrypoint[0] || r.health[2] != "healthcheck" {
		t.Errorf("HEALTHCHECK test %q, want [CMD %s healthcheck] (exec form; CMD-SHELL needs a shell)", r.health, r.entrypoint[0])
	}

	// State on a volume at the config's state_dir; the API's port exposed.
	if !slices.Equal(r.volumes, []string{cfg.StateDir}) {
		t.Errorf("VOLUME %q, want [%s] (state_dir of deploy/config/exportd.yaml)", r.volumes, cfg.StateDir)
	}
	_, port, _ := net.SplitHostPort(cfg.Server.Listen)
	if !slices.Equal(r.expose, []string{port}) {
		t.Errorf("EXPOSE %q, want [%s] (server.listen %s)", r.expose, port, cfg.Server.Listen)
	}

	// Config and schedules are mounted, not baked in: the runtime copies
	// only the binary and the state folder from the build stage.
	for _, c := range r.copies {
		if c.From != "build" {
			t.Errorf("runtime stage: %s copies from the build context; mount config and schedules instead", c.String())
		}
		if strings.HasPrefix(c.DestPath, "/etc/exportd") {
			t.Errorf("runtime stage: %s bakes in configuration", c.String())
		}
		if c.DestPath == cfg.StateDir && !strings.HasPrefix(c.Chown, uid) {
			t.Errorf("%s: the state folder must belong to USER %s", c.String(), r.user)
		}
	}

	// OCI labels; version and revision from build arguments.
	for _, k := range []string{"title", "description", "source", "version", "revision", "created"} {
		if r.labels["org.opencontainers.image."+k] == "" {
			t.Errorf("no LABEL org.opencontainers.image.%s", k)
		}
	}
	for label, arg := range map[string]string{"version": "VERSION", "revision": "REVISION", "created": "CREATED"} {
		if v := r.labels["org.opencontainers.image."+label]; !strings.Contains(v, "${"+arg+"}") {
			t.Errorf("LABEL org.opencontainers.image.%s=%s: want it from ARG %s", label, v, arg)
		}
		if _, ok := r.args[arg]; !ok {
			t.Errorf("runtime stage has no ARG %s", arg)
		}
	}
}

// secretWord matches names and values that look like credentials.
var secretWord = regexp.MustCompile(`(?i)(token|passw|secret|private|credential|api_?key|access_?key|-----BEGIN)`)

func TestDockerfileHasNoSecrets(t *testing.T) {
	d := parseDockerfile(t)
	check := func(where, k, v string) {
		if secretWord.MatchString(k) || secretWord.MatchString(v) {
			t.Errorf("%s %s=%s looks like a secret: secrets come from the environment or mounted files at run time", where, k, v)
		}
	}
	for k, v := range d.metaArgs {
		check("ARG", k, v)
	}
	n := 0
	for _, st := range d.stages {
		for _, c := range st.Commands {
			switch c := c.(type) {
			case *instructions.ArgCommand:
				for _, kv := range c.Args {
					check("ARG", kv.Key, kv.ValueString())
					n++
				}
			case *instructions.EnvCommand:
				for _, kv := range c.Env {
					check("ENV", kv.Key, kv.Value)
					n++
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no ARG or ENV found: the parse went wrong")
	}
	// The checker itself catches one.
	if !secretWord.MatchString("EXPORTD_TOKEN") {
		t.Fatal("secretWord misses EXPORTD_TOKEN")
	}
}

// TestBinaryNeedsOnlyRuntimeLibraries reads the ELF headers of exportd
// built with the Dockerfile's flags: every shared library it needs is in
// the runtime image, and no symbol needs a newer glibc or libstdc++ than
// the image has.
func TestBinaryNeedsOnlyRuntimeLibraries(t *testing.T) {
	f, err := elf.Open(exportdBin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	libs, err := f.ImportedLibraries()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(libs, "libstdc++.so.6") || !slices.Contains(libs, "libc.so.6") {
		t.Errorf("imports %v: a cgo build with DuckDB links libc and libstdc++; was cgo off?", libs)
	}
	for _, l := range libs {
		if !slices.Contains(runtimeLibs, l) {
			t.Errorf("exportd needs %s, which %s does not provide", l, runtimeImage)
		}
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b := make([]byte, p.Filesz)
			if _, err := p.ReadAt(b, 0); err != nil {
				t.Fatal(err)
			}
			if interp := strings.TrimRight(string(b), "\x00"); !slices.Contains(runtimeLibs, path.Base(interp)) {
				t.Errorf("interpreter %s is not in %s", interp, runtimeImage)
			}
		}
	}
	syms, err := f.ImportedSymbols()
	if err != nil {
		t.Fatal(err)
	}
	newest := map[string]string{}
	for _, s := range syms {
		family, ver, ok := strings.Cut(s.Version, "_")
		if !ok {
			continue
		}
		limit, known := runtimeSymbolVersions[family]
		if !known {
			t.Errorf("symbol %s@%s from %s: unknown version family", s.Name, s.Version, s.Library)
			continue
		}
		if versionLess(limit, ver) {
			t.Errorf("symbol %s needs %s, newer than %s in %s", s.Name, s.Version, limit, runtimeImage)
		}
		if versionLess(newest[family], ver) {
			newest[family] = ver
		}
	}
	if newest["GLIBC"] == "" {
		t.Fatal("no versioned glibc symbol found")
	}
	t.Logf("libraries %v; newest symbol versions %v", libs, newest)

	// The VERSION build argument reaches the binary.
	out, err := exec.Command(exportdBin, "--version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), testVersion) {
		t.Errorf("exportd --version: %s (%v); want %s from --build-arg VERSION", out, err, testVersion)
	}
}

func versionLess(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < max(len(as), len(bs)); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}
