package server

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/sprint-project/sprint/apis"
)

// ScheduleStore is what the server needs for the Schedule kind; the
// raftstore.Store satisfies it through internal/wiring. Its errors match
// the apis sentinels as Store's do; a write the cluster cannot take yet
// during a rolling upgrade matches apis.ErrUnavailable (503).
type ScheduleStore interface {
	// CreateSchedule stores a new Schedule (defaulted and validated).
	CreateSchedule(ctx context.Context, s *apis.Schedule) (*apis.Schedule, error)
	// UpdateSchedule replaces labels, annotations and spec; a
	// resourceVersion or uid in s.Metadata is a precondition.
	UpdateSchedule(ctx context.Context, s *apis.Schedule) (*apis.Schedule, error)
	// DeleteSchedule deletes it; ref's uid and resourceVersion, when set,
	// are preconditions. Its Runs are the server's to delete or orphan.
	DeleteSchedule(ctx context.Context, ref apis.RunRef) (*apis.Schedule, error)
	// GetSchedule reads the local applied state.
	GetSchedule(ctx context.Context, name string) (*apis.Schedule, error)
	// ListSchedules lists the local applied state in name order.
	ListSchedules(ctx context.Context, opts ScheduleListOptions) (*apis.ScheduleList, error)
	// WatchSchedules streams Schedule changes of the local applied state.
	WatchSchedules(ctx context.Context, opts ScheduleWatchOptions) (Watcher, error)
	// ScheduleEvents returns a Schedule's recent events, oldest first.
	ScheduleEvents(ctx context.Context, name string) ([]apis.RunEvent, error)
	// FireScheduleNow creates runs of the Schedule ref names in one entry
	// (ref's uid a precondition) without touching its status, appending
	// events to its history.
	FireScheduleNow(ctx context.Context, ref apis.RunRef, runs []apis.Run, events []apis.RunEvent) ([]apis.Run, error)
	// ReleaseRuns removes the owner reference with ownerUID from the
	// named Runs (orphaning them).
	ReleaseRuns(ctx context.Context, ownerUID string, names []string) error
	// SchedulesWritable tells from this node's state whether the cluster
	// takes Schedule writes: an error matching apis.ErrUnavailable while
	// a member runs a binary without Schedules (a rolling upgrade).
	SchedulesWritable() error
}

// ScheduleListOptions selects and pages a list of Schedules.
type ScheduleListOptions struct {
	Match    func(*apis.Schedule) bool
	Limit    int
	Continue string
}

// ScheduleWatchOptions select what a Schedule watch streams (as
// WatchOptions for Runs).
type ScheduleWatchOptions struct {
	ResourceVersion uint64
	List            bool
	Match           func(*apis.Schedule) bool
}

// Delete propagation policies, as Kubernetes names them.
const (
	PropagationBackground = "Background"
	PropagationForeground = "Foreground"
	PropagationOrphan     = "Orphan"
)

// schedules returns the Schedule store, or a 404 when this server was
// built without one.
func (s *Server) schedules() (ScheduleStore, error) {
	if s.cfg.Schedules == nil {
		return nil, statusError(http.StatusNotFound, "NotFound", "this server does not serve Schedules")
	}
	return s.cfg.Schedules, nil
}

// scheduleWrites refuses a Schedule write with 503 while the cluster is
// not fully upgraded, on whichever node it arrives: a follower must not
// forward it to a leader that may predate Schedules (it would answer 404
// for a route it does not know).
func (s *Server) scheduleWrites(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		st, err := s.schedules()
		if err != nil {
			return err
		}
		if err := st.SchedulesWritable(); err != nil {
			return err
		}
		return next(c)
	}
}

