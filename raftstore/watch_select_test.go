package raftstore

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
)

// The Runs a selector test uses: the Run that changes, a Run the selector
// test always selects (so that a listing in chunks of one reads x before
// the change), a Run it never selects (to settle older events) and the
// last Run created (it tells that every earlier change was looked at).
const (
	selX      = "b-x"
	selY      = "c-y"
	selFill   = "e-fill"
	selMarker = "d-marker"
)

// relabel replaces a Run's labels with an update_run entry.
func relabel(t *testing.T, f *fsm, name string, labels map[string]string) {
	t.Helper()
	cur, err := f.getRun(name)
	require.NoError(t, err)
	next := cur.DeepCopy()
	next.Metadata.Labels = labels
	require.NoError(t, applyCmd(t, f, cmdUpdateRun, updateRunCmd{Run: *next}).Err)
}

// setPhase writes a Run's status with an update_status entry.
func setPhase(t *testing.T, f *fsm, name string, phase apis.RunPhase, msg string) {
	t.Helper()
	r := applyCmd(t, f, cmdUpdateStatus, updateStatusCmd{Update: statusEntry{Name: name, Status: apis.RunStatus{Phase: phase, Message: msg}}})
	require.NoError(t, r.Err)
}

func createLabeled(t *testing.T, f *fsm, name string, labels map[string]string) {
	t.Helper()
	r := testRun(name)
	r.Metadata.Labels = labels
	r.Status.Phase = apis.PhasePending // as the leader creates a Run
	require.NoError(t, applyCmd(t, f, cmdCreateRun, createRunCmd{Run: r}).Err)
}

// selEvent is what a test looks at in an event of x.
type selEvent struct {
	typ    apis.EventType
	labels map[string]string
	phase  apis.RunPhase
}

