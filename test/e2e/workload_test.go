package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/client"
)

// simRun is a Run the simulated executor finishes after dur with exit
// status 0 (SIM_* settings travel in the task's environment).
func simRun(name, suite string, dur time.Duration) *apis.Run {
	return &apis.Run{
		TypeMeta: apis.TypeMeta{APIVersion: apis.APIVersion, Kind: apis.KindRun},
		Metadata: apis.ObjectMeta{Name: name, Labels: map[string]string{"suite": suite}},
		Spec: apis.RunSpec{
			Command: "true",
			Env:     map[string]string{"SIM_DURATION": dur.String()},
			Cpus:    0.01,
			Mem:     1,
		},
	}
}

// applier applies Runs through random live nodes with a few concurrent
// writers. An apply is acknowledged when a node answered 2xx; failed ones
// (no leader, node killed mid-request) are retried until acknowledged:
// applying the same manifest again is a no-op, so retries are safe.
type applier struct {
	c       *cluster
	writers int

	acked    atomic.Int64
	attempts atomic.Int64
	failures atomic.Int64

	mu      sync.Mutex
	ackedAt map[string]time.Time
	errs    map[string]int // error message → count, for the log
}

func newApplier(c *cluster, writers int) *applier {
	return &applier{c: c, writers: writers, ackedAt: map[string]time.Time{}, errs: map[string]int{}}
}

// applyAll applies every Run, returning once each is acknowledged or ctx
// ends.
func (a *applier) applyAll(ctx context.Context, runs []*apis.Run) {
	work := make(chan *apis.Run)
	var wg sync.WaitGroup
	for i := 0; i < a.writers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range work {
				a.applyOne(ctx, r)
			}
		}()
	}
	for _, r := range runs {
		select {
		case work <- r:
		case <-ctx.Done():
		}
	}
	close(work)
	wg.Wait()
}

func (a *applier) applyOne(ctx context.Context, r *apis.Run) {
	for ctx.Err() == nil {
		live := a.c.live()
		if len(live) == 0 {
			time.Sleep(100 * time.Millisecond) // every node is down: wait for a restart
			continue
		}
		n := live[rand.IntN(len(live))]
		a.attempts.Add(1)
		rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		_, _, err := n.client.Apply(rctx, r, client.ApplyOptions{})
		cancel()
		if err == nil {
			a.acked.Add(1)
			a.mu.Lock()
			a.ackedAt[r.Metadata.Name] = time.Now()
			a.mu.Unlock()
			return
		}
		a.failures.Add(1)
		a.mu.Lock()
		a.errs[shortErr(err)]++
		a.mu.Unlock()
		time.Sleep(50 * time.Millisecond) // back-off before the next node
	}
}

// acknowledged returns the names of the acknowledged Runs.
func (a *applier) acknowledged() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]string, 0, len(a.ackedAt))
	for n := range a.ackedAt {
		out = append(out, n)
	}
	return out
}

func (a *applier) errorSummary() map[string]int {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[string]int{}
	for k, v := range a.errs {
		out[k] = v
	}
	return out
}

// shortErr keeps an error's message short enough to group by.
func shortErr(err error) string {
	s := urlRE.ReplaceAllString(err.Error(), "URL")
	s = portRE.ReplaceAllString(s, "127.0.0.1:PORT")
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}

// runNames returns n names prefix-0000 … for a suite.
func runNames(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%05d", prefix, i)
	}
	return out
}

var (
	urlRE  = regexp.MustCompile(`http://127\.0\.0\.1:\d+/\S*`)
	portRE = regexp.MustCompile(`127\.0\.0\.1:\d+`)
)
