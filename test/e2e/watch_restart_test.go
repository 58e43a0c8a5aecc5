package e2e

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/client"
)

// A watch resumed, from its last resourceVersion, on the very node it was
// on after that node was SIGKILLed and restarted (its in-memory watch
// history starts again at restart): it must deliver every event since that
// version, or say 410 so that the client relists. Silently skipping events
// would leave the client's cache wrong forever.
func TestWatch_ResumeOnRestartedNodeMissesNothing(t *testing.T) {
	c := startCluster(t, clusterOptions{sim: simOptions{agents: 2}})
	leader := c.leader()
	f := c.followers()[0]
	_, rv0, err := listAll(t.Context(), f.client, "")
	require.NoError(t, err)

	// Reference: the SDK watcher on the leader, which is not touched.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ref, err := leader.client.Watch(ctx, client.WatchOptions{ResourceVersion: rv0, LabelSelector: "suite=wrestart"})
	require.NoError(t, err)
	defer ref.Stop()
	var mu sync.Mutex
	var refEvents []seenEvent
	go func() {
		for ev := range ref.Events() {
			mu.Lock()
			refEvents = append(refEvents, seenEvent{Type: ev.Type, Name: ev.Run.Metadata.Name, RV: ev.Run.Metadata.ResourceVersion, Phase: ev.Run.Status.Phase})
			mu.Unlock()
		}
	}()

	raw := &rawWatcher{c: c, selector: "suite=wrestart"}
	type result struct {
		rv  string
		err error
	}
	first := make(chan result, 1)
	go func() { rv, err := raw.stream(ctx, f, rv0); first <- result{rv, err} }()

	apply := func(names []string) {
		var specs []*apis.Run
		for _, name := range names {
			specs = append(specs, simRun(name, "wrestart", 200*time.Millisecond))
		}
		actx, acancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer acancel()
		newApplier(c, 4).applyAll(actx, specs)
		require.NoError(t, actx.Err())
	}
	names := runNames("wrs", 40)
	apply(names[:20])
	c.waitAllPhase(t, nil, "suite=wrestart", 20, apis.PhaseSucceeded, time.Minute)
	c.kill9(f)
	r := <-first
	before, _ := raw.snapshot()
	t.Logf("stream on %s ended at resourceVersion %s (%v) after %d events", f.id, r.rv, r.err, len(before))
	apply(names[20:])
	c.waitAllPhase(t, nil, "suite=wrestart", 40, apis.PhaseSucceeded, time.Minute)
	c.restart(f)
	c.waitSameRuns(t, f)

	// Resume on the restarted node from the last version seen.
	rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer rcancel()
	_, err = raw.stream(rctx, f, r.rv)
	if err == errWatchGone {
		t.Logf("the restarted node answered 410: the client relists (correct)")
		return
	}
	mu.Lock()
	defer mu.Unlock()
	got, _ := raw.snapshot()
	require.Equal(t, joinEvents(refEvents), joinEvents(got),
		"resumed on the restarted node without a 410, the watch must carry every event since resourceVersion %s", r.rv)
}

// Several Runs changed by one Raft entry (the controller batches status
// updates) share its resourceVersion. A watch whose connection breaks
// after the first of them resumes from that version, as Kubernetes clients
// do, and must still get the others. This replays that: it reads a stream,
// finds two consecutive events with the same resourceVersion R, then
// watches again from R, as a client cut off between the two would.
func TestWatch_ResumeFromMidBatchVersion(t *testing.T) {
	if !longTests() {
		t.Skip("long: SPRINT_E2E=1 runs it")
	}
	c := startCluster(t, clusterOptions{sim: simOptions{agents: 2}})
	leader := c.leader()
	_, rv0, err := listAll(t.Context(), leader.client, "")
	require.NoError(t, err)
	raw := &rawWatcher{c: c, selector: "suite=midbatch"}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { defer close(done); _, _ = raw.stream(ctx, leader, rv0) }()
	var specs []*apis.Run
	for _, name := range runNames("mbt", 60) {
		specs = append(specs, simRun(name, "midbatch", 100*time.Millisecond))
	}
	actx, acancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer acancel()
	newApplier(c, 8).applyAll(actx, specs)
	c.waitAllPhase(t, nil, "suite=midbatch", 60, apis.PhaseSucceeded, time.Minute)
	require.Eventually(t, func() bool {
		evs, _ := raw.snapshot()
		n := 0
		for _, ev := range evs {
			if ev.Phase == apis.PhaseSucceeded {
				n++
			}
		}
		return n == 60
	}, 30*time.Second, 50*time.Millisecond)
	cancel()
	<-done
	evs, _ := raw.snapshot()
	cut := -1
	for i := 0; i+1 < len(evs); i++ {
		if evs[i].RV == evs[i+1].RV {
			cut = i
			break
		}
	}
	if cut < 0 {
		t.Skip("no two events shared a resourceVersion this time")
	}
	t.Logf("cut after %s; next %s", evs[cut], evs[cut+1])

	again := &rawWatcher{c: c, selector: "suite=midbatch"}
	rctx, rcancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer rcancel()
	_, err = again.stream(rctx, leader, evs[cut].RV)
	if err == errWatchGone {
		return // a 410 makes the client relist: nothing lost
	}
	resumed, _ := again.snapshot()
	// The resumed stream starts with the whole entry at that version, the
	// event the client already had included; a client drops that one.
	for len(resumed) > 0 && resumed[0].RV == evs[cut].RV && slices.Contains(evs[:cut+1], resumed[0]) {
		resumed = resumed[1:]
	}
	require.NotEmpty(t, resumed)
	require.Equal(t, evs[cut+1], resumed[0],
		"resumed from resourceVersion %s, the watch skipped the rest of that entry: first event %s", evs[cut].RV, resumed[0])
}
