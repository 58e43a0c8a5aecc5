package controller

import (
	"context"
	"sort"
	"time"

	"github.com/sprint-project/sprint/apis"
)

// gcLoop deletes finished Runs, leader only: first those past their TTL
// (ttlSecondsAfterFinished, else GCMaxAge), then the oldest beyond
// GCMaxFinished. At most GCBatch per pass and per Raft entry, so the API
// never waits behind a large delete; a pass that left work runs again in
// a second.
func (t *term) gcLoop(ctx context.Context) {
	c := t.c
	d := c.cfg.GCInterval
	for {
		wait, stop := after(c.clock, d)
		select {
		case <-ctx.Done():
			stop()
			return
		case <-wait:
		}
		more, err := t.gcPass(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			t.log.Warn("garbage collection failed", "err", err)
			d = c.cfg.GCInterval
		case more:
			d = time.Second
		default:
			d = c.cfg.GCInterval
		}
	}
}

// gcPass deletes one batch and reports whether more is due.
func (t *term) gcPass(ctx context.Context) (bool, error) {
	c := t.c
	now := c.clock.Now()
	counts := map[apis.RunPhase]int{}
	type fin struct {
		ref RunRef
		at  time.Time
	}
	var finished []fin
	var due []RunRef
	_, err := c.store.EachRun(ctx, func(r *apis.Run) error {
		p := r.Status.Phase
		if p == "" {
			p = apis.PhasePending
		}
		counts[p]++
		if !p.Terminal() {
			return nil
		}
		if _, live := t.attempts.get(r.Metadata.Name); live {
			return nil
		}
		at := finishedAt(r)
		ttl := c.cfg.GCMaxAge
		if r.Spec.TTLSecondsAfterFinished != nil {
			ttl = time.Duration(*r.Spec.TTLSecondsAfterFinished) * time.Second
		}
		ref := RunRef{Name: r.Metadata.Name, UID: r.Metadata.UID}
		if !now.Before(at.Add(ttl)) {
			due = append(due, ref)
			return nil
		}
		finished = append(finished, fin{ref, at})
		return nil
	})
	if err != nil {
		return false, err
	}
	for _, p := range []apis.RunPhase{apis.PhasePending, apis.PhaseStarting, apis.PhaseRunning,
		apis.PhaseSucceeded, apis.PhaseFailed, apis.PhaseKilled} {
		c.m.runsByPhase.WithLabelValues(string(p)).Set(float64(counts[p]))
	}
	if excess := len(finished) - c.cfg.GCMaxFinished; excess > 0 {
		sort.Slice(finished, func(i, j int) bool {
			if !finished[i].at.Equal(finished[j].at) {
				return finished[i].at.Before(finished[j].at)
			}
			return finished[i].ref.Name < finished[j].ref.Name
		})
		for _, f := range finished[:excess] {
			due = append(due, f.ref)
		}
	}
	if len(due) == 0 {
		return false, nil
	}
	batch := due
	if len(batch) > c.cfg.GCBatch {
		batch = batch[:c.cfg.GCBatch]
	}
	// DeleteRuns checks each UID, so a Run re-created under the same name
	// since the list is not touched.
	if err := c.store.DeleteRuns(ctx, batch); err != nil {
		return false, err
	}
	c.m.gcDeleted.Add(float64(len(batch)))
	t.log.Info("garbage collected finished runs", "deleted", len(batch), "left", len(due)-len(batch))
	return len(due) > len(batch), nil
}

// finishedAt is when a finished Run finished, as best known.
func finishedAt(r *apis.Run) time.Time {
	switch {
	case r.Status.CompletionTime != nil:
		return *r.Status.CompletionTime
	case r.Status.LastTransitionTime != nil:
		return *r.Status.LastTransitionTime
	case r.Metadata.CreationTimestamp != nil:
		return *r.Metadata.CreationTimestamp
	}
	return time.Time{}
}
