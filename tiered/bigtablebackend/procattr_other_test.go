//go:build !linux

package bigtablebackend

import "os/exec"

// dieWithParent is a no-op where Pdeathsig does not exist; TestMain still kills the emulator.
func dieWithParent(*exec.Cmd) {}
