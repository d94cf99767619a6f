package deploy_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"go.yaml.in/yaml/v3"

	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/testenv"
)

// A target is how a platform starts exportd: the command line, the
// environment, the user and the state folder, read from the shipped files.
type target struct {
	name       string
	argv       []string // as in the file, paths not yet mapped
	env        []string
	uid, gid   int
	stateDir   string
	stateMode  os.FileMode
	healthArgv []string
}

func imageTarget(t *testing.T) target {
	d := parseDockerfile(t)
	r := d.runtime(t)
	uid, gid := ids(t, r.user)
	env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	for k, v := range r.env {
		env = append(env, k+"="+v)
	}
	if len(r.volumes) != 1 {
		t.Fatalf("VOLUME %q: want the state folder", r.volumes)
	}
	return target{
		name: "image", argv: append(append([]string{}, r.entrypoint...), r.cmd...), env: env,
		uid: uid, gid: gid, stateDir: r.volumes[0], stateMode: 0o755,
		healthArgv: r.health[1:],
	}
}

func unitTarget(t *testing.T) target {
	u := parseUnit(t)
	env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin"}
	for _, e := range u["Service"]["Environment"] {
		env = append(env, strings.Fields(e)...)
	}
	mode, err := strconv.ParseUint(u.get("Service", "StateDirectoryMode"), 8, 32)
	if err != nil {
		t.Fatalf("StateDirectoryMode: %v", err)
	}
	argv := strings.Fields(u.get("Service", "ExecStart"))
	// DynamicUser=yes: systemd picks a uid in 61184-65519.
	return target{
		name: "systemd", argv: argv, env: env, uid: 61999, gid: 61999,
		stateDir: "/var/lib/" + u.get("Service", "StateDirectory"), stateMode: os.FileMode(mode),
		healthArgv: []string{argv[0], "healthcheck"},
	}
}

func ids(t *testing.T, user string) (int, int) {
	u, g, ok := strings.Cut(user, ":")
	if !ok {
		g = u
	}
	uid, err1 := strconv.Atoi(u)
	gid, err2 := strconv.Atoi(g)
	if err1 != nil || err2 != nil || uid == 0 {
		t.Fatalf("USER %q: want numeric uid:gid, not root", user)
	}
	return uid, gid
}

// TestStartedAsEachTarget lays out each target's file system in a
// temporary root (config and schedules read-only, state where the target
// keeps it, owned by the service's user), runs exactly the image's
// ENTRYPOINT+CMD and the unit's ExecStart (paths mapped into the root) as
// a non-root user against versitygw, and checks that serve starts, answers
// its health check, archives a window, stops cleanly on SIGTERM and
// writes nothing outside its state folder.
func TestStartedAsEachTarget(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test runs exportd as another, unprivileged user: run it as root (CI does)")
	}
	for _, tg := range []target{imageTarget(t), unitTarget(t)} {
		t.Run(tg.name, func(t *testing.T) { startAs(t, tg) })
	}
}