// listSchedules serves GET /api/v1/schedules, or a watch with ?watch=true,
// from the local applied state on any node.
func (s *Server) listSchedules(c echo.Context) error {
	st, err := s.schedules()
	if err != nil {
		return err
	}
	labelSel, fieldSel := c.QueryParam("labelSelector"), c.QueryParam("fieldSelector")
	match, err := labelAndNameMatcher(scheduleKind, labelSel, fieldSel)
	if err != nil {
		return err
	}
	// The Runs' parameter checks (watch, limit, continue, resourceVersion)
	// hold for Schedules too; their selectors are checked above.
	p, err := parseListParamsWithout(c)
	if err != nil {
		return err
	}
	if p.watch {
		return s.serveWatch(c, p.rv, apis.KindSchedule, func(ctx context.Context, fromRV uint64) (Watcher, error) {
			return st.WatchSchedules(ctx, ScheduleWatchOptions{ResourceVersion: fromRV, List: fromRV == 0, Match: match})
		})
	}
	return servePage(c, scheduleKind, labelSel, fieldSel, p.limit, func(ctx context.Context, limit int, cont string) ([]apis.Schedule, apis.ListMeta, error) {
		list, err := st.ListSchedules(ctx, ScheduleListOptions{Match: match, Limit: limit, Continue: cont})
		if err != nil {
			return nil, apis.ListMeta{}, err
		}
		return list.Items, list.Metadata, nil
	})
}

// parseListParamsWithout is parseListParams without the Runs' selectors
// (the caller checked the Schedules' own) and without the continue token
// (bound to those selectors, opened by the caller).
func parseListParamsWithout(c echo.Context) (*listParams, error) {
	p := &listParams{}
	var err error
	if p.watch, err = queryBool(c, "watch"); err != nil {
		return nil, err
	}
	if p.limit, err = queryInt(c, "limit"); err != nil {
		return nil, err
	}
	if v := c.QueryParam("resourceVersion"); v != "" {
		if p.rv, err = strconv.ParseUint(v, 10, 64); err != nil {
			return nil, badRequest("query parameter resourceVersion=%s: want a non-negative decimal number", quoteClip(v))
		}
		p.rvSet = true
	}
	if p.watch && c.QueryParam("continue") != "" {
		return nil, badRequest("query parameter continue: not supported with watch=true")
	}
	return p, nil
}

// getSchedule serves GET /api/v1/schedules/{name}, linearizable as GET of
// a Run is (leaderOnly, after a read barrier).
func (s *Server) getSchedule(c echo.Context) error {
	st, err := s.schedules()
	if err != nil {
		return err
	}
	return getObject(s, c, scheduleKind, st.GetSchedule)
}

// decodeSchedule reads one Schedule from the body (JSON, or YAML with its
// content type), strictly.
func (s *Server) decodeSchedule(c echo.Context) (*apis.Schedule, error) {
	b, err := readOneBody(s, c, scheduleKind)
	if err != nil {
		return nil, err
	}
	var sc *apis.Schedule
	err = s.decoding(c, func() (err error) {
		sc, err = apis.DecodeSchedule(b)
		return err
	})
	return sc, err
}

// prepareNewSchedule clears what only the server sets, completes
// generateName, defaults and validates, then applies the admission policy
// to the template: a Schedule cannot be stored that would fire Runs the
// policy refuses (422 first, then 403, as for Runs).
func (s *Server) prepareNewSchedule(sc *apis.Schedule) error {
	sc.Status = apis.ScheduleStatus{}
	clearServerSet(&sc.Metadata)
	apis.SetScheduleDefaults(sc)
	if err := invalidKind(scheduleKind, sc.Metadata.Name, append(apis.ValidateSchedule(sc), apis.ValidateScheduleWrite(sc)...)); err != nil {
		return err
	}
	return s.policy.AdmitSchedule(sc)
}

// scheduleWriter reads, prepares and creates Schedules in st.
func (s *Server) scheduleWriter(st ScheduleStore) writer[apis.Schedule] {
	return writer[apis.Schedule]{decode: s.decodeSchedule, prepareNew: s.prepareNewSchedule, create: st.CreateSchedule}
}

