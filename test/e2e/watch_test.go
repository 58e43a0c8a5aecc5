package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/client"
)

// seenEvent is one watch event as a test records it.
type seenEvent struct {
	Type  apis.EventType
	Name  string
	RV    string
	Phase apis.RunPhase
}

func (e seenEvent) String() string { return fmt.Sprintf("%s %s@%s %s", e.Type, e.Name, e.RV, e.Phase) }

// rawWatcher follows GET /api/v1/runs?watch=true as NDJSON by hand: when a
// stream breaks (its node was killed) it resumes on another live node from
// the last resourceVersion it saw; on a 410 it relists and goes on from the
// list's version.
type rawWatcher struct {
	c        *cluster
	selector string

	mu        sync.Mutex
	events    []seenEvent
	gone      int             // 410s seen
	resumed   int             // streams re-opened
	resumedAt map[string]bool // resourceVersions streams were resumed from
	relists   []map[string]seenEvent
}

func (w *rawWatcher) run(ctx context.Context, n *node, rv string) {
	for ctx.Err() == nil {
		next, err := w.stream(ctx, n, rv)
		rv = next
		if ctx.Err() != nil {
			return
		}
		if err == errWatchGone {
			lctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			runs, listRV, lerr := listAll(lctx, w.c.anyClient(), w.selector)
			cancel()
			if lerr == nil {
				snap := map[string]seenEvent{}
				for _, r := range runs {
					snap[r.Metadata.Name] = seenEvent{Type: apis.Added, Name: r.Metadata.Name, RV: r.Metadata.ResourceVersion, Phase: r.Status.Phase}
				}
				w.mu.Lock()
				w.gone++
				w.relists = append(w.relists, snap)
				w.mu.Unlock()
				rv = listRV
			}
		}
		live := w.c.live()
		if len(live) > 0 {
			n = live[0]
		}
		w.mu.Lock()
		w.resumed++
		if w.resumedAt == nil {
			w.resumedAt = map[string]bool{}
		}
		w.resumedAt[rv] = true
		w.mu.Unlock()
		time.Sleep(200 * time.Millisecond) // back-off before reconnecting
	}
}

var errWatchGone = fmt.Errorf("410 Gone")

