package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/server"
	"github.com/sprint-project/sprint/server/servertest"
)

type wireEvent struct {
	Type   apis.EventType  `json:"type"`
	Object json.RawMessage `json:"object"`
}

func (e wireEvent) run(t *testing.T) apis.Run {
	t.Helper()
	var r apis.Run
	require.NoError(t, json.Unmarshal(e.Object, &r))
	return r
}

// openWatch starts a watch request and returns its decoded events. The
// stream is closed when the returned cancel is called.
func openWatch(t *testing.T, url string, header ...string) (*http.Response, <-chan wireEvent, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	events := make(chan wireEvent, 100)
	sse := strings.HasPrefix(resp.Header.Get("Content-Type"), server.MIMEEventStream)
	go func() {
		defer close(events)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			line := sc.Text()
			if sse {
				data, ok := strings.CutPrefix(line, "data: ")
				if !ok {
					continue
				}
				line = data
			}
			var ev wireEvent
			if json.Unmarshal([]byte(line), &ev) == nil {
				events <- ev
			}
		}
	}()
	return resp, events, cancel
}

func next(t *testing.T, events <-chan wireEvent) wireEvent {
	t.Helper()
	select {
	case ev, ok := <-events:
		require.True(t, ok, "stream ended")
		return ev
	case <-time.After(5 * time.Second):
		require.FailNow(t, "no watch event within 5s")
		return wireEvent{}
	}
}

// listed reads the BOOKMARK that ends a watch's initial listing.
func listed(t *testing.T, events <-chan wireEvent, rv string) {
	t.Helper()
	ev := next(t, events)
	require.Equal(t, apis.Bookmark, ev.Type)
	end := ev.run(t)
	assert.Equal(t, rv, end.Metadata.ResourceVersion)
	assert.Equal(t, "true", end.Metadata.Annotations[apis.InitialEventsEndAnnotation])
}

func TestWatch_NDJSONExistingThenLive(t *testing.T) {
	t.Parallel()
	srv := start(t, server.Config{})
	mustCreate(t, srv, "a")
	mustCreate(t, srv, "b", func(r *apis.Run) { r.Metadata.Labels["team"] = "ops" })

	resp, events, cancel := openWatch(t, srv.URL+"/api/v1/runs?watch=true&labelSelector=team%3Ddata")
	defer cancel()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, server.MIMENDJSON, resp.Header.Get("Content-Type"))

	ev := next(t, events)
	assert.Equal(t, apis.Added, ev.Type)
	assert.Equal(t, "a", ev.run(t).Metadata.Name, "b does not match the selector")
	listed(t, events, "2")

	require.NoError(t, srv.Store.SetStatus("b", apis.RunStatus{Phase: apis.PhaseRunning}))
	require.NoError(t, srv.Store.SetStatus("a", apis.RunStatus{Phase: apis.PhaseRunning}))
	ev = next(t, events)
	assert.Equal(t, apis.Modified, ev.Type)
	got := ev.run(t)
	assert.Equal(t, "a", got.Metadata.Name)
	assert.Equal(t, apis.PhaseRunning, got.Status.Phase)
	assert.Equal(t, apis.KindRun, got.Kind)

	require.Equal(t, http.StatusAccepted, call(t, "DELETE", srv.URL+"/api/v1/runs/a", "").code)
	ev = next(t, events)
	assert.Equal(t, apis.Modified, ev.Type)
	assert.NotNil(t, ev.run(t).Metadata.DeletionTimestamp)
	require.NoError(t, srv.Store.SetStatus("a", apis.RunStatus{Phase: apis.PhaseKilled}))
	ev = next(t, events)
	assert.Equal(t, apis.Deleted, ev.Type)
}

func TestWatch_ResumesFromResourceVersion(t *testing.T) {
	t.Parallel()
	srv := start(t, server.Config{})
	a := mustCreate(t, srv, "a")
	mustCreate(t, srv, "b")

	_, events, cancel := openWatch(t, srv.URL+"/api/v1/runs?watch=true&resourceVersion="+a.Metadata.ResourceVersion)
	defer cancel()
	ev := next(t, events)
	assert.Equal(t, apis.Added, ev.Type)
	assert.Equal(t, "b", ev.run(t).Metadata.Name, "only changes after the given version")
}

func TestWatch_ServerSentEvents(t *testing.T) {
	t.Parallel()
	srv := start(t, server.Config{})
	a := mustCreate(t, srv, "a")

	resp, events, cancel := openWatch(t, srv.URL+"/api/v1/runs?watch=1", "Accept", "text/event-stream")
	defer cancel()
	assert.Equal(t, server.MIMEEventStream, resp.Header.Get("Content-Type"))
	ev := next(t, events)
	assert.Equal(t, apis.Added, ev.Type)
	assert.Equal(t, "a", ev.run(t).Metadata.Name)

	// Last-Event-ID resumes as resourceVersion does.
	mustCreate(t, srv, "b")
	_, events2, cancel2 := openWatch(t, srv.URL+"/api/v1/runs?watch=1", "Accept", "text/event-stream", "Last-Event-ID", a.Metadata.ResourceVersion)
	defer cancel2()
	assert.Equal(t, "b", next(t, events2).run(t).Metadata.Name)
}