// A watch with a selector sees a Run that starts to match as ADDED, one
// that stops matching as DELETED (its state after the change, at the
// change's resourceVersion), one that matches before and after as
// MODIFIED, and nothing of one that matches neither before nor after
// (nor of its deletion) — as the Kubernetes API server's watch cache
// does. The same holds for a watch from now, one resuming from an older
// resourceVersion (also once the change has settled in the history), and
// the changes sent during and right after an initial listing.
func TestFeed_SelectorTransitions(t *testing.T) {
	data := map[string]string{"team": "data"}
	ml := map[string]string{"team": "ml"}
	ops := map[string]string{"team": "ops"}
	dataTier := map[string]string{"team": "data", "tier": "gold"}
	byTeam := func(r *apis.Run) bool { return r.Metadata.Labels["team"] == "data" }
	running := func(r *apis.Run) bool { return r.Status.Phase == apis.PhaseRunning }
	del := func(t *testing.T, f *fsm) {
		require.NoError(t, applyCmd(t, f, cmdDeleteRun, deleteRunCmd{Name: selX}).Err)
	}
	cases := []struct {
		name   string
		sel    func(*apis.Run) bool
		labels map[string]string // x's at creation
		phase  apis.RunPhase     // x's before the change (Pending when empty)
		change func(*testing.T, *fsm)
		want   []selEvent
	}{
		{"labels enter", byTeam, ml, "", func(t *testing.T, f *fsm) { relabel(t, f, selX, data) },
			[]selEvent{{apis.Added, data, apis.PhasePending}}},
		{"labels leave", byTeam, data, "", func(t *testing.T, f *fsm) { relabel(t, f, selX, ml) },
			[]selEvent{{apis.Deleted, ml, apis.PhasePending}}},
		{"labels stay", byTeam, data, "", func(t *testing.T, f *fsm) { relabel(t, f, selX, dataTier) },
			[]selEvent{{apis.Modified, dataTier, apis.PhasePending}}},
		{"labels never", byTeam, ml, "", func(t *testing.T, f *fsm) { relabel(t, f, selX, ops) }, nil},
		{"labels unchanged, phase changes", byTeam, data, "", func(t *testing.T, f *fsm) { setPhase(t, f, selX, apis.PhaseRunning, "") },
			[]selEvent{{apis.Modified, data, apis.PhaseRunning}}},
		{"labels delete matching", byTeam, data, "", del, []selEvent{{apis.Deleted, data, apis.PhasePending}}},
		{"labels delete not matching", byTeam, ml, "", del, nil},
		{"phase enter", running, data, "", func(t *testing.T, f *fsm) { setPhase(t, f, selX, apis.PhaseRunning, "") },
			[]selEvent{{apis.Added, data, apis.PhaseRunning}}},
		{"phase leave", running, data, apis.PhaseRunning, func(t *testing.T, f *fsm) { setPhase(t, f, selX, apis.PhaseSucceeded, "") },
			[]selEvent{{apis.Deleted, data, apis.PhaseSucceeded}}},
		{"phase stay", running, data, apis.PhaseRunning, func(t *testing.T, f *fsm) { setPhase(t, f, selX, apis.PhaseRunning, "still") },
			[]selEvent{{apis.Modified, data, apis.PhaseRunning}}},
		{"phase never", running, data, "", func(t *testing.T, f *fsm) { setPhase(t, f, selX, apis.PhaseStarting, "") }, nil},
		{"phase stays, labels change", running, data, apis.PhaseRunning, func(t *testing.T, f *fsm) { relabel(t, f, selX, ml) },
			[]selEvent{{apis.Modified, ml, apis.PhaseRunning}}},
		{"phase delete matching", running, data, apis.PhaseRunning, del, []selEvent{{apis.Deleted, data, apis.PhaseRunning}}},
		{"phase delete not matching", running, data, "", del, nil},
	}
	modes := []string{"live", "resume", "settled", "listing"}
	for _, tc := range cases {
		for _, mode := range modes {
			t.Run(tc.name+"/"+mode, func(t *testing.T) {
				f := newTestFSM(t)
				if mode == "settled" {
					f.hub.setBuffer(1)
				}
				createLabeled(t, f, selX, tc.labels)
				if tc.phase != "" {
					setPhase(t, f, selX, tc.phase, "")
				}
				createLabeled(t, f, selY, ops)
				match := func(r *apis.Run) bool {
					switch r.Metadata.Name {
					case selY, selMarker:
						return true
					case selFill:
						return false
					}
					return tc.sel(r)
				}
				var got []selEvent
				wantBefore := 0
				var feed *Feed
				var err error
				switch mode {
				case "live":
					feed, err = f.hub.feed(FeedOptions{Match: match}, nil)
				case "listing":
					// Chunks of one Run: x is listed, then the change
					// happens while y's chunk is still to be read.
					feed = listFeed(t, f, 1, match)
					for {
						ev := nextNow(t, feed)
						run, rerr := ev.Run()
						require.NoError(t, rerr)
						if run.Metadata.Name == selY {
							break
						}
						require.Equal(t, selX, run.Metadata.Name)
						got = append(got, selEvent{ev.Type, run.Metadata.Labels, run.Status.Phase})
					}
					x, gerr := f.getRun(selX)
					require.NoError(t, gerr)
					if tc.sel(x) {
						wantBefore = 1
					}
				}
				require.NoError(t, err)
				from := f.applied.Load()
				tc.change(t, f)
				changeRV := f.applied.Load()
				createLabeled(t, f, selFill, ops)
				createLabeled(t, f, selFill+"2", ops)
				createLabeled(t, f, selMarker, ops)
				switch mode {
				case "resume", "settled":
					feed, err = f.hub.feed(FeedOptions{ResourceVersion: from, Match: match}, nil)
					require.NoError(t, err)
				}
				if mode == "settled" {
					f.hub.mu.RLock()
					for i := range f.hub.n {
						re := f.hub.ring[(f.hub.seq-uint64(f.hub.n)+uint64(i))%uint64(len(f.hub.ring))]
						if re.index == changeRV {
							require.Nil(t, re.obj.full.Load(), "the change has settled")
						}
					}
					f.hub.mu.RUnlock()
				}
				for done := false; !done; {
					ev := nextNow(t, feed)
					if ev.Type == apis.Bookmark {
						continue
					}
					run, err := ev.Run()
					require.NoError(t, err)
					var obj apis.Run
					require.NoError(t, json.Unmarshal(ev.Object(), &obj))
					require.Equal(t, run.Metadata.ResourceVersion, obj.Metadata.ResourceVersion)
					switch run.Metadata.Name {
					case selMarker:
						done = true
					case selX:
						if ev.ResourceVersion != 0 {
							assert.Equal(t, changeRV, ev.ResourceVersion)
							assert.Equal(t, fmt.Sprint(changeRV), obj.Metadata.ResourceVersion, "an event carries its change's version")
						}
						got = append(got, selEvent{ev.Type, obj.Metadata.Labels, obj.Status.Phase})
					}
				}
				require.GreaterOrEqual(t, len(got), wantBefore)
				assert.Equal(t, tc.want, got[wantBefore:])
			})
		}
	}
}

