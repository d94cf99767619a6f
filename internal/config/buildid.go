package config

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"path/filepath"
	"sync"
)

// decodedCacheFile, in state_dir, keeps the decoded schedule files between
// starts of the same binary.
const decodedCacheFile = "schedules.cache"

// ReadDecodedCacheFile reads the decoded-schedules cache kept in c's
// state_dir by the same binary (nil when there is none, or when it was
// written by another build); a damaged one is an error, to be logged and
// ignored (WriteDecodedCacheFile rewrites it).
func (c *Config) ReadDecodedCacheFile() (*DecodedCache, error) {
	return ReadDecodedCache(filepath.Join(c.StateDir, decodedCacheFile), buildID())
}

// WriteDecodedCacheFile keeps the schedule files this load decoded in
// state_dir for the next start of the same binary.
func (c *Config) WriteDecodedCacheFile() error {
	return c.DecodedCache().WriteFile(filepath.Join(c.StateDir, decodedCacheFile), buildID())
}

// buildID is the running binary's Go build ID: it changes whenever
// anything that went into the binary does, so a decoded-schedules cache
// is never read by a binary that could decode differently. Empty (no
// cache kept on disk) where it cannot be read.
var buildID = sync.OnceValue(func() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	f, err := elf.Open(exe)
	if err != nil {
		return ""
	}
	defer f.Close()
	sec := f.Section(".note.go.buildid")
	if sec == nil {
		return ""
	}
	note, err := sec.Data()
	if err != nil {
		return ""
	}
	return goBuildID(note)
})

// goBuildID reads an ELF note of type 4 named "Go", which is how the Go
// linker records the build ID.
func goBuildID(note []byte) string {
	if len(note) < 16 {
		return ""
	}
	nameSize := binary.LittleEndian.Uint32(note[0:])
	descSize := binary.LittleEndian.Uint32(note[4:])
	typ := binary.LittleEndian.Uint32(note[8:])
	name := note[12:]
	if typ != 4 || nameSize != 4 || uint32(len(name)) < 4+descSize || !bytes.Equal(name[:4], []byte("Go\x00\x00")) {
		return ""
	}
	return string(name[4 : 4+descSize])
}