func startAs(t *testing.T, tg target) {
	gw := testenv.VersityGW(t)
	cfg := prodConfig(t)
	ig := cfg.Integrations["audit_archive"]
	if ig == nil || len(ig.S3.AllowedLocations) != 1 {
		t.Fatal("deploy/config/exportd.yaml: want the s3 integration audit_archive with one allowed location")
	}
	bucket := strings.SplitN(strings.TrimPrefix(ig.S3.AllowedLocations[0], "s3://"), "/", 2)[0]
	if err := gw.CreateBucket(t.Context(), bucket, ig.S3.ObjectLock != nil); err != nil {
		t.Fatal(err)
	}

	root := t.TempDir()
	// The temporary folders are root's (0700): let the user through.
	for p := root; p != filepath.Dir(os.TempDir()) && p != "/"; p = filepath.Dir(p) {
		if p == os.TempDir() {
			break
		}
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	at := func(p string) string { return filepath.Join(root, p) }
	mkdir := func(p string) {
		if err := os.MkdirAll(at(p), 0o755); err != nil {
			t.Fatal(err)
		}
	}

	// The binary, where the image and the unit keep it.
	bin := tg.argv[0]
	mkdir(filepath.Dir(bin))
	copyExec(t, exportdBin, at(bin))

	// Config and schedules, root's and read-only to the user.
	configPath := ""
	for i, a := range tg.argv {
		if a == "--config" && i+1 < len(tg.argv) {
			configPath = tg.argv[i+1]
		}
	}
	if configPath == "" {
		t.Fatalf("%s: %q has no --config", tg.name, tg.argv)
	}
	mkdir(filepath.Dir(configPath))
	schedulesDir := filepath.Join(filepath.Dir(configPath), "..", "schedules")
	mkdir(schedulesDir)
	port := freePort(t)
	writeTestConfig(t, at(configPath), map[string]string{
		"state_dir": at(cfg.StateDir), "listen": "127.0.0.1:" + strconv.Itoa(port),
		"endpoint": gw.Endpoint, "signing": root,
	})
	writeTestSchedules(t, at(schedulesDir))
	mkdir(filepath.Join(filepath.Dir(configPath), "demo"))
	copyFileMode(t, filepath.Join(repoRoot, "config/demo/audit_logs.sql"), at(filepath.Join(filepath.Dir(configPath), "demo/audit_logs.sql")), 0o644)

	// Secret files as the platform hands them: the user's own, read-only.
	signing := signingKeyPath(t, cfg)
	mkdir(filepath.Dir(signing))
	writeSigningKey(t, at(signing), tg.uid, tg.gid)

	// The state folder, the only place the user may write.
	mkdir(filepath.Dir(tg.stateDir))
	if err := os.Mkdir(at(tg.stateDir), tg.stateMode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(at(tg.stateDir), tg.uid, tg.gid); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(at(tg.stateDir), tg.stateMode); err != nil {
		t.Fatal(err)
	}

	before := snapshot(t, root)
	tmpBefore := ownedIn(t, os.TempDir(), tg.uid)

	env := []string{
		"HOME=" + root, // not writable to the user, as in the image and under DynamicUser
		"EXPORTD_TOKEN=deploy-test-token",
		"S3_ACCESS_KEY=" + gw.AccessKey, "S3_SECRET_KEY=" + gw.SecretKey,
		"AWS_EC2_METADATA_DISABLED=true",
	}
	for _, e := range tg.env {
		k, v, _ := strings.Cut(e, "=")
		if strings.HasPrefix(v, "/etc/") || strings.HasPrefix(v, "/var/") {
			v = at(v)
		}
		if k == "PATH" {
			continue
		}
		env = append(env, k+"="+v)
	}
	mapArgs := func(argv []string) []string {
		out := make([]string, len(argv))
		for i, a := range argv {
			out[i] = a
			if strings.HasPrefix(a, "/") {
				out[i] = at(a)
			}
		}
		return out
	}
	run := func(argv []string) *exec.Cmd {
		m := mapArgs(argv)
		cmd := exec.Command(m[0], m[1:]...)
		cmd.Dir = root // "/" of the image and of the unit
		cmd.Env = env
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Credential: &syscall.Credential{Uid: uint32(tg.uid), Gid: uint32(tg.gid), Groups: []uint32{}},
			Pdeathsig:  syscall.SIGKILL,
		}
		return cmd
	}

	serve := run(tg.argv)
	var logs bytes.Buffer
	serve.Stdout, serve.Stderr = &logs, &logs
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- serve.Wait() }()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = serve.Process.Kill()
			<-exited
		}
	})
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf(format+"\nexportd's log:\n%s", append(args, logs.String())...)
	}

	// The health check, as the platform runs it.
	healthy := false
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline) && !healthy; {
		select {
		case err := <-exited:
			stopped = true
			fail("%s: serve exited before it was healthy: %v", tg.name, err)
		case <-time.After(300 * time.Millisecond):
		}
		out, err := run(tg.healthArgv).CombinedOutput()
		healthy = err == nil && strings.TrimSpace(string(out)) == "ok"
	}
	if !healthy {
		fail("%s: %q never succeeded", tg.name, tg.healthArgv)
	}

	// The other paths the manifests use: /readyz (the readiness probe)
	// without a token, /metrics (the ServiceMonitor) with the API token; a
	// wrong token is refused.
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	get := func(p, token string) int {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, base+p, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	ready := false
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline) && !ready; time.Sleep(300 * time.Millisecond) {
		ready = get("/readyz", "") == http.StatusOK
	}
	if !ready {
		fail("%s: /readyz never answered 200", tg.name)
	}
	if code := get("/metrics", "deploy-test-token"); code != http.StatusOK {
		fail("%s: /metrics with the token: %d", tg.name, code)
	}
	if code := get("/metrics", "wrong-token"); code != http.StatusUnauthorized && code != http.StatusForbidden {
		fail("%s: /metrics with a wrong token: %d", tg.name, code)
	}

	// A window archived: its manifest (the commit record) in the bucket.
	s3c := gw.Client()
	archived := ""
	for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline) && archived == ""; {
		select {
		case err := <-exited:
			stopped = true
			fail("%s: serve exited: %v", tg.name, err)
		case <-time.After(500 * time.Millisecond):
		}
		out, err := s3c.ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String("sigma/audit/audit-log-rows/")})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range out.Contents {
			if strings.HasSuffix(aws.ToString(o.Key), ".manifest.json") {
				archived = aws.ToString(o.Key)
			}
		}
	}
	if archived == "" {
		fail("%s: no window archived", tg.name)
	}

	// SIGTERM: a clean stop, exit 0.
	if err := serve.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			fail("%s: serve after SIGTERM: %v", tg.name, err)
		}
	case <-time.After(2 * time.Minute):
		fail("%s: serve did not stop on SIGTERM", tg.name)
	}

	// Nothing written outside the state folder.
	after := snapshot(t, root)
	stateWrites := 0
	for p, st := range after {
		inState := p == tg.stateDir || strings.HasPrefix(p, tg.stateDir+"/")
		if inState {
			stateWrites++
			continue
		}
		if old, ok := before[p]; !ok || old != st {
			t.Errorf("%s: exportd wrote %s, outside its state folder %s", tg.name, p, tg.stateDir)
		}
	}
	if stateWrites < 2 {
		t.Errorf("%s: nothing in the state folder %s", tg.name, tg.stateDir)
	}
	for _, p := range ownedIn(t, os.TempDir(), tg.uid) {
		if !contains(tmpBefore, p) {
			t.Errorf("%s: exportd left %s in %s", tg.name, p, os.TempDir())
		}
	}
	t.Logf("%s: %q healthy, archived %s, stopped cleanly", tg.name, tg.argv, archived)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

