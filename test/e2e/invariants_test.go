package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/client"
)

// describeRun renders what an invariant failure needs to be understood:
// the Run as stored (JSON), its Mesos tasks (from the tracker when given,
// else from /master/state) and its events.
func (c *cluster) describeRun(name string, tr *taskTracker) string {
	var b strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cl := c.anyClient()
	fmt.Fprintf(&b, "=== Run %s\n", name)
	if run, err := cl.Get(ctx, name); err != nil {
		fmt.Fprintf(&b, "get: %v\n", err)
	} else {
		j, _ := json.MarshalIndent(run, "", "  ")
		b.Write(j)
		b.WriteByte('\n')
	}
	var tasks []mesosTask
	if tr != nil {
		tasks = tr.tasksOf(name)
	} else if st, err := getMasterState(ctx, c.sim.url); err != nil {
		fmt.Fprintf(&b, "/master/state: %v\n", err)
	} else {
		for _, task := range st.allTasks() {
			if task.run() == name {
				tasks = append(tasks, task)
			}
		}
	}
	fmt.Fprintf(&b, "--- Mesos tasks (%d)\n", len(tasks))
	for _, task := range tasks {
		var hist []string
		for _, s := range task.Statuses {
			hist = append(hist, fmt.Sprintf("%s@%.3f", s.State, s.Timestamp))
		}
		fmt.Fprintf(&b, "%s agent=%s state=%s statuses=[%s]\n", task.ID, task.SlaveID, task.State, strings.Join(hist, " "))
	}
	if evs, err := cl.Events(ctx, name); err != nil {
		fmt.Fprintf(&b, "--- events: %v\n", err)
	} else {
		fmt.Fprintf(&b, "--- events (%d)\n", len(evs))
		for _, ev := range evs {
			j, _ := json.Marshal(ev)
			b.Write(j)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// anyClient returns the client of a live node (the leader when known).
func (c *cluster) anyClient() *client.Client {
	if l := c.leaderNow(); l != nil {
		return l.client
	}
	for _, n := range c.nodes {
		if n.alive() {
			return n.client
		}
	}
	return c.nodes[0].client
}

// failRuns reports an invariant broken by some Runs: the message, then the
// description of up to five of them.
func (c *cluster) failRuns(t *testing.T, tr *taskTracker, what string, names []string) {
	t.Helper()
	if len(names) == 0 {
		return
	}
	sort.Strings(names)
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d Runs, e.g. %v\n", what, len(names), names[:min(len(names), 10)])
	for _, n := range names[:min(len(names), 5)] {
		b.WriteString(c.describeRun(n, tr))
	}
	t.Fatal(b.String())
}

// listAll lists every Run through node n, page by page.
func listAll(ctx context.Context, cl *client.Client, selector string) ([]apis.Run, string, error) {
	var out []apis.Run
	opts := client.ListOptions{LabelSelector: selector, Limit: 500}
	rv := ""
	for {
		page, err := cl.List(ctx, opts)
		if err != nil {
			return nil, "", err
		}
		if rv == "" {
			rv = page.Metadata.ResourceVersion
		}
		out = append(out, page.Items...)
		if page.Metadata.Continue == "" {
			return out, rv, nil
		}
		opts.Continue = page.Metadata.Continue
	}
}

// waitAllPhase waits until every Run matching selector on the leader is in
// a terminal phase, then fails with descriptions of those not in want.
func (c *cluster) waitAllPhase(t *testing.T, tr *taskTracker, selector string, wantCount int, want apis.RunPhase, timeout time.Duration) []apis.Run {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var runs []apis.Run
	var open []string
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		got, _, err := listAll(ctx, c.anyClient(), selector)
		cancel()
		if err == nil {
			runs, open = got, nil
			for _, r := range runs {
				if !r.Status.Phase.Terminal() {
					open = append(open, r.Metadata.Name)
				}
			}
			if len(open) == 0 && len(runs) >= wantCount {
				break
			}
		}
		if time.Now().After(deadline) {
			c.failRuns(t, tr, fmt.Sprintf("after %v, %d of %d Runs are not finished (err %v)", timeout, len(open), len(runs), err), open)
			t.Fatalf("only %d Runs listed, want %d", len(runs), wantCount)
		}
		time.Sleep(500 * time.Millisecond) // poll interval of a condition on a remote cluster
	}
	var wrong []string
	for _, r := range runs {
		if r.Status.Phase != want {
			wrong = append(wrong, r.Metadata.Name)
		}
	}
	c.failRuns(t, tr, fmt.Sprintf("Runs finished other than %s", want), wrong)
	return runs
}

// checkNoOverlaps fails, with descriptions, if any Run had two live tasks
// at once.
func (c *cluster) checkNoOverlaps(t *testing.T, tr *taskTracker) {
	t.Helper()
	ov := tr.overlaps()
	var names []string
	var detail []string
	for run, pairs := range ov {
		names = append(names, run)
		detail = append(detail, pairs...)
	}
	if len(names) > 0 {
		t.Logf("overlapping tasks:\n%s", strings.Join(detail[:min(len(detail), 20)], "\n"))
	}
	c.failRuns(t, tr, "Runs with two live Mesos tasks at once", names)
}

// waitNoActiveTasks waits until /master/state shows no task that is not
// terminal, and fails with the ones left.
func (c *cluster) waitNoActiveTasks(t *testing.T, timeout time.Duration) {
	t.Helper()
	var active []mesosTask
	ok := waitFor(timeout, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		st, err := getMasterState(ctx, c.sim.url)
		if err != nil {
			return false
		}
		active = st.activeTasks()
		return len(active) == 0
	})
	if !ok {
		var names []string
		for _, task := range active {
			names = append(names, task.run())
		}
		c.failRuns(t, nil, fmt.Sprintf("%d Mesos tasks still active after %v", len(active), timeout), names)
	}
}

// waitFor polls cond every 200 ms until it holds or timeout passes.
func waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(200 * time.Millisecond) // poll interval
	}
}