// createSchedule serves POST /api/v1/schedules.
func (s *Server) createSchedule(c echo.Context) error {
	st, err := s.schedules()
	if err != nil {
		return err
	}
	return createObject(c, scheduleKind, s.scheduleWriter(st))
}

// applySchedule serves PUT /api/v1/schedules/{name}: create when absent,
// otherwise replace labels, annotations and the spec (all mutable, as a
// CronJob's), or nothing when the manifest changes nothing. Status is not
// written through this resource: the stored one is kept. A
// metadata.resourceVersion in the body is a precondition; without one the
// update is conditioned on the Schedule's uid only (the controller's
// status writes in between do not make it a conflict). Create or update is
// decided on the local state, and decided again after a read barrier when
// that state was behind the log.
func (s *Server) applySchedule(c echo.Context) error {
	st, err := s.schedules()
	if err != nil {
		return err
	}
	return applyObject(s, c, scheduleKind, applier[apis.Schedule]{
		writer:  s.scheduleWriter(st),
		get:     st.GetSchedule,
		setSpec: func(next, d *apis.Schedule) { apis.SetScheduleDefaults(d); next.Spec = d.Spec },
		check: func(next, cur *apis.Schedule) error {
			errs := apis.ValidateScheduleUpdate(next, cur)
			// The write rules bind a template whose annotations change:
			// a Schedule stored before them can still be suspended or
			// edited elsewhere.
			if !maps.Equal(next.Spec.RunTemplate.Metadata.Annotations, cur.Spec.RunTemplate.Metadata.Annotations) {
				errs = append(errs, apis.ValidateScheduleWrite(next)...)
			}
			if err := invalidKind(scheduleKind, cur.Metadata.Name, errs); err != nil {
				return err
			}
			return s.policy.AdmitSchedule(next)
		},
		equal: (*apis.Schedule).Equal,
		update: func(ctx context.Context, next *apis.Schedule) (*apis.Schedule, bool, error) {
			out, err := st.UpdateSchedule(ctx, next)
			return out, false, err
		},
		retryStale: true,
	})
}

// deleteSchedule serves DELETE /api/v1/schedules/{name}: the Schedule goes
// first (so it fires no more), then its Runs — those whose controller
// owner reference names this Schedule's uid — are deleted through the
// Runs' own delete path (live tasks are killed first), unless
// propagationPolicy=Orphan: then, as Kubernetes' garbage collector does,
// they lose the owner reference and keep their labels.
// Foreground is taken as Background: the answer does not wait for the
// Runs to be gone.
func (s *Server) deleteSchedule(c echo.Context) error {
	st, err := s.schedules()
	if err != nil {
		return err
	}
	policy := c.QueryParam("propagationPolicy")
	switch policy {
	case "", PropagationBackground, PropagationForeground, PropagationOrphan:
	default:
		return badRequest("query parameter propagationPolicy=%s: want Background, Foreground or Orphan", quoteClip(policy))
	}
	ctx := c.Request().Context()
	name := c.Param("name")
	if err := s.store.LinearizableRead(ctx); err != nil {
		return err
	}
	cur, err := st.GetSchedule(ctx, name)
	if err != nil {
		return err
	}
	deleted, err := st.DeleteSchedule(ctx, apis.RunRef{Name: name, UID: cur.Metadata.UID, ResourceVersion: c.QueryParam("resourceVersion")})
	if err != nil {
		return err
	}
	uid := deleted.Metadata.UID
	owned, err := s.store.ListRuns(ctx, ListOptions{Match: func(r *apis.Run) bool {
		if r.Metadata.Labels[apis.LabelSchedule] != name {
			return false
		}
		o := apis.ControllerOf(&r.Metadata)
		return o != nil && o.UID == uid
	}})
	if err != nil {
		return fmt.Errorf("schedule %q deleted, but listing its runs failed: %w", name, err)
	}
	if policy == PropagationOrphan {
		names := make([]string, len(owned.Items))
		for i := range owned.Items {
			names[i] = owned.Items[i].Metadata.Name
		}
		if len(names) > 0 {
			if err := st.ReleaseRuns(ctx, uid, names); err != nil {
				return fmt.Errorf("schedule %q deleted, but orphaning its runs failed: %w", name, err)
			}
		}
	} else {
		for i := range owned.Items {
			r := &owned.Items[i]
			_, _, err := s.store.RequestDelete(ctx, r.Metadata.Name, r.Metadata.ResourceVersion)
			if err != nil && !errors.Is(err, apis.ErrNotFound) && !errors.Is(err, apis.ErrConflict) {
				return fmt.Errorf("schedule %q deleted, but deleting its run %q failed: %w", name, r.Metadata.Name, err)
			}
		}
	}
	return c.JSON(http.StatusOK, scheduleKind.typed(deleted))
}

