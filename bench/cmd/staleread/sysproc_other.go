//go:build !linux

package main

import (
	"os/exec"
	"syscall"
)

// setProcAttrs puts the child in a process group of its own; outside Linux
// there is no parent-death signal, so a killed program leaves it running.
func setProcAttrs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}
