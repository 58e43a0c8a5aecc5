package controller

import (
	"sync"
	"time"

	"github.com/sprint-project/sprint/apis"
)

// liveAttempt is a recorded, non-terminal attempt and what the controller
// knows about where it runs.
type liveAttempt struct {
	apis.Attempt
	hostname    string
	ports       []int32
	constraints [][]string
}

// registry mirrors the store's live attempts for one leader term, so that
// status updates map to attempts without a store read and constraints see
// where live Runs are placed. It is loaded from the store when the term
// starts and updated only after the store committed the change.
type registry struct {
	mu         sync.Mutex
	live       map[string]liveAttempt // by Run name
	byTask     map[string]string      // task ID → Run name
	lastUpdate map[string]time.Time   // task ID → arrival of its last status update
	lastKill   map[string]time.Time   // task ID → last KILL sent
}

func newRegistry() *registry {
	return &registry{
		live:       map[string]liveAttempt{},
		byTask:     map[string]string{},
		lastUpdate: map[string]time.Time{},
		lastKill:   map[string]time.Time{},
	}
}

func (r *registry) add(a liveAttempt) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.live[a.Run]; ok {
		delete(r.byTask, old.TaskID)
	}
	r.live[a.Run] = a
	r.byTask[a.TaskID] = a.Run
}

// get returns the Run's live attempt.
func (r *registry) get(run string) (liveAttempt, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	a, ok := r.live[run]
	return a, ok
}

// current reports whether taskID is its Run's live attempt.
func (r *registry) current(taskID string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.byTask[taskID]
	return ok
}

// finish forgets the live attempt with taskID.
func (r *registry) finish(run, taskID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if a, ok := r.live[run]; ok && a.TaskID == taskID {
		delete(r.live, run)
	}
	delete(r.byTask, taskID)
	delete(r.lastKill, taskID)
	delete(r.lastUpdate, taskID)
}

func (r *registry) updated(taskID string, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.byTask[taskID]; ok {
		r.lastUpdate[taskID] = at
	}
}

// unanswered returns the live tasks without a status update since start.
func (r *registry) unanswered(start time.Time) []ReconcileTask {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []ReconcileTask
	for _, a := range r.live {
		if t, ok := r.lastUpdate[a.TaskID]; ok && !t.Before(start) {
			continue
		}
		out = append(out, ReconcileTask{TaskID: a.TaskID, AgentID: a.AgentID})
	}
	return out
}

// shouldKill reports whether a KILL for taskID is due (none sent within
// every) and if so records it as sent at now; again says an earlier KILL
// went unanswered.
func (r *registry) shouldKill(taskID string, now time.Time, every time.Duration) (due, again bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, sent := r.lastKill[taskID]
	if sent && now.Sub(t) < every {
		return false, true
	}
	r.lastKill[taskID] = now
	return true, sent
}

// snapshot copies the live attempts.
func (r *registry) snapshot() []liveAttempt {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]liveAttempt, 0, len(r.live))
	for _, a := range r.live {
		out = append(out, a)
	}
	return out
}

func (r *registry) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.live)
}

// unansweredSince reports whether taskID is a live attempt without a status
// update since start.
func (r *registry) unansweredSince(taskID string, start time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.byTask[taskID]; !ok {
		return false
	}
	t, ok := r.lastUpdate[taskID]
	return !ok || t.Before(start)
}
