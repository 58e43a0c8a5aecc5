package e2e

// countJS evaluates a JavaScript expression that yields a number.
func countJS(p *page, expr string) int {
	p.t.Helper()
	var n int
	p.eval(expr, &n)
	return n
}