// fireSchedule serves POST /api/v1/schedules/{name}/runs: fire now,
// outside the schedule (kubectl create job --from=cronjob/NAME):
// spec.parallelism Runs named <name>-m<id>-<i> (apis.NewManualFiringID) from the
// template, labelled and owned as a firing's, in one entry. The
// Schedule's lastScheduleTime is not changed, and it fires even while
// suspended (the user asked). The admission policy in force now applies.
// ?dryRun=true shows the Runs without creating them.
func (s *Server) fireSchedule(c echo.Context) error {
	st, err := s.schedules()
	if err != nil {
		return err
	}
	dryRun, err := queryBool(c, "dryRun")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	name := c.Param("name")
	if err := s.store.LinearizableRead(ctx); err != nil {
		return err
	}
	sc, err := st.GetSchedule(ctx, name)
	if err != nil {
		return err
	}
	if err := s.policy.AdmitSchedule(sc); err != nil {
		return err
	}
	now := s.cfg.Now().UTC()
	runs := make([]apis.Run, sc.Spec.Parallelism)
	id := apis.NewManualFiringID(now)
	for i := range runs {
		runs[i] = apis.RunFromTemplate(sc, apis.ManualRunName(name, id, i))
		if err := invalid(runs[i].Metadata.Name, apis.ValidateRun(&runs[i])); err != nil {
			return err
		}
	}
	out := apis.RunList{TypeMeta: apis.TypeMeta{APIVersion: apis.APIVersion, Kind: apis.KindRunList}, Items: runs}
	if !dryRun {
		ev := apis.RunEvent{Time: now, Type: apis.EventNormal, Reason: apis.ReasonFired,
			Message: fmt.Sprintf("fired %d run(s) on request, outside the schedule", len(runs))}
		created, err := st.FireScheduleNow(ctx, apis.RunRef{Name: name, UID: sc.Metadata.UID}, runs, []apis.RunEvent{ev})
		if err != nil {
			return err
		}
		out.Items = created
	}
	for i := range out.Items {
		out.Items[i] = *typed(&out.Items[i])
	}
	return c.JSON(http.StatusCreated, out)
}

// ScheduleEventList is the answer of GET /api/v1/schedules/{name}/events.
type ScheduleEventList = RunEventList

// scheduleEvents serves a Schedule's recent events from local state.
func (s *Server) scheduleEvents(c echo.Context) error {
	st, err := s.schedules()
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if _, err := st.GetSchedule(ctx, c.Param("name")); err != nil {
		return err
	}
	events, err := st.ScheduleEvents(ctx, c.Param("name"))
	if err != nil {
		return err
	}
	if events == nil {
		events = []apis.RunEvent{}
	}
	return c.JSON(http.StatusOK, ScheduleEventList{
		TypeMeta: apis.TypeMeta{APIVersion: apis.APIVersion, Kind: "ScheduleEventList"},
		Items:    events,
	})
}

func (s *Server) scheduleSchema(c echo.Context) error {
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, apis.ScheduleSchema())
}
