// Package e2e holds sprint's end-to-end tests: they build the real binaries
// (sprint, sprintctl, mesos-sim), start them as processes on loopback ports
// and drive them the way a user does. A fast subset runs in `make test`; the
// long fault scenarios run only with SPRINT_E2E=1 (`make e2e`).
package e2e
