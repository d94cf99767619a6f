package cli

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/exportd/exportd/internal/config"
)

func TestListenAddress(t *testing.T) {
	for listen, want := range map[string]string{
		"":                    config.DefaultListen,
		"0.0.0.0:8080":        "127.0.0.1:8080",
		":9090":               "127.0.0.1:9090",
		"[::]:8080":           "[::1]:8080",
		"10.1.2.3:8080":       "10.1.2.3:8080",
		"exportd.internal:80": "exportd.internal:80",
	} {
		p := filepath.Join(t.TempDir(), "exportd.yaml")
		body := "state_dir: state\n"
		if listen != "" {
			body += "server: {listen: \"" + listen + "\", token: \"${EXPORTD_TOKEN}\"}\n"
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := listenAddress(p)
		if err != nil || got != want {
			t.Errorf("listen %q: got %q, %v; want %q", listen, got, err, want)
		}
	}
	if _, err := listenAddress(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("a missing config gave an address")
	}
}

func TestHealthcheckCommand(t *testing.T) {
	var hits int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(`{"status":"ok"}`))
	}))
	defer srv.Close()
	cfg := filepath.Join(t.TempDir(), "exportd.yaml")
	listen := strings.TrimPrefix(srv.URL, "http://")
	if err := os.WriteFile(cfg, []byte("server: {listen: \""+listen+"\"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := Main(context.Background(), "test", []string{"healthcheck", "--config", cfg}, &out, &errOut); code != ExitOK || out.String() != "ok\n" {
		t.Errorf("healthy daemon: exit %d, %q %q", code, out.String(), errOut.String())
	}
	if hits != 1 {
		t.Errorf("%d requests, want 1", hits)
	}

	// Nothing listening, or not 200: exit 1 with the reason.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	for _, url := range []string{"http://" + closed + "/healthz", srv.URL + "/nothing"} {
		out.Reset()
		errOut.Reset()
		if code := Main(context.Background(), "test", []string{"healthcheck", "--config", cfg, "--url", url}, &out, &errOut); code != ExitFailure || !strings.Contains(errOut.String(), "unhealthy") {
			t.Errorf("%s: exit %d, %q; want 1 and unhealthy", url, code, errOut.String())
		}
	}
}

func TestSchemaCommand(t *testing.T) {
	for args, kind := range map[string]string{"schema": config.SchemaConfig, "schema schedule": config.SchemaSchedule} {
		var out, errOut bytes.Buffer
		if code := Main(context.Background(), "test", strings.Fields(args), &out, &errOut); code != ExitOK {
			t.Fatalf("%s: exit %d: %s", args, code, errOut.String())
		}
		want, err := config.JSONSchema(kind)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), want) {
			t.Errorf("exportd %s does not print the %s schema", args, kind)
		}
	}
	var out, errOut bytes.Buffer
	if code := Main(context.Background(), "test", []string{"schema", "workbook"}, &out, &errOut); code != ExitUsage || !strings.Contains(errOut.String(), "config, schedule") {
		t.Errorf("unknown kind: exit %d, %q", code, errOut.String())
	}
}
