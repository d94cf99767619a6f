// Package deploy_test checks what deploy/ and the Dockerfile ship with the
// tools of each field: the Dockerfile with BuildKit's parser, the
// Kubernetes manifests built with kustomize and decoded strictly into the
// Kubernetes API types, the systemd unit with systemd-analyze; and it
// starts exportd exactly as the image and the unit start it. It is a module
// of its own so that exportd's go.mod stays free of these libraries.
package deploy_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/exportd/exportd/internal/config"
)

// repoRoot is the repository, one folder up.
const repoRoot = ".."

// exportdBin is exportd built as the Dockerfile builds it (TestMain).
var exportdBin string

// testVersion is passed as the Dockerfile's VERSION build argument.
const testVersion = "9.8.7-deploytest"

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "exportd-deploy-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	exportdBin = filepath.Join(dir, "exportd")
	if err := buildAsDockerfile(exportdBin, map[string]string{"VERSION": testVersion}); err != nil {
		fmt.Fprintln(os.Stderr, "build exportd as the Dockerfile does:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// prodConfig is deploy/config/exportd.yaml, loaded by exportd's own loader
// (secrets only checked, not read).
func prodConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Load(filepath.Join(repoRoot, "deploy/config/exportd.yaml"), config.LoadOptions{SkipSecrets: true})
	if err != nil {
		t.Fatalf("deploy/config/exportd.yaml: %v", err)
	}
	return cfg
}

// secretRefs are the secret references of a config: file paths and
// environment variable names.
func secretRefs(t *testing.T, cfg *config.Config) (files, envs []string) {
	t.Helper()
	var refs []config.Secret
	for _, s := range cfg.Sources {
		refs = append(refs, s.Snowflake.Password, s.Snowflake.PrivateKey, s.Snowflake.PrivateKeyPassphrase)
	}
	for _, ig := range cfg.Integrations {
		refs = append(refs, ig.S3.AccessKeyID, ig.S3.SecretAccessKey, ig.S3.ExternalID)
	}
	refs = append(refs, cfg.Server.Token, cfg.Signing.PrivateKey)
	for _, r := range refs {
		switch ref := r.Ref(); {
		case ref == "":
		case len(ref) > 5 && ref[:5] == "file:":
			files = append(files, ref[5:])
		case len(ref) > 3 && ref[:2] == "${":
			envs = append(envs, ref[2:len(ref)-1])
		default:
			t.Fatalf("unexpected secret reference %q", ref)
		}
	}
	return files, envs
}
