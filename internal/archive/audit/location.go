package audit

import (
	"archive/zip"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/archive/folderstore"
	"github.com/exportd/exportd/internal/archive/s3store"
	"github.com/exportd/exportd/internal/domain"
)

// S3Access says how to reach a bucket. Credentials come from the AWS
// default chain (environment, shared config and profile, SSO, instance or
// task role), optionally with a role to assume.
type S3Access struct {
	Region         string
	Endpoint       string
	ForcePathStyle bool
	RoleARN        string
	ExternalID     string
}

// Location is an opened archive location: the read half of its store and
// the destination prefixes found in it.
type Location struct {
	Reader   archive.Reader
	Prefixes []string
	Describe string
	// Bundle describes an evidence bundle (nil for an archive).
	Bundle *BundleInfo
	closer io.Closer
}

// Close releases what Open holds open (a zip bundle's file).
func (l *Location) Close() error {
	if l.closer == nil {
		return nil
	}
	return l.closer.Close()
}

// IsLocation reports whether arg names an archive location (s3://...,
// file://..., a path, or a .zip bundle) rather than a schedule name.
func IsLocation(arg string) bool {
	if strings.HasPrefix(arg, "s3://") || isZip(arg) || strings.HasPrefix(arg, "file://") || strings.ContainsAny(arg, `/\`) || arg == "." || arg == ".." {
		return true
	}
	fi, err := os.Stat(arg)
	return err == nil && fi.IsDir()
}

func isZip(arg string) bool { return strings.HasSuffix(strings.ToLower(arg), ".zip") }

// Open opens an archive location: s3://bucket/prefix/ (credentials from the
// AWS chain), file:///path or a folder (an archive folder, a cp -r copy of
// one, or an evidence bundle), or a zip bundle (read in place, nothing
// unpacked). It never writes: a folder is opened read only, and on S3 only
// reads are made. The caller closes the location.
func Open(ctx context.Context, loc string, s3a S3Access) (*Location, error) {
	if rest, ok := strings.CutPrefix(loc, "s3://"); ok {
		bucket, prefix, _ := strings.Cut(rest, "/")
		prefix = strings.Trim(prefix, "/")
		if prefix != "" {
			if err := domain.ValidateKey(prefix); err != nil {
				return nil, fmt.Errorf("%s: %w", loc, err)
			}
		}
		st, err := s3store.New(ctx, s3store.Options{Bucket: bucket, Region: s3a.Region, Endpoint: s3a.Endpoint,
			ForcePathStyle: s3a.ForcePathStyle, RoleARN: s3a.RoleARN, ExternalID: s3a.ExternalID})
		if err != nil {
			return nil, err
		}
		return &Location{Reader: st, Prefixes: []string{prefix}, Describe: "s3://" + bucket + "/" + prefix}, nil
	}
	dir := strings.TrimPrefix(loc, "file://")
	if isZip(dir) {
		return openZip(dir)
	}
	st, err := folderstore.OpenReadOnly(dir)
	if err != nil {
		return nil, err
	}
	prefixes, err := findPrefixes(st.Root())
	if err != nil {
		return nil, err
	}
	if len(prefixes) == 0 {
		return nil, fmt.Errorf("%s: no exportd archive here (no _definitions, _head, _daily or _digests folder under it)", dir)
	}
	if len(prefixes) == 1 && prefixes[0] == "" {
		// The folder of a destination prefix rather than the archive's
		// root: keys in the records start with the prefix, so open the
		// root it belongs to.
		if p := headPrefix(st.Root()); p != "" && strings.HasSuffix(filepath.ToSlash(st.Root()), "/"+p) {
			if st, err = folderstore.OpenReadOnly(strings.TrimSuffix(st.Root(), filepath.FromSlash("/"+p))); err != nil {
				return nil, err
			}
			prefixes = []string{p}
		}
	}
	l := &Location{Reader: st, Prefixes: prefixes, Describe: "file://" + st.Root()}
	if b, ok, err := ReadBundleInfo(st.Root()); err != nil {
		return nil, err
	} else if ok {
		l.Bundle = &b
	}
	return l, nil
}

// openZip opens a zip bundle for reading in place.
func openZip(file string) (*Location, error) {
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, err
	}
	zc, err := zip.OpenReader(abs)
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %w", file, err)
	}
	l, err := zipLocation(&zc.Reader, "zip://"+filepath.ToSlash(abs))
	if err != nil {
		zc.Close()
		return nil, fmt.Errorf("bundle %s: %w", file, err)
	}
	l.closer = zc
	return l, nil
}

func zipLocation(zr *zip.Reader, describe string) (*Location, error) {
	z, err := newZipReader(zr)
	if err != nil {
		return nil, err
	}
	prefixes := z.prefixes()
	if len(prefixes) == 0 {
		return nil, errors.New("no exportd archive in it (no _definitions, _head, _daily or _digests folder)")
	}
	l := &Location{Reader: z, Prefixes: prefixes, Describe: describe}
	b, ok, err := z.bundleInfo()
	if err != nil {
		return nil, err
	}
	if ok {
		l.Bundle = &b
	}
	return l, nil
}

// findPrefixes finds the destination prefixes under a folder archive: the
// folders holding exportd's records (the root itself when it does).
func findPrefixes(root string) ([]string, error) {
	marks := []string{domain.DefinitionsDir, domain.HeadDir, archive.DailyDir, domain.DigestsDir}
	seen := map[string]bool{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		depth := strings.Count(rel, "/")
		if rel == "." {
			depth = -1
		}
		name := d.Name()
		if slices.Contains(marks, name) {
			parent := filepath.ToSlash(filepath.Dir(rel))
			if parent == "." {
				parent = ""
			}
			seen[parent] = true
			return filepath.SkipDir
		}
		if rel != "." && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "dt=") || depth >= 4) {
			return filepath.SkipDir
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("archive folder %s: %w", root, err)
	}
	var out []string
	for p := range seen {
		out = append(out, p)
	}
	slices.Sort(out)
	return out, nil
}

// ParseKeys reads every PEM public key (Ed25519, PKIX) in data: one key
// file, or a keyring of several concatenated.
func ParseKeys(data []byte) ([]ed25519.PublicKey, error) {
	var out []ed25519.PublicKey
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		k, err := archive.ParsePublicKey(pem.EncodeToMemory(b))
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", len(out)+1, err)
		}
		out = append(out, k)
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM \"PUBLIC KEY\" block (derive one with: openssl pkey -in signing.pem -pubout)")
	}
	return out, nil
}

// headPrefix is the destination prefix the keys of a head under root/_head
// start with ("" when none, or no head).
func headPrefix(root string) string {
	ents, err := os.ReadDir(filepath.Join(root, domain.HeadDir))
	if err != nil {
		return ""
	}
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join(root, domain.HeadDir, e.Name()))
		if err != nil {
			continue
		}
		var h archive.Head
		if json.Unmarshal(data, &h) != nil || h.Schedule == "" {
			continue
		}
		if i := strings.Index(h.Key, "/"+h.Schedule+"/"); i > 0 {
			return h.Key[:i]
		}
		return ""
	}
	return ""
}
