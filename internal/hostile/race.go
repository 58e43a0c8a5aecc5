//go:build race

package hostile

// CPUFactor is how much more CPU the race detector makes code use: CPU
// budgets are multiplied by it.
const CPUFactor = 8
