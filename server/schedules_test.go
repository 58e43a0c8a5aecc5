package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/internal/hostile"
	"github.com/sprint-project/sprint/raftstore"
	"github.com/sprint-project/sprint/server"
	"github.com/sprint-project/sprint/server/servertest"
)

// startScheduleNode serves the API, Schedules included, over a real
// single-node raftstore. now is the server's clock (nil: time.Now).
func startScheduleNode(t *testing.T, now func() time.Time) (*raftstore.Store, string) {
	t.Helper()
	srv := servertest.StartRaft(t, server.Config{Now: now})
	return srv.Store, srv.URL
}

func scheduleJSON(name string, mutate ...func(*apis.Schedule)) string {
	s := apis.Schedule{
		TypeMeta: apis.TypeMeta{APIVersion: apis.APIVersion, Kind: apis.KindSchedule},
		Metadata: apis.ObjectMeta{Name: name, Labels: map[string]string{"team": "data"}},
		Spec: apis.ScheduleSpec{
			Schedule: "30 2 * * *", TimeZone: "Europe/Berlin", Parallelism: 2,
			RunTemplate: apis.RunTemplate{Spec: apis.RunSpec{Command: "etl", Cpus: 0.1, Mem: 32}},
		},
	}
	for _, m := range mutate {
		m(&s)
	}
	b, _ := json.Marshal(s)
	return string(b)
}

func (r reply) schedule(t *testing.T) *apis.Schedule {
	t.Helper()
	var s apis.Schedule
	require.NoError(t, json.Unmarshal(r.body, &s), "body: %s", r.body)
	require.Equal(t, apis.KindSchedule, s.Kind, "body: %s", r.body)
	return &s
}

func causeFields(st *apis.Status) []string {
	var out []string
	if st.Details != nil {
		for _, c := range st.Details.Causes {
			out = append(out, c.Field)
		}
	}
	return out
}