// Settled events keep the labels a change replaced only when it replaced
// them, and what selectors saw before a change only when it changed it:
// a status write that keeps the phase, or an ADDED, keeps nothing more.
func TestHub_SettledEventsKeepWhatSelectorsSawBefore(t *testing.T) {
	f := newTestFSM(t)
	f.hub.setBuffer(1)
	createLabeled(t, f, selX, map[string]string{"team": "data"})       // 1
	setPhase(t, f, selX, apis.PhaseRunning, "")                        // 2: phase
	setPhase(t, f, selX, apis.PhaseRunning, "still")                   // 3: neither
	relabel(t, f, selX, map[string]string{"team": "ml"})               // 4: labels
	createLabeled(t, f, selFill, map[string]string{"team": "ops"})     // 5
	createLabeled(t, f, selFill+"2", map[string]string{"team": "ops"}) // 6
	f.hub.mu.RLock()
	defer f.hub.mu.RUnlock()
	byIndex := map[uint64]*sharedRun{}
	for i := range f.hub.n {
		re := f.hub.ring[(f.hub.seq-uint64(f.hub.n)+uint64(i))%uint64(len(f.hub.ring))]
		byIndex[re.index] = re.obj
	}
	for i := uint64(1); i <= 4; i++ {
		require.Nil(t, byIndex[i].full.Load(), "event %d settled", i)
	}
	assert.Nil(t, byIndex[1].prior, "an ADDED keeps nothing of before")
	if assert.NotNil(t, byIndex[2].prior) {
		assert.Equal(t, apis.PhasePending, byIndex[2].prior.phase)
		assert.False(t, byIndex[2].prior.relabeled, "the labels did not change")
		assert.Nil(t, byIndex[2].prior.labels)
	}
	assert.Nil(t, byIndex[3].prior, "a change selectors cannot see keeps nothing")
	if assert.NotNil(t, byIndex[4].prior) {
		assert.Equal(t, apis.PhaseRunning, byIndex[4].prior.phase)
		assert.True(t, maps.Equal(map[string]string{"team": "data"}, byIndex[4].prior.labels))
	}
}

