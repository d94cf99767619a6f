package app

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"path/filepath"
	"sync"

	"go.uber.org/zap"

	"github.com/exportd/exportd/internal/config"
)

// decodedCacheFile, in state_dir, keeps the decoded schedule files between
// starts (Options.ConfigCache).
const decodedCacheFile = "schedules.cache"

func decodedCachePath(cfg *config.Config) string {
	return filepath.Join(cfg.StateDir, decodedCacheFile)
}

// readDecodedCache reads the decoded-schedules cache of cfg's state_dir;
// a damaged one is logged and ignored (it is rewritten after the load).
func (a *App) readDecodedCache(cfg *config.Config) *config.DecodedCache {
	c, err := config.ReadDecodedCache(decodedCachePath(cfg), buildID())
	if err != nil {
		a.log.Warn("ignoring the decoded-schedules cache; every schedule file is parsed", zap.Error(err))
	}
	return c
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
