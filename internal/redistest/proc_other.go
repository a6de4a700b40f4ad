//go:build !linux

package redistest

import (
	"os/exec"
	"time"
)

// setParentDeathSignal does nothing where the kernel has no parent-death
// signal; cleanups still kill the server when tests end normally.
func setParentDeathSignal(*exec.Cmd) {}

// waitStopped cannot ask the kernel for the process state here, so it gives
// the signal a moment to be delivered.
func waitStopped(int) { time.Sleep(10 * time.Millisecond) }