func TestSchedules_RESTConventions(t *testing.T) {
	t.Parallel()
	_, url := startScheduleNode(t, nil)
	base := url + "/api/v1/schedules"

	// dryRun stores nothing.
	r := call(t, "POST", base+"?dryRun=true", scheduleJSON("etl"))
	require.Equal(t, http.StatusCreated, r.code, "%s", r.body)
	assert.Equal(t, int32(3), *r.schedule(t).Spec.SuccessfulRunsHistoryLimit, "defaults are shown")
	assert.Equal(t, http.StatusNotFound, call(t, "GET", base+"/etl", "").code)

	r = call(t, "POST", base, scheduleJSON("etl"))
	require.Equal(t, http.StatusCreated, r.code, "%s", r.body)
	created := r.schedule(t)
	assert.NotEmpty(t, created.Metadata.UID)
	assert.Equal(t, http.StatusConflict, call(t, "POST", base, scheduleJSON("etl")).status(t).Code)

	r = call(t, "GET", base+"/etl", "")
	require.Equal(t, http.StatusOK, r.code)
	assert.Equal(t, created.Metadata.UID, r.schedule(t).Metadata.UID)
	assert.Equal(t, "NotFound", call(t, "GET", base+"/nope", "").status(t).Reason)

	// 422 with field paths; 400 with the path of an unknown field.
	st := call(t, "POST", base, scheduleJSON("bad", func(s *apis.Schedule) {
		s.Spec.TimeZone = "Mars/Olympus"
		s.Spec.RunTemplate.Spec.Cpus = 0
	})).status(t)
	assert.Equal(t, http.StatusUnprocessableEntity, int(st.Code))
	assert.Equal(t, []string{"spec.timeZone", "spec.runTemplate.spec.cpus"}, causeFields(st))
	st = call(t, "POST", base, `{"apiVersion":"sprint/v1","kind":"Schedule","metadata":{"name":"x"},"spec":{"intervall":"1m"}}`).status(t)
	assert.Equal(t, http.StatusBadRequest, int(st.Code))
	assert.Equal(t, []string{"spec.intervall"}, causeFields(st))
	st = call(t, "POST", base, runJSON("a-run")).status(t)
	assert.Equal(t, http.StatusBadRequest, int(st.Code), "a Run is not a Schedule")
	// The admission policy applies to the template: 403 with the field.
	st = call(t, "POST", base, scheduleJSON("priv", func(s *apis.Schedule) {
		s.Spec.RunTemplate.Spec.Container = &apis.Container{Type: "DOCKER", Docker: &apis.DockerInfo{Image: "a",
			Parameters: []apis.Parameter{{Key: "privileged", Value: "true"}}}}
	})).status(t)
	assert.Equal(t, http.StatusForbidden, int(st.Code))
	assert.Equal(t, []string{"spec.runTemplate.spec.container.docker.parameters[0]"}, causeFields(st))

	// PUT: unchanged, configured (the whole spec is mutable), preconditions.
	r = call(t, "PUT", base+"/etl", scheduleJSON("etl"))
	require.Equal(t, http.StatusOK, r.code, "%s", r.body)
	assert.Equal(t, server.ApplyUnchanged, r.header.Get(server.HeaderApplyResult))
	r = call(t, "PUT", base+"/etl", scheduleJSON("etl", func(s *apis.Schedule) {
		s.Spec.Schedule, s.Spec.TimeZone, s.Spec.Interval = "", "", "90s"
		s.Status.MissedFirings = 99 // not writable here
	}))
	require.Equal(t, http.StatusOK, r.code, "%s", r.body)
	assert.Equal(t, server.ApplyConfigured, r.header.Get(server.HeaderApplyResult))
	upd := r.schedule(t)
	assert.Equal(t, "90s", upd.Spec.Interval)
	assert.Equal(t, int64(2), upd.Metadata.Generation)
	assert.Zero(t, upd.Status.MissedFirings, "status is not written through the main resource")
	st = call(t, "PUT", base+"/etl", scheduleJSON("etl", func(s *apis.Schedule) {
		s.Metadata.ResourceVersion = created.Metadata.ResourceVersion
		s.Spec.Parallelism = 3
	})).status(t)
	assert.Equal(t, http.StatusConflict, int(st.Code), "a stale resourceVersion is a conflict")
	r = call(t, "PUT", base+"/other?dryRun=true", scheduleJSON("other"))
	require.Equal(t, http.StatusCreated, r.code)
	assert.Equal(t, http.StatusNotFound, call(t, "GET", base+"/other", "").code)
	assert.Equal(t, http.StatusBadRequest, call(t, "PUT", base+"/other", scheduleJSON("etl")).code, "name mismatch")

	// YAML bodies.
	yaml := "apiVersion: sprint/v1\nkind: Schedule\nmetadata: {name: from-yaml}\nspec:\n  schedule: '@hourly'\n  runTemplate: {spec: {command: x, cpus: 0.1, mem: 8}}\n"
	r = call(t, "PUT", base+"/from-yaml", yaml, "Content-Type", "application/yaml")
	require.Equal(t, http.StatusCreated, r.code, "%s", r.body)

	// Lists with selectors.
	r = call(t, "GET", base+"?labelSelector=team%3Ddata", "")
	require.Equal(t, http.StatusOK, r.code)
	var list apis.ScheduleList
	require.NoError(t, json.Unmarshal(r.body, &list))
	assert.Equal(t, apis.KindScheduleList, list.Kind)
	require.Len(t, list.Items, 1)
	assert.Equal(t, "etl", list.Items[0].Metadata.Name)
	assert.NotEmpty(t, list.Metadata.ResourceVersion)
	r = call(t, "GET", base+"?limit=1", "")
	require.NoError(t, json.Unmarshal(r.body, &list))
	require.Len(t, list.Items, 1)
	require.NotEmpty(t, list.Metadata.Continue)
	r = call(t, "GET", base+"?limit=1&continue="+list.Metadata.Continue, "")
	require.NoError(t, json.Unmarshal(r.body, &list))
	assert.Equal(t, "from-yaml", list.Items[0].Metadata.Name)
	assert.Equal(t, http.StatusBadRequest, call(t, "GET", base+"?fieldSelector=status.phase%3DRunning", "").code)
	assert.Equal(t, http.StatusBadRequest, call(t, "GET", base+"?labelSelector=%3D%3D", "").code)

	// The schema is served without a token.
	r = call(t, "GET", url+"/schemas/schedule.json", "")
	require.Equal(t, http.StatusOK, r.code)
	assert.Contains(t, string(r.body), "schedule.json")
}