type fileState struct {
	size  int64
	mtime time.Time
	mode  fs.FileMode
}

// snapshot maps every path under root (as the target sees it) to its
// state.
func snapshot(t *testing.T, root string) map[string]fileState {
	t.Helper()
	out := map[string]fileState{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		st := fileState{mode: info.Mode()}
		if !d.IsDir() {
			st.size, st.mtime = info.Size(), info.ModTime()
		}
		out["/"+strings.TrimPrefix(rel, ".")] = st
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// ownedIn lists the entries of dir (two levels) owned by uid.
func ownedIn(t *testing.T, dir string, uid int) []string {
	t.Helper()
	var out []string
	var walk func(d string, depth int)
	walk = func(d string, depth int) {
		entries, err := os.ReadDir(d)
		if err != nil {
			return
		}
		for _, e := range entries {
			p := filepath.Join(d, e.Name())
			if info, err := e.Info(); err == nil {
				if st, ok := info.Sys().(*syscall.Stat_t); ok && int(st.Uid) == uid {
					out = append(out, p)
				}
			}
			if e.IsDir() && depth < 2 {
				walk(p, depth+1)
			}
		}
	}
	walk(dir, 1)
	return out
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func copyFileMode(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, mode); err != nil {
		t.Fatal(err)
	}
}

// signingKeyPath is the file the config's signing.private_key names.
func signingKeyPath(t *testing.T, cfg *config.Config) string {
	p, ok := strings.CutPrefix(cfg.Signing.PrivateKey.Ref(), "file:")
	if !ok || !filepath.IsAbs(p) {
		t.Fatalf("signing.private_key %q: want file:/absolute/path", cfg.Signing.PrivateKey.Ref())
	}
	return p
}

func writeSigningKey(t *testing.T, path string, uid, gid int) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o400); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, uid, gid); err != nil {
		t.Fatal(err)
	}
}

// writeTestConfig writes the production config with what a test needs
// instead of production: the demo DuckDB source under the Snowflake
// source's name, versitygw as the S3 endpoint (static keys from the
// environment, no KMS), the listener on loopback, and the state and secret
// paths inside the test's root.
func writeTestConfig(t *testing.T, dst string, v map[string]string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "deploy/config/exportd.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	doc["state_dir"] = v["state_dir"]
	sources := doc["sources"].(map[string]any)
	for name, src := range sources {
		s := src.(map[string]any)
		sources[name] = map[string]any{
			"type": "duckdb", "path": ":memory:", "init": []string{"demo/audit_logs.sql"},
			"vars": map[string]string{"demo_seed": "42"}, "timezone": "UTC",
			"retention": s["retention"], "columns": s["columns"],
		}
	}
	for _, ig := range doc["integrations"].(map[string]any) {
		m := ig.(map[string]any)
		if m["type"] != "s3" {
			continue
		}
		delete(m, "sse")
		delete(m, "kms_key_id")
		m["endpoint"] = v["endpoint"]
		m["force_path_style"] = true
		m["access_key_id"] = "${S3_ACCESS_KEY}"
		m["secret_access_key"] = "${S3_SECRET_KEY}"
	}
	signing := doc["signing"].(map[string]any)
	signing["private_key"] = "file:" + filepath.Join(v["signing"], strings.TrimPrefix(signing["private_key"].(string), "file:"))
	doc["server"].(map[string]any)["listen"] = v["listen"]
	out, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeTestSchedules installs the production schedules, with windows
// starting two days ago so that the catch-up at start is short.
func writeTestSchedules(t *testing.T, dir string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(repoRoot, "deploy/schedules/*.yaml"))
	if len(files) == 0 {
		t.Fatal("no schedules in deploy/schedules")
	}
	start := time.Now().UTC().AddDate(0, 0, -2).Format(time.DateOnly)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := yaml.Unmarshal(data, &doc); err != nil {
			t.Fatal(err)
		}
		if w, ok := doc["window"].(map[string]any); ok {
			w["start"] = start
		}
		out, err := yaml.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
