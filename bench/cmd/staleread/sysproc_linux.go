package main

import (
	"os/exec"
	"syscall"
)

// setProcAttrs puts the child in a process group of its own and has the
// kernel kill it if this program dies without cleaning up (SIGKILL cannot
// be caught).
func setProcAttrs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