func TestSchedules_FireNowCascadeAndOrphan(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	store, url := startScheduleNode(t, func() time.Time { return now })
	base := url + "/api/v1/schedules"
	for _, name := range []string{"cascade", "orphan"} {
		require.Equal(t, http.StatusCreated, call(t, "POST", base, scheduleJSON(name)).code)
	}
	r := call(t, "POST", base+"/cascade/runs?dryRun=true", "")
	require.Equal(t, http.StatusCreated, r.code, "%s", r.body)
	r = call(t, "POST", base+"/cascade/runs", "")
	require.Equal(t, http.StatusCreated, r.code, "%s", r.body)
	var fired apis.RunList
	require.NoError(t, json.Unmarshal(r.body, &fired))
	require.Len(t, fired.Items, 2, "parallelism Runs")
	assert.Regexp(t, "^cascade-m"+apis.NewManualFiringID(now)[:7]+"[a-z0-9]{4}-0$", fired.Items[0].Metadata.Name)
	for _, run := range fired.Items {
		assert.Equal(t, "cascade", run.Metadata.Labels[apis.LabelSchedule])
		assert.Equal(t, "Schedule", apis.ControllerOf(&run.Metadata).Kind)
	}
	r = call(t, "POST", base+"/cascade/runs", "")
	require.Equal(t, http.StatusCreated, r.code, "the same second again is another firing: %s", r.body)
	var again apis.RunList
	require.NoError(t, json.Unmarshal(r.body, &again))
	require.Len(t, again.Items, 2)
	assert.NotEqual(t, fired.Items[0].Metadata.Name, again.Items[0].Metadata.Name)
	fired.Items = append(fired.Items, again.Items...)
	sc := call(t, "GET", base+"/cascade", "").schedule(t)
	assert.Nil(t, sc.Status.LastScheduleTime, "a manual firing does not move lastScheduleTime")
	r = call(t, "GET", base+"/cascade/events", "")
	require.Equal(t, http.StatusOK, r.code)
	assert.Contains(t, string(r.body), `"reason":"Fired"`)
	now = now.Add(time.Second)
	r = call(t, "POST", base+"/orphan/runs", "")
	require.Equal(t, http.StatusCreated, r.code)
	var orphaned apis.RunList
	require.NoError(t, json.Unmarshal(r.body, &orphaned))
	require.Len(t, orphaned.Items, 2)
	// A Run of the same label but not owned by the Schedule stays.
	require.Equal(t, http.StatusCreated, call(t, "POST", url+"/api/v1/runs", runJSON("bystander", func(r *apis.Run) {
		r.Metadata.Labels = map[string]string{apis.LabelSchedule: "cascade"}
	})).code)

	assert.Equal(t, http.StatusBadRequest, call(t, "DELETE", base+"/cascade?propagationPolicy=Sometimes", "").code)
	r = call(t, "DELETE", base+"/cascade", "")
	require.Equal(t, http.StatusOK, r.code, "%s", r.body)
	ctx := t.Context()
	for _, run := range fired.Items {
		_, err := store.GetRun(ctx, run.Metadata.Name)
		assert.ErrorIs(t, err, apis.ErrNotFound, "cascade deletes the Schedule's Runs")
	}
	_, err := store.GetRun(ctx, "bystander")
	assert.NoError(t, err)
	assert.Equal(t, http.StatusNotFound, call(t, "GET", base+"/cascade", "").code)

	r = call(t, "DELETE", base+"/orphan?propagationPolicy=Orphan", "")
	require.Equal(t, http.StatusOK, r.code, "%s", r.body)
	run, err := store.GetRun(ctx, orphaned.Items[1].Metadata.Name)
	require.NoError(t, err, "orphaned Runs stay")
	assert.Empty(t, run.Metadata.OwnerReferences, "and lose the owner reference, as Kubernetes does")
	assert.Equal(t, "orphan", run.Metadata.Labels[apis.LabelSchedule], "but keep the label")
	assert.Equal(t, http.StatusNotFound, call(t, "DELETE", base+"/orphan", "").code)
}