func TestWatch_SSEFraming(t *testing.T) {
	t.Parallel()
	srv := start(t, server.Config{})
	a := mustCreate(t, srv, "a")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/v1/runs?watch=true", nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	rd := bufio.NewReader(resp.Body)
	var lines []string
	for len(lines) < 7 {
		line, err := rd.ReadString('\n')
		require.NoError(t, err)
		lines = append(lines, strings.TrimSuffix(line, "\n"))
	}
	// The listing's Runs carry no id (resuming from one would miss
	// changes); its end BOOKMARK carries the listing's version.
	assert.Equal(t, "event: ADDED", lines[0])
	assert.True(t, strings.HasPrefix(lines[1], `data: {"type":"ADDED"`), lines[1])
	assert.Equal(t, "", lines[2])
	assert.Equal(t, "event: BOOKMARK", lines[3])
	assert.Equal(t, "id: "+a.Metadata.ResourceVersion, lines[4], "the list's version, a's being the newest")
	assert.True(t, strings.HasPrefix(lines[5], `data: {"type":"BOOKMARK"`), lines[5])
	assert.Equal(t, "", lines[6])
}

func TestWatch_TooOldGivesError410(t *testing.T) {
	t.Parallel()
	store := servertest.NewStore()
	store.HistorySize = 2
	srv := servertest.Start(t, server.Config{}, store, nil)
	for _, n := range []string{"a", "b", "c", "d"} {
		mustCreate(t, srv, n)
	}
	resp, events, cancel := openWatch(t, srv.URL+"/api/v1/runs?watch=true&resourceVersion=1")
	defer cancel()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	ev := next(t, events)
	require.Equal(t, apis.Error, ev.Type)
	var st apis.Status
	require.NoError(t, json.Unmarshal(ev.Object, &st))
	assert.Equal(t, http.StatusGone, st.Code)
	assert.Equal(t, "Status", st.Kind)
	_, open := <-events
	assert.False(t, open, "the stream ends after the ERROR event")
}

func TestWatch_BadResourceVersion(t *testing.T) {
	t.Parallel()
	srv := start(t, server.Config{})
	r := call(t, "GET", srv.URL+"/api/v1/runs?watch=true&resourceVersion=abc", "")
	require.Equal(t, http.StatusBadRequest, r.code)
	assert.Equal(t, "BadRequest", r.status(t).Reason)
}

// A watch from a version this node has not applied yet waits for it (the
// client may have read it from a node ahead of this one), and after 3 s
// answers 400 for a version the cluster never made, rather than a stream
// that would stay silent for ever.
func TestWatch_FutureResourceVersion(t *testing.T) {
	t.Parallel()
	srv := start(t, server.Config{})
	mustCreate(t, srv, "a")
	next1 := srv.Store.ResourceVersion() + 1
	go func() {
		time.Sleep(300 * time.Millisecond)
		mustCreate(t, srv, "b") // gets next1
		mustCreate(t, srv, "c")
	}()
	_, events, cancel := openWatch(t, fmt.Sprintf("%s/api/v1/runs?watch=true&resourceVersion=%d", srv.URL, next1))
	defer cancel()
	ev := next(t, events)
	assert.Equal(t, "c", ev.run(t).Metadata.Name, "changes after the awaited version")

	began := time.Now()
	r := call(t, "GET", srv.URL+"/api/v1/runs?watch=true&resourceVersion=999999999", "")
	require.Equal(t, http.StatusBadRequest, r.code, r.body)
	st := r.status(t)
	assert.Equal(t, "BadRequest", st.Reason)
	assert.Equal(t, fmt.Sprintf("resourceVersion 999999999 is newer than any change in this cluster (the latest is %d): list, and watch from the list's resourceVersion", srv.Store.ResourceVersion()), st.Message)
	assert.GreaterOrEqual(t, time.Since(began), 3*time.Second, "waited for it first")

	// The cluster has the version but this node lags: 504, retry.
	srv.Store.SetLag(10)
	ahead := srv.Store.ResourceVersion() + 5
	r = call(t, "GET", fmt.Sprintf("%s/api/v1/runs?watch=true&resourceVersion=%d", srv.URL, ahead), "")
	require.Equal(t, http.StatusGatewayTimeout, r.code, r.body)
	assert.Equal(t, "Timeout", r.status(t).Reason)
}

func TestWatch_Bookmarks(t *testing.T) {
	t.Parallel()
	srv := start(t, server.Config{BookmarkInterval: 20 * time.Millisecond})
	mustCreate(t, srv, "a")
	_, events, cancel := openWatch(t, srv.URL+"/api/v1/runs?watch=true")
	defer cancel()
	assert.Equal(t, apis.Added, next(t, events).Type)
	listed(t, events, "1")
	ev := next(t, events)
	require.Equal(t, apis.Bookmark, ev.Type)
	assert.Equal(t, "1", ev.run(t).Metadata.ResourceVersion)
	assert.Empty(t, ev.run(t).Metadata.Annotations, "a periodic bookmark")
}

func TestWatch_DisconnectFreesWatcher(t *testing.T) {
	t.Parallel()
	srv := start(t, server.Config{})
	mustCreate(t, srv, "a")
	_, events, cancel := openWatch(t, srv.URL+"/api/v1/runs?watch=true")
	next(t, events)
	require.NoError(t, srv.Store.WaitWatchers(waitCtx(t), 1))
	cancel()
	require.NoError(t, srv.Store.WaitWatchers(waitCtx(t), 0))
}

func TestWatch_CloseEndsStreams(t *testing.T) {
	t.Parallel()
	srv := start(t, server.Config{})
	_, events, cancel := openWatch(t, srv.URL+"/api/v1/runs?watch=true")
	defer cancel()
	listed(t, events, "0")
	require.Equal(t, 1, srv.Store.Watchers())
	require.NoError(t, srv.Close())
	select {
	case _, ok := <-events:
		assert.False(t, ok)
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end the watch stream")
	}
	assert.Equal(t, 0, srv.Store.Watchers())
}