// The Schedules' watch follows the same rule for their labels, from now,
// resuming and after an initial listing.
func TestScheduleFeed_SelectorTransitions(t *testing.T) {
	data := map[string]string{"team": "data"}
	ml := map[string]string{"team": "ml"}
	ops := map[string]string{"team": "ops"}
	dataTier := map[string]string{"team": "data", "tier": "gold"}
	relabelSchedule := func(labels map[string]string) func(*testing.T, *fsm) {
		return func(t *testing.T, f *fsm) {
			cur, err := f.getSchedule(selX)
			require.NoError(t, err)
			next := cur.DeepCopy()
			next.Metadata.Labels = labels
			require.NoError(t, applyCmd(t, f, cmdUpdateSchedule, updateScheduleCmd{Schedule: *next}).Err)
		}
	}
	del := func(t *testing.T, f *fsm) {
		require.NoError(t, applyCmd(t, f, cmdDeleteSchedule, deleteScheduleCmd{Name: selX}).Err)
	}
	cases := []struct {
		name   string
		labels map[string]string
		change func(*testing.T, *fsm)
		want   []apis.EventType
		after  map[string]string // the labels the event carries
	}{
		{"enter", ml, relabelSchedule(data), []apis.EventType{apis.Added}, data},
		{"leave", data, relabelSchedule(ml), []apis.EventType{apis.Deleted}, ml},
		{"stay", data, relabelSchedule(dataTier), []apis.EventType{apis.Modified}, dataTier},
		{"never", ml, relabelSchedule(ops), nil, nil},
		{"delete matching", data, del, []apis.EventType{apis.Deleted}, data},
		{"delete not matching", ml, del, nil, nil},
	}
	match := func(s *apis.Schedule) bool {
		return s.Metadata.Name == selMarker || s.Metadata.Labels["team"] == "data"
	}
	for _, tc := range cases {
		for _, mode := range []string{"live", "resume", "listing"} {
			t.Run(tc.name+"/"+mode, func(t *testing.T) {
				f := newTestFSM(t)
				s := testSchedule(selX)
				s.Metadata.Labels = tc.labels
				require.NoError(t, applyCmd(t, f, cmdCreateSchedule, createScheduleCmd{Schedule: s}).Err)
				from := f.applied.Load()
				var feed *ScheduleFeed
				var err error
				wantBefore := 0
				if mode != "resume" {
					feed, err = f.schedHub.feed(f, ScheduleFeedOptions{List: mode == "listing", Match: match})
					require.NoError(t, err)
					if mode == "listing" && maps.Equal(tc.labels, data) {
						wantBefore = 1
					}
				}
				tc.change(t, f)
				changeRV := f.applied.Load()
				require.NoError(t, applyCmd(t, f, cmdCreateSchedule, createScheduleCmd{Schedule: testSchedule(selMarker)}).Err)
				if mode == "resume" {
					feed, err = f.schedHub.feed(f, ScheduleFeedOptions{ResourceVersion: from, Match: match})
					require.NoError(t, err)
				}
				var got []apis.EventType
				for done := false; !done; {
					ev, ok, err := feed.Next()
					require.NoError(t, err)
					require.True(t, ok, "no event pending")
					if ev.Type == apis.Bookmark {
						continue
					}
					var obj apis.Schedule
					require.NoError(t, json.Unmarshal(ev.Object, &obj))
					switch obj.Metadata.Name {
					case selMarker:
						done = true
					case selX:
						got = append(got, ev.Type)
						if ev.ResourceVersion != 0 {
							assert.Equal(t, changeRV, ev.ResourceVersion)
							assert.Equal(t, tc.after, obj.Metadata.Labels)
						}
					}
				}
				require.GreaterOrEqual(t, len(got), wantBefore)
				assert.Equal(t, tc.want, got[wantBefore:])
			})
		}
	}
}

// selView plays a selector watch's events on a client's view of the Runs
// (name → resourceVersion): ADDED only for a Run the client does not
// have (but during a listing, which may show a Run and then its change),
// MODIFIED and DELETED only for one it has.
func selView(t *testing.T, view map[string]string, ev Event, listing bool) {
	t.Helper()
	var obj apis.Run
	require.NoError(t, json.Unmarshal(ev.Object(), &obj))
	name, rv := obj.Metadata.Name, obj.Metadata.ResourceVersion
	old, ok := view[name]
	switch ev.Type {
	case apis.Added:
		require.True(t, !ok || listing, "ADDED %s@%s, which the client has @%s", name, rv, old)
	case apis.Modified, apis.Deleted:
		require.True(t, ok, "%s %s@%s, which the client does not have", ev.Type, name, rv)
		require.Less(t, rvNum(old), rvNum(rv), "%s %s@%s after @%s", ev.Type, name, rv, old)
	}
	if ev.Type == apis.Deleted {
		delete(view, name)
		return
	}
	view[name] = rv
}