// stream reads one watch stream and returns the last version seen.
func (w *rawWatcher) stream(ctx context.Context, n *node, rv string) (string, error) {
	q := url.Values{"watch": {"true"}, "resourceVersion": {rv}, "labelSelector": {w.selector}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.url+"/api/v1/runs?"+q.Encode(), nil)
	if err != nil {
		return rv, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return rv, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusGone {
		return rv, errWatchGone
	}
	if resp.StatusCode != http.StatusOK {
		return rv, fmt.Errorf("watch: %s", resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		var ev struct {
			Type   apis.EventType  `json:"type"`
			Object json.RawMessage `json:"object"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return rv, err
		}
		if ev.Type == apis.Error {
			var st apis.Status
			_ = json.Unmarshal(ev.Object, &st)
			if st.Code == http.StatusGone {
				return rv, errWatchGone
			}
			return rv, &st
		}
		var r apis.Run
		if err := json.Unmarshal(ev.Object, &r); err != nil {
			return rv, err
		}
		if r.Metadata.ResourceVersion != "" {
			rv = r.Metadata.ResourceVersion
		}
		if ev.Type == apis.Bookmark {
			continue
		}
		se := seenEvent{Type: ev.Type, Name: r.Metadata.Name, RV: r.Metadata.ResourceVersion, Phase: r.Status.Phase}
		w.mu.Lock()
		// A stream resumed from a version several Runs share sends that
		// whole Raft entry again (duplicates, never a gap): drop what
		// this watcher already has, as a client does.
		if !w.seenLocked(se) {
			w.events = append(w.events, se)
		}
		w.mu.Unlock()
	}
	return rv, sc.Err()
}

// seenLocked reports whether ev is already among the events with its
// resourceVersion. Caller holds w.mu.
func (w *rawWatcher) seenLocked(ev seenEvent) bool {
	for i := len(w.events) - 1; i >= 0 && w.events[i].RV == ev.RV; i-- {
		if w.events[i] == ev {
			return true
		}
	}
	return false
}

func (w *rawWatcher) snapshot() ([]seenEvent, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]seenEvent(nil), w.events...), w.gone
}

// phaseRank orders phases: a Run's phase never goes back, except from
// Starting to Pending: when a leader recorded an attempt and died before
// its ACCEPT reached Mesos, the next leader learns from reconciliation that
// the task never existed and relaunches it (event NotLaunched).
func phaseRank(p apis.RunPhase) int {
	switch p {
	case "", apis.PhasePending, apis.PhaseStarting:
		return 0
	case apis.PhaseRunning:
		return 1
	}
	return 2
}

// checkOrdered fails when a Run's events go back in resourceVersion or
// phase, and returns the Runs whose phase went back.
func checkOrdered(t *testing.T, who string, evs []seenEvent) []string {
	t.Helper()
	last := map[string]seenEvent{}
	back := map[string]bool{}
	for _, ev := range evs {
		if prev, ok := last[ev.Name]; ok {
			assert.Less(t, rvNum(prev.RV), rvNum(ev.RV), "%s: %s after %s", who, ev, prev)
			if !assert.LessOrEqual(t, phaseRank(prev.Phase), phaseRank(ev.Phase), "%s: %s after %s", who, ev, prev) {
				back[ev.Name] = true
			}
		}
		last[ev.Name] = ev
	}
	var out []string
	for n := range back {
		out = append(out, n)
	}
	return out
}

func rvNum(rv string) uint64 {
	var n uint64
	_, _ = fmt.Sscan(rv, &n)
	return n
}

// Watches from one resourceVersion across a leader change: the SDK's
// Watcher on a surviving node, and a raw NDJSON watch on the leader that is
// killed (resumed on another node). Both see each Run's transitions in
// order up to Succeeded, and — unless the raw watch got a 410 and relisted
// — exactly the same events.
func TestWatch_AcrossLeaderChangeSeesEveryTransitionInOrder(t *testing.T) {
	began := time.Now()
	n := 30
	if longTests() {
		n = 300
	}
	c := startCluster(t, clusterOptions{sim: simOptions{agents: 2}})
	leader := c.leader()
	follower := c.followers()[0]
	_, rv0, err := listAll(t.Context(), follower.client, "")
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sdk, err := follower.client.Watch(ctx, client.WatchOptions{ResourceVersion: rv0, LabelSelector: "suite=watch"})
	require.NoError(t, err)
	defer sdk.Stop()
	var sdkMu sync.Mutex
	var sdkEvents []seenEvent
	go func() {
		for ev := range sdk.Events() {
			sdkMu.Lock()
			sdkEvents = append(sdkEvents, seenEvent{Type: ev.Type, Name: ev.Run.Metadata.Name, RV: ev.Run.Metadata.ResourceVersion, Phase: ev.Run.Status.Phase})
			sdkMu.Unlock()
		}
	}()
	raw := &rawWatcher{c: c, selector: "suite=watch"}
	var rawWG sync.WaitGroup
	rawWG.Add(1)
	go func() { defer rawWG.Done(); raw.run(ctx, leader, rv0) }()
	defer func() { cancel(); rawWG.Wait() }()

	var specs []*apis.Run
	for _, name := range runNames("w", n) {
		specs = append(specs, simRun(name, "watch", time.Second))
	}
	ap, done := c.applyConcurrently(t, specs)
	require.Eventually(t, func() bool { return ap.acked.Load() >= int64(n/2) }, 2*time.Minute, 20*time.Millisecond)
	c.kill9(leader)
	c.leader()
	c.restart(leader)
	<-done
	c.waitAllPhase(t, nil, "suite=watch", n, apis.PhaseSucceeded, 3*time.Minute)

	// Both watchers reach Succeeded for every Run.
	allSucceeded := func(evs []seenEvent, relisted map[string]seenEvent) bool {
		last := map[string]seenEvent{}
		for k, v := range relisted {
			last[k] = v
		}
		for _, ev := range evs {
			last[ev.Name] = ev
		}
		count := 0
		for _, ev := range last {
			if ev.Phase == apis.PhaseSucceeded {
				count++
			}
		}
		return count == n
	}
	require.Eventually(t, func() bool {
		sdkMu.Lock()
		defer sdkMu.Unlock()
		return allSucceeded(sdkEvents, nil)
	}, time.Minute, 100*time.Millisecond, "SDK watcher did not see every Run succeed")
	require.Eventually(t, func() bool {
		evs, _ := raw.snapshot()
		raw.mu.Lock()
		var relisted map[string]seenEvent
		if len(raw.relists) > 0 {
			relisted = raw.relists[len(raw.relists)-1]
		}
		raw.mu.Unlock()
		return allSucceeded(evs, relisted)
	}, time.Minute, 100*time.Millisecond, "raw watcher did not see every Run succeed")
	cancel()
	sdk.Stop()
	rawWG.Wait()

	sdkMu.Lock()
	defer sdkMu.Unlock()
	require.NoError(t, sdk.Err())
	back := checkOrdered(t, "sdk", sdkEvents)
	rawEvents, gone := raw.snapshot()
	checkOrdered(t, "raw", rawEvents)
	c.failRuns(t, nil, "Runs whose phase went back", back)
	t.Logf("sdk saw %d events; raw saw %d events, %d resumes, %d × 410", len(sdkEvents), len(rawEvents), raw.resumed, gone)
	for _, ev := range sdkEvents {
		require.NotEqual(t, apis.Deleted, ev.Type, "%s", ev)
	}
	if gone == 0 {
		// Same history, event for event: every transition, in order.
		missing := missingEvents(sdkEvents, rawEvents)
		raw.mu.Lock()
		midBatch := len(missing) > 0
		for _, ev := range missing {
			midBatch = midBatch && raw.resumedAt[ev.RV]
		}
		raw.mu.Unlock()
		require.False(t, midBatch, "the raw watch resumed from a resourceVersion several Runs share and lost the rest of that entry: %v", missing)
		require.Equal(t, joinEvents(sdkEvents), joinEvents(rawEvents))
	}
	t.Logf("total %v", time.Since(began).Round(time.Millisecond))
}

func joinEvents(evs []seenEvent) string {
	var b strings.Builder
	for _, ev := range evs {
		b.WriteString(ev.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// missingEvents returns the events of want that got lacks.
func missingEvents(want, got []seenEvent) []seenEvent {
	have := map[seenEvent]bool{}
	for _, ev := range got {
		have[ev] = true
	}
	var out []seenEvent
	for _, ev := range want {
		if !have[ev] {
			out = append(out, ev)
		}
	}
	return out
}
