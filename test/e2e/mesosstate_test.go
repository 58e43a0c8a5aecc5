package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// masterState is the part of mesos-sim's /master/state the tests read.
type masterState struct {
	Frameworks []struct {
		ID               string       `json:"id"`
		Name             string       `json:"name"`
		Active           bool         `json:"active"`
		Tasks            []mesosTask  `json:"tasks"`
		UnreachableTasks []mesosTask  `json:"unreachable_tasks"`
		CompletedTasks   []mesosTask  `json:"completed_tasks"`
		Offers           []jsonObject `json:"offers"`
	} `json:"frameworks"`
	Slaves []struct {
		ID       string `json:"id"`
		Hostname string `json:"hostname"`
		Active   bool   `json:"active"`
	} `json:"slaves"`
}

type jsonObject map[string]any

// mesosTask is one task of /master/state.
type mesosTask struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	SlaveID  string `json:"slave_id"`
	State    string `json:"state"`
	Statuses []struct {
		State     string  `json:"state"`
		Timestamp float64 `json:"timestamp"`
	} `json:"statuses"`
}

// run is the Run a sprint task belongs to: task IDs are <run>.<attempt>.<hex>.
func (t mesosTask) run() string {
	name, _, _ := strings.Cut(t.ID, ".")
	return name
}

// terminalTaskState reports whether a Mesos task state is final.
func terminalTaskState(s string) bool {
	switch s {
	case "TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR",
		"TASK_DROPPED", "TASK_GONE", "TASK_GONE_BY_OPERATOR":
		return true
	}
	return false
}

// getMasterState reads /master/state.
func getMasterState(ctx context.Context, simURL string) (*masterState, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, simURL+"/master/state", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/master/state: %s", resp.Status)
	}
	var st masterState
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return nil, fmt.Errorf("/master/state: %w", err)
	}
	return &st, nil
}

// state reads /master/state or fails the test.
func (s *simProc) state(t *testing.T) *masterState {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := getMasterState(ctx, s.url)
	require.NoError(t, err)
	return st
}

// allTasks returns every task of every framework: live, unreachable and
// the completed ones the master still remembers.
func (st *masterState) allTasks() []mesosTask {
	var out []mesosTask
	for _, f := range st.Frameworks {
		out = append(out, f.Tasks...)
		out = append(out, f.UnreachableTasks...)
		out = append(out, f.CompletedTasks...)
	}
	return out
}

// activeTasks returns the tasks not in a terminal state.
func (st *masterState) activeTasks() []mesosTask {
	var out []mesosTask
	for _, task := range st.allTasks() {
		if !terminalTaskState(task.State) {
			out = append(out, task)
		}
	}
	return out
}

// taskInterval is when a task was live, as far as the master's status
// history and the tracker's polls tell.
type taskInterval struct {
	task     mesosTask
	start    float64 // first status, or when first seen
	end      float64 // terminal status; 0 while live
	lastSeen string  // latest state seen
}

// taskTracker polls /master/state and keeps every task it ever saw, because
// the master forgets completed tasks beyond its cap (1,000 per framework).
// Per Run, no two live intervals may overlap.
type taskTracker struct {
	simURL string

	mu    sync.Mutex
	tasks map[string]*taskInterval
	polls int
}

func newTaskTracker(simURL string) *taskTracker {
	return &taskTracker{simURL: simURL, tasks: map[string]*taskInterval{}}
}

// run polls every interval until ctx ends.
func (tr *taskTracker) run(ctx context.Context, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		tr.poll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// poll reads /master/state once and merges it.
func (tr *taskTracker) poll(ctx context.Context) {
	pctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	st, err := getMasterState(pctx, tr.simURL)
	if err != nil {
		return
	}
	now := float64(time.Now().UnixNano()) / 1e9
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.polls++
	for _, task := range st.allTasks() {
		iv := tr.tasks[task.ID]
		if iv == nil {
			iv = &taskInterval{start: now}
			tr.tasks[task.ID] = iv
		}
		iv.task, iv.lastSeen = task, task.State
		for _, s := range task.Statuses {
			if s.Timestamp > 0 && s.Timestamp < iv.start {
				iv.start = s.Timestamp
			}
			if terminalTaskState(s.State) && (iv.end == 0 || s.Timestamp < iv.end) {
				iv.end = s.Timestamp
			}
		}
		if terminalTaskState(task.State) && iv.end == 0 {
			iv.end = now
		}
	}
}

// overlaps returns, per Run, the pairs of its tasks whose live intervals
// overlap: a second task launched while the first was not yet terminal.
func (tr *taskTracker) overlaps() map[string][]string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	byRun := map[string][]*taskInterval{}
	for _, iv := range tr.tasks {
		byRun[iv.task.run()] = append(byRun[iv.task.run()], iv)
	}
	out := map[string][]string{}
	for run, ivs := range byRun {
		sort.Slice(ivs, func(i, j int) bool { return ivs[i].start < ivs[j].start })
		for i := 1; i < len(ivs); i++ {
			prev, cur := ivs[i-1], ivs[i]
			if prev.end == 0 || prev.end > cur.start {
				out[run] = append(out[run], fmt.Sprintf("%s [%.3f–%.3f %s] overlaps %s [%.3f– %s]",
					prev.task.ID, prev.start, prev.end, prev.lastSeen, cur.task.ID, cur.start, cur.lastSeen))
			}
		}
	}
	return out
}

// tasksOf returns the tracked tasks of one Run.
func (tr *taskTracker) tasksOf(run string) []mesosTask {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	var out []mesosTask
	for _, iv := range tr.tasks {
		if iv.task.run() == run {
			out = append(out, iv.task)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (tr *taskTracker) count() (tasks, polls int) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return len(tr.tasks), tr.polls
}
