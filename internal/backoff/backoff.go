// Package backoff is sprint's one exponential back-off: every retry loop
// (the Mesos subscription, the controller's work queue and
// reconciliations, joining a cluster, the server's forwarding to the
// leader, the client SDK's retries and watch reconnects, log polling)
// takes its delays from a Policy.
//
// Jitter spreads retries of many clients of one server (schedulers after a
// master failover, API clients and watchers after a leader change) so that
// they do not arrive in lockstep; loops whose timing tests or users read
// exactly (a Run's relaunch delay, the controller's timers) use none.
// Waiting is the caller's (clock.Sleep, or a select of its own).
package backoff

import (
	"math/rand/v2"
	"time"
)

// Policy is an exponential back-off: retry n (0-based) waits Initial·2ⁿ,
// capped at Max, of which the last Jitter fraction (0 to 1) is drawn at
// random: with Jitter 0.5 a delay d is uniform in [d/2, d].
type Policy struct {
	Initial time.Duration
	Max     time.Duration
	Jitter  float64
}

// Delay returns the wait before retry n (0-based).
func (p Policy) Delay(n int) time.Duration {
	d := p.Max
	if n < 63 && p.Initial > 0 {
		if e := p.Initial << n; e > 0 && e>>n == p.Initial && e < p.Max {
			d = e
		}
	}
	if p.Jitter <= 0 || d <= 0 {
		return d
	}
	j := time.Duration(float64(d) * min(p.Jitter, 1))
	return d - j + rand.N(j+1)
}

// Retry is one retry loop's place in its Policy. The zero value of a Retry
// with a Policy starts at retry 0. It is not safe for concurrent use: one
// loop owns it.
type Retry struct {
	Policy Policy
	n      int
}

// Next returns the delay before the next retry and moves on.
func (r *Retry) Next() time.Duration {
	d := r.Policy.Delay(r.n)
	if r.n < 62 {
		r.n++
	}
	return d
}

// Reset starts over at retry 0, after a success.
func (r *Retry) Reset() { r.n = 0 }

// Retries is how many delays Next has handed out since the last Reset.
func (r *Retry) Retries() int { return r.n }
