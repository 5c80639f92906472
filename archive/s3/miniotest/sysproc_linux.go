package miniotest

import "syscall"

// sysProcAttr makes the server die with the test process, so a test binary
// killed before its cleanup (or a shared server nobody stopped) does not
// leave MinIO running.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