func TestSchedules_Watch(t *testing.T) {
	t.Parallel()
	_, url := startScheduleNode(t, nil)
	base := url + "/api/v1/schedules"
	require.Equal(t, http.StatusCreated, call(t, "POST", base, scheduleJSON("first")).code)

	for _, sse := range []bool{false, true} {
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		req, err := http.NewRequestWithContext(ctx, "GET", base+"?watch=true&labelSelector=team%3Ddata", nil)
		require.NoError(t, err)
		if sse {
			req.Header.Set("Accept", server.MIMEEventStream)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		sc := bufio.NewScanner(resp.Body)
		next := func() apis.WatchEvent {
			for sc.Scan() {
				line := sc.Text()
				if sse {
					var ok bool
					if line, ok = strings.CutPrefix(line, "data: "); !ok {
						continue
					}
				}
				if line == "" {
					continue
				}
				var ev struct {
					Type   apis.EventType `json:"type"`
					Object apis.Schedule  `json:"object"`
				}
				require.NoError(t, json.Unmarshal([]byte(line), &ev), line)
				return apis.WatchEvent{Type: ev.Type, Object: &ev.Object}
			}
			t.Fatalf("stream ended: %v", sc.Err())
			return apis.WatchEvent{}
		}
		ev := next()
		assert.Equal(t, apis.Added, ev.Type)
		assert.Equal(t, "first", ev.Object.(*apis.Schedule).Metadata.Name)
		ev = next()
		assert.Equal(t, apis.Bookmark, ev.Type)
		assert.Equal(t, "true", ev.Object.(*apis.Schedule).Metadata.Annotations[apis.InitialEventsEndAnnotation])
		name := "second"
		if sse {
			name = "third"
		}
		require.Equal(t, http.StatusCreated, call(t, "POST", base, scheduleJSON("unlabelled-"+name, func(s *apis.Schedule) { s.Metadata.Labels = nil })).code)
		require.Equal(t, http.StatusCreated, call(t, "POST", base, scheduleJSON(name)).code)
		ev = next()
		assert.Equal(t, apis.Added, ev.Type)
		assert.Equal(t, name, ev.Object.(*apis.Schedule).Metadata.Name, "the selector filters the stream")
		require.Equal(t, http.StatusOK, call(t, "DELETE", base+"/"+name, "").code)
		ev = next()
		assert.Equal(t, apis.Deleted, ev.Type)
		resp.Body.Close()
		cancel()
	}
}

// The rolling-upgrade gate over HTTP: a member that joined without a
// store level (a binary without Schedules) holds back Schedule writes
// with a 503 naming it; once it reports its level (a join carrying it),
// they go through.
func TestSchedules_RollingUpgradeGate(t *testing.T) {
	t.Parallel()
	store, url := startScheduleNode(t, nil)
	join := func(level string) reply {
		body := `{"id":"n1","raftAddr":"` + store.RaftAddr() + `","httpAddr":"` + url + `"` + level + `}`
		return call(t, "POST", url+"/api/v1/cluster/members", body)
	}
	r := join("") // what today's binary sends
	require.Equal(t, http.StatusCreated, r.code, "%s", r.body)
	st := call(t, "POST", url+"/api/v1/schedules", scheduleJSON("etl")).status(t)
	assert.Equal(t, http.StatusServiceUnavailable, int(st.Code))
	assert.Contains(t, st.Message, "cluster not fully upgraded: node n1 runs a binary without Schedules")
	assert.Equal(t, http.StatusCreated, call(t, "POST", url+"/api/v1/runs", runJSON("still-fine")).code, "Runs are not held back")

	assert.Equal(t, http.StatusUnprocessableEntity, join(`,"storeLevel":-1`).code)
	require.Equal(t, http.StatusCreated, join(`,"storeLevel":`+strconv.Itoa(raftstore.StoreLevel)).code)
	assert.Equal(t, http.StatusCreated, call(t, "POST", url+"/api/v1/schedules", scheduleJSON("etl")).code)
}

// TestHostileBodies_Schedules sends the hostile shapes to the Schedule
// endpoints (over a real store): each is refused with a 400 within the
// budget — a valid Run is not a Schedule — and nothing is stored.
func TestHostileBodies_Schedules(t *testing.T) {
	srv := servertest.StartRaft(t, server.Config{})
	putToo := map[string]bool{"json-deep-arrays": true, "json-deep-labels": true, "yaml-billion-laughs": true, "json-many-objects": true}
	for _, sh := range hostile.Shapes(hostile.MaxJSON, hostile.MaxYAML) {
		for _, ep := range []struct{ method, path string }{
			{"POST", "/api/v1/schedules"},
			{"PUT", "/api/v1/schedules/hostile"},
		} {
			if ep.method == "PUT" && !putToo[sh.Name] {
				continue
			}
			t.Run(sh.Name+"/"+ep.method, func(t *testing.T) {
				ct := "application/json"
				if sh.YAML {
					ct = "application/yaml"
				}
				r, c := send(t, ep.method, srv.URL+ep.path, sh.Body, ct, nil)
				checkCost(t, c)
				require.Equal(t, http.StatusBadRequest, r.code, "%.300s", r.body)
				assert.LessOrEqual(t, len(r.status(t).Message), 1100, "messages are clipped")
			})
		}
	}
	list, err := srv.Store.ListSchedules(t.Context(), raftstore.ScheduleListOptions{})
	require.NoError(t, err)
	assert.Empty(t, list.Items)
}

// A template may not set sprint/cancel-reason nor fill the annotations a
// Replace firing adds to: 422 with the field. A Schedule stored before
// these rules (here: through the store) is still updated while its
// template's annotations stay as they are.
func TestSchedules_TemplateAnnotationsLeaveRoomForReplaced(t *testing.T) {
	t.Parallel()
	store, url := startScheduleNode(t, nil)
	base := url + "/api/v1/schedules"
	full := map[string]string{"a": strings.Repeat("v", apis.MaxAnnotationsBytes-1)}
	withAnn := func(ann map[string]string) func(*apis.Schedule) {
		return func(s *apis.Schedule) { s.Spec.RunTemplate.Metadata.Annotations = ann }
	}

	for name, ann := range map[string]map[string]string{
		"spec.runTemplate.metadata.annotations[sprint/cancel-reason]": {apis.AnnotationCancelReason: apis.ReasonReplaced},
		"spec.runTemplate.metadata.annotations":                       full,
	} {
		st := call(t, "POST", base, scheduleJSON("tpl", withAnn(ann))).status(t)
		assert.Equal(t, http.StatusUnprocessableEntity, int(st.Code), "%s", st.Message)
		assert.Equal(t, []string{name}, causeFields(st))
	}

	var old apis.Schedule
	require.NoError(t, json.Unmarshal([]byte(scheduleJSON("old", withAnn(full))), &old))
	apis.SetScheduleDefaults(&old)
	_, err := store.CreateSchedule(context.Background(), &old)
	require.NoError(t, err)
	r := call(t, "PUT", base+"/old", scheduleJSON("old", withAnn(full), func(s *apis.Schedule) { s.Spec.Suspend = true }))
	require.Equal(t, http.StatusOK, r.code, "%s", r.body)
	assert.True(t, r.schedule(t).Spec.Suspend)
	// Changed, still within the Runs' limit but not the template's.
	changed := map[string]string{"b": full["a"][1:]}
	st := call(t, "PUT", base+"/old", scheduleJSON("old", withAnn(changed))).status(t)
	assert.Equal(t, http.StatusUnprocessableEntity, int(st.Code), "%s", st.Message)
	assert.Equal(t, []string{"spec.runTemplate.metadata.annotations"}, causeFields(st))
}
