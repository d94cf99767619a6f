package config

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
)

// DecodedCache holds schedule files as decoded by an earlier Load, keyed
// by the SHA-256 of the file's bytes. Reading YAML is most of the cost of
// loading thousands of schedule files (go-yaml takes 60-90 µs for a
// ten-line file), and decoding is a pure function of the bytes and of
// the binary: a file whose bytes were decoded before, by the same
// binary, need not be parsed again. Only that step is skipped. Every
// check of the decoded file (names, cron, windows, sources, the element
// and its formulas) runs as on a cold load, and an error found in a
// cached file gets its line and column by parsing that file then.
//
// A Load given a cache returns a new one (Config.DecodedCache) that holds
// exactly the files it loaded without problems, so the cache never grows
// past the schedules dir. A DecodedCache is not modified once made (but
// for a count of its uses) and may be shared by concurrent Loads.
type DecodedCache struct {
	m    map[[sha256.Size]byte][]byte // file sum -> JSON of scheduleFile
	used atomic.Int64                 // files taken from it, by all loads
}

// NewDecodedCache returns an empty cache.
func NewDecodedCache() *DecodedCache { return &DecodedCache{m: map[[sha256.Size]byte][]byte{}} }

// Len is the number of schedule files in c.
func (c *DecodedCache) Len() int {
	if c == nil {
		return 0
	}
	return len(c.m)
}

// Equal reports whether c and o hold the same files.
func (c *DecodedCache) Equal(o *DecodedCache) bool {
	if c.Len() != o.Len() {
		return false
	}
	for k := range c.m {
		if _, ok := o.m[k]; !ok {
			return false
		}
	}
	return true
}

// lookup decodes the cached file with this sum into out; false when there
// is none, or when it cannot be decoded (then the file is parsed).
func (c *DecodedCache) lookup(sum [sha256.Size]byte, out *scheduleFile) ([]byte, bool) {
	if c == nil {
		return nil, false
	}
	js, ok := c.m[sum]
	if !ok {
		return nil, false
	}
	var raw scheduleFile
	if json.Unmarshal(js, &raw) != nil {
		return nil, false
	}
	*out = raw
	c.used.Add(1)
	return js, true
}

// The file starts with a header line naming the format and the binary
// that wrote it; each further line is one file: its sum in hex, a space
// and the decoded file as JSON (which holds no raw newline).
const decodedCacheMagic = "exportd-decoded-schedules v1 "

// ReadDecodedCache reads a cache written by WriteFile. It returns an
// empty cache, and no error, when the file does not exist or was written
// by another binary (build is the running binary's identity); an error
// when the file is damaged, which the caller logs and otherwise ignores:
// a damaged entry can only cost a parse, never change a schedule, because
// an entry is used only for a file whose bytes have its sum.
func ReadDecodedCache(path, build string) (*DecodedCache, error) {
	c := NewDecodedCache()
	if build == "" {
		return c, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, err
	}
	header, rest, _ := bytes.Cut(data, []byte("\n"))
	if !bytes.HasPrefix(header, []byte(decodedCacheMagic)) {
		return c, fmt.Errorf("%s: not a decoded-schedules cache; it is ignored and rewritten", path)
	}
	if string(header[len(decodedCacheMagic):]) != build {
		return c, nil // another binary's decoding
	}
	// The file is replaced whole (rename), so a missing last newline is a
	// torn write (a crash before the data reached the disk) or damage.
	// An entry damaged inside is found when it is used: its JSON does not
	// decode, and that file is parsed.
	if !bytes.HasSuffix(data, []byte("\n")) {
		return c, fmt.Errorf("%s: torn (no final newline); it is ignored and rewritten", path)
	}
	for n := 2; len(rest) > 0; n++ {
		var line []byte
		line, rest, _ = bytes.Cut(rest, []byte("\n"))
		hexSum, js, ok := bytes.Cut(line, []byte(" "))
		var sum [sha256.Size]byte
		if !ok || len(hexSum) != 2*sha256.Size || len(js) == 0 {
			return NewDecodedCache(), fmt.Errorf("%s:%d: damaged entry; the cache is ignored and rewritten", path, n)
		}
		if _, err := hex.Decode(sum[:], hexSum); err != nil {
			return NewDecodedCache(), fmt.Errorf("%s:%d: damaged entry; the cache is ignored and rewritten", path, n)
		}
		c.m[sum] = js
	}
	return c, nil
}

// WriteFile replaces the file at path with c, atomically (a temporary
// file renamed over it), readable by its owner only.
func (c *DecodedCache) WriteFile(path, build string) error {
	if build == "" || strings.ContainsAny(build, "\n") {
		return errors.New("decoded-schedules cache: no build identity")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriterSize(tmp, 1<<16)
	w.WriteString(decodedCacheMagic + build + "\n")
	var hexSum [2 * sha256.Size]byte
	for sum, js := range c.m {
		hex.Encode(hexSum[:], sum[:])
		w.Write(hexSum[:])
		w.WriteByte(' ')
		w.Write(js)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
