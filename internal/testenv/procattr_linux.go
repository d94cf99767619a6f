package testenv

import "syscall"

// procAttr kills the server with the test binary, so that a crashed test
// leaves no server behind.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
