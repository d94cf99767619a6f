package duckdb

import "syscall"

// pipeSize asks the kernel for a larger pipe buffer (default 64 KiB): fewer
// wake-ups per megabyte. 1 MiB is the default ceiling for unprivileged
// processes (/proc/sys/fs/pipe-max-size). On the shared 2-core machine the
// gain was within the noise of BenchmarkExportCSV; it costs nothing.
const pipeSize = 1 << 20

const fSetPipeSize = 1031 // F_SETPIPE_SZ, Linux only

func growPipe(fd int) {
	_, _, _ = syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), fSetPipeSize, pipeSize)
}
