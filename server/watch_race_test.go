//go:build race

package server_test

// raceEnabled: the race detector enlarges every stack frame, so stack
// budgets are checked only without it.
const raceEnabled = true
