package controller

import (
	"context"
	"slices"
	"sort"
	"time"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/internal/clock"
)

// gcLoop deletes finished Runs, leader only: first those past their TTL
// (ttlSecondsAfterFinished, else GCMaxAge), then the oldest beyond
// GCMaxFinished. Every GCInterval it scans the Runs once and then deletes
// what is due in batches of GCBatch, a second apart, so that the API never
// waits behind a large delete. One scan serves every batch: scanning
// 5,000 Runs again for each batch of 100 cost the API more than the
// deletes did. A Run that changed since the scan (its resourceVersion
// differs) is skipped, and looked at again by the next scan.
func (t *term) gcLoop(ctx context.Context) {
	for {
		wait, stop := clock.After(t.clock, t.cfg.GCInterval)
		select {
		case <-ctx.Done():
			stop()
			return
		case <-wait:
		}
		due, err := t.gcScan(ctx)
		if err != nil {
			if ctx.Err() == nil {
				t.log.Warn("garbage collection failed", "err", err)
			}
			continue
		}
		for len(due) > 0 && ctx.Err() == nil {
			batch := due[:min(len(due), t.cfg.GCBatch)]
			due = due[len(batch):]
			if err := t.store.DeleteRuns(ctx, batch); err != nil {
				if ctx.Err() == nil {
					t.log.Warn("garbage collection failed", "err", err)
				}
				break
			}
			t.m.gcDeleted.Add(float64(len(batch)))
			t.log.Info("garbage collected finished runs", "deleted", len(batch), "left", len(due))
			if len(due) == 0 {
				break
			}
			pause, stop := clock.After(t.clock, time.Second)
			select {
			case <-ctx.Done():
				stop()
			case <-pause:
			}
		}
	}
}

// gcScan reads every Run once, refreshes the per-phase gauge and returns
// the finished Runs due for deletion, in the order they should go: past
// their TTL first, then the oldest beyond GCMaxFinished.
func (t *term) gcScan(ctx context.Context) ([]apis.RunRef, error) {
	now := t.clock.Now()
	counts := map[apis.RunPhase]int{}
	type fin struct {
		ref apis.RunRef
		at  time.Time
	}
	var finished []fin
	var due []apis.RunRef
	held := map[string]bool{} // finished Runs others still wait for
	_, err := t.store.EachRun(ctx, func(r *apis.Run) error {
		p := r.Status.Phase
		if p == "" {
			p = apis.PhasePending
		}
		counts[p]++
		heldByDependents(r, held)
		if !p.Terminal() {
			return nil
		}
		if _, live := t.attempts.get(r.Metadata.Name); live {
			return nil
		}
		at := finishedAt(r)
		ttl := t.cfg.GCMaxAge
		if r.Spec.TTLSecondsAfterFinished != nil {
			ttl = time.Duration(*r.Spec.TTLSecondsAfterFinished) * time.Second
		}
		ref := apis.RunRef{Name: r.Metadata.Name, UID: r.Metadata.UID, ResourceVersion: r.Metadata.ResourceVersion}
		if !now.Before(at.Add(ttl)) {
			due = append(due, ref)
			return nil
		}
		finished = append(finished, fin{ref, at})
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, p := range []apis.RunPhase{apis.PhasePending, apis.PhaseStarting, apis.PhaseRunning,
		apis.PhaseSucceeded, apis.PhaseFailed, apis.PhaseKilled} {
		t.m.runsByPhase.WithLabelValues(string(p)).Set(float64(counts[p]))
	}
	if len(held) > 0 {
		due = slices.DeleteFunc(due, func(ref apis.RunRef) bool { return held[ref.Name] })
		finished = slices.DeleteFunc(finished, func(f fin) bool { return held[f.ref.Name] })
	}
	if excess := len(finished) - t.cfg.GCMaxFinished; excess > 0 {
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
	return due, nil
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
