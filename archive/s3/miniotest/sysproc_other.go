//go:build !linux

package miniotest

import (
	"errors"
	"syscall"
	"time"
)

func sysProcAttr() *syscall.SysProcAttr { return nil }

func cpuTime(int) (time.Duration, error) {
	return 0, errors.New("miniotest: a process's CPU time is read on Linux only")
}
