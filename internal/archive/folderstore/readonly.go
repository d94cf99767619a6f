package folderstore

import (
	"fmt"
	"os"
	"path/filepath"
)

// OpenReadOnly opens an existing folder archive for reading only: unlike
// New it creates nothing and sweeps nothing, so an auditor can point it at
// a copy (cp -r, a mounted medium) without changing a byte. Only the Reader
// methods are meant to be used on it.
func OpenReadOnly(root string) (*Store, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("archive folder: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("archive folder %s: not a folder", abs)
	}
	return &Store{root: abs}, nil
}
