// Package e2e holds black-box tests of the running system: the real strata binary as
// `make run` starts it, the deployed topology rebuilt locally from the real emulator
// binaries (one process per function behind a front door generated from the route table),
// and a deployed load-balancer URL when STRATA_E2E_URL is set. It has no non-test code
// beyond this file.
package e2e
