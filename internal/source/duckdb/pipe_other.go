//go:build !linux

package duckdb

// growPipe is a no-op where the pipe buffer cannot be resized.
func growPipe(int) {}