// With random creates, deletes, relabels and phase changes, a client that
// applies a selector watch's events holds exactly the Runs that match
// now, each at its current version — whether the watch listed first (in
// chunks read between the writes), watched from the start, or resumed
// from the start once every change had settled in the history.
func TestFeed_SelectorViewFollowsTheStore(t *testing.T) {
	match := func(r *apis.Run) bool {
		return r.Metadata.Labels["sel"] == "in" && r.Status.Phase != apis.PhaseSucceeded
	}
	matching := func(t *testing.T, f *fsm) map[string]string {
		out := map[string]string{}
		_, err := f.scanRuns(nil, func(r *apis.Run) (bool, error) {
			if match(r) {
				out[r.Metadata.Name] = r.Metadata.ResourceVersion
			}
			return true, nil
		})
		require.NoError(t, err)
		return out
	}
	drain := func(t *testing.T, feed *Feed, view map[string]string) {
		for {
			ev, ok, err := feed.Next()
			require.NoError(t, err)
			if !ok {
				return
			}
			if ev.Type != apis.Bookmark {
				selView(t, view, ev, false)
			}
		}
	}
	for seed := range uint64(20) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 2))
			f := newTestFSM(t)
			f.hub.setBuffer(8) // all but the newest 8 changes settle
			labels := []map[string]string{{"sel": "in"}, {"sel": "out"}, nil}
			phases := []apis.RunPhase{apis.PhasePending, apis.PhaseRunning, apis.PhaseSucceeded}
			write := func() {
				name := fmt.Sprintf("r%02d", rng.IntN(30))
				if _, err := f.getRun(name); err != nil {
					createLabeled(t, f, name, labels[rng.IntN(len(labels))])
					return
				}
				switch rng.IntN(4) {
				case 0:
					require.NoError(t, applyCmd(t, f, cmdDeleteRun, deleteRunCmd{Name: name}).Err)
				case 1:
					l := labels[rng.IntN(len(labels))]
					if cur, _ := f.getRun(name); !maps.Equal(cur.Metadata.Labels, l) {
						relabel(t, f, name, l)
					}
				default:
					setPhase(t, f, name, phases[rng.IntN(len(phases))], fmt.Sprint(rng.IntN(3)))
				}
			}
			for range 20 {
				write()
			}
			from := f.applied.Load()
			live, err := f.hub.feed(FeedOptions{Match: match}, nil)
			require.NoError(t, err)
			live.limit = math.MaxUint64
			liveView := matching(t, f)
			resumedView := maps.Clone(liveView)
			listing, err := f.hub.feed(FeedOptions{List: true, Match: match}, f.chunkReader(1+rng.IntN(4), 1<<20))
			require.NoError(t, err)
			listing.limit = math.MaxUint64
			listView := map[string]string{}
			listed := false
			for range 200 { // about 70 writes: the history (100) keeps them all
				if rng.IntN(3) == 0 {
					write()
					continue
				}
				ev, ok, err := listing.Next()
				require.NoError(t, err)
				if !ok {
					continue
				}
				if ev.Type == apis.Bookmark {
					listed = true
					continue
				}
				selView(t, listView, ev, !listed)
			}
			drain(t, listing, listView)
			drain(t, live, liveView)
			want := matching(t, f)
			assert.Equal(t, want, listView, "after a listing")
			assert.Equal(t, want, liveView, "from the start")

			// Most of these changes have settled: the feed decides on
			// what the history kept of them.
			resumed, err := f.hub.feed(FeedOptions{ResourceVersion: from, Match: match}, nil)
			require.NoError(t, err)
			drain(t, resumed, resumedView)
			assert.Equal(t, want, resumedView, "resumed over settled changes")
		})
	}
}
