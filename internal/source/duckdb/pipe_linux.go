package duckdb

import "syscall"

// pipeSize asks the kernel for a larger pipe buffer: fewer wake-ups per
// megabyte. 1 MiB is the default ceiling for unprivileged processes
// (/proc/sys/fs/pipe-max-size).
const pipeSize = 1 << 20

const fSetPipeSize = 1031 // F_SETPIPE_SZ, Linux only

func growPipe(fd int) {
	_, _, _ = syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), fSetPipeSize, pipeSize)
}
