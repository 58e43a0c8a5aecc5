package sim

import (
	"fmt"
	"math"
	"sort"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"

	"github.com/sprint-project/sprint/internal/clock"
)

// framework is the master's record of one framework. Guarded by Master.mu.
type framework struct {
	id         string
	info       mesos.FrameworkInfo
	roles      []string
	suppressed map[string]bool
	stream     *stream // nil while disconnected
	recovered  bool    // re-subscribed after master failover without being known

	registeredAt   time.Time
	reregisteredAt time.Time
	unregisteredAt time.Time
	failoverTimer  clock.Timer

	tasks       map[string]*task // live tasks and terminal tasks not yet ACKed
	unreachable map[string]*task
	completed   []*task
	offers      map[string]*offer
	filters     map[string][]*offerFilter // by role + "\x00" + agent id
	allocated   resVec                    // task+executor resources in use, for DRF order
	offered     resVec                    // resources of outstanding offers, for DRF order
}

func (fw *framework) has(c mesos.FrameworkInfo_Capability_Type) bool {
	for _, x := range fw.info.Capabilities {
		if x.Type == c {
			return true
		}
	}
	return false
}

func (fw *framework) partitionAware() bool {
	return fw.has(mesos.FrameworkInfo_Capability_PARTITION_AWARE)
}

func (fw *framework) multiRole() bool { return fw.has(mesos.FrameworkInfo_Capability_MULTI_ROLE) }

func (fw *framework) hasRole(r string) bool {
	for _, x := range fw.roles {
		if x == r {
			return true
		}
	}
	return false
}

func (fw *framework) stopTimers() {
	if fw.failoverTimer != nil {
		fw.failoverTimer.Stop()
		fw.failoverTimer = nil
	}
}

// frameworkRoles returns the roles a FrameworkInfo asks for.
func frameworkRoles(fi *mesos.FrameworkInfo) []string {
	if hasCap(fi, mesos.FrameworkInfo_Capability_MULTI_ROLE) {
		return append([]string(nil), fi.Roles...)
	}
	if fi.Role != nil {
		return []string{*fi.Role}
	}
	return []string{"*"}
}

func hasCap(fi *mesos.FrameworkInfo, c mesos.FrameworkInfo_Capability_Type) bool {
	for _, x := range fi.Capabilities {
		if x.Type == c {
			return true
		}
	}
	return false
}

// validateFrameworkInfo is Mesos' validateFramework/validateRoles plus the
// checks on suppressed roles and offer filters (SUBSCRIBE ERROR messages).
func validateFrameworkInfo(fi *mesos.FrameworkInfo, suppressed []string) error {
	multi := hasCap(fi, mesos.FrameworkInfo_Capability_MULTI_ROLE)
	if multi {
		if fi.Role != nil {
			return wireErrf("'FrameworkInfo.role' must not be set when the framework is MULTI_ROLE capable")
		}
		seen := map[string]bool{}
		for _, r := range fi.Roles {
			if seen[r] {
				return wireErrf("'FrameworkInfo.roles' contains duplicate items")
			}
			seen[r] = true
		}
	} else if len(fi.Roles) > 0 {
		return wireErrf("'FrameworkInfo.roles' must not be set when the framework is not MULTI_ROLE capable")
	}
	roles := frameworkRoles(fi)
	for _, r := range roles {
		if err := validateRole(r); err != nil {
			return wireErrf("Role '%s' is invalid: %w", r, err)
		}
	}
	if fi.ID != nil {
		if err := validateID(fi.ID.Value); err != nil {
			return wireErrf("'FrameworkInfo.id' is invalid: %w", err)
		}
	}
	for _, s := range suppressed {
		found := false
		for _, r := range roles {
			found = found || r == s
		}
		if !found {
			return wireErrf("Suppressed role '%s' is not contained in the list of roles", s)
		}
	}
	for role, of := range fi.OfferFilters {
		if err := validateRole(role); err != nil {
			return wireErrf("'FrameworkInfo.offer_filters' role '%s' is invalid: %w", role, err)
		}
		if of.MinAllocatableResources != nil {
			for _, q := range of.MinAllocatableResources.Quantities {
				for name, v := range q.Quantities {
					if name == "" || v.Value < 0 || math.IsNaN(v.Value) {
						return wireErrf("Invalid 'FrameworkInfo.offer_filters': bad quantity %q", name)
					}
				}
			}
		}
	}
	if ft := fi.GetFailoverTimeout(); math.IsNaN(ft) || math.IsInf(ft, 0) || ft*float64(time.Second) > math.MaxInt64 || ft*float64(time.Second) < math.MinInt64 {
		return wireErrf("The framework failover_timeout (%v) is invalid", ft)
	}
	return nil
}

// subscribe handles a SUBSCRIBE after the 200 response (framework-level
// validation and registration or failover). Caller holds mu.
func (m *Master) subscribe(sub *scheduler.Call_Subscribe, s *stream) {
	fi := *sub.FrameworkInfo
	if err := validateFrameworkInfo(&fi, sub.SuppressedRoles); err != nil {
		m.rejectSubscription(s, err.Error())
		return
	}
	var fw *framework
	if fi.ID != nil && fi.ID.Value != "" {
		id := fi.ID.Value
		if m.removedIDs[id] {
			m.rejectSubscription(s, "Framework has been removed")
			return
		}
		fw = m.frameworks[id]
		if fw != nil {
			if fw.info.GetPrincipal() != fi.GetPrincipal() {
				m.rejectSubscription(s, "Changing framework's principal is not allowed.")
				return
			}
			m.failoverFramework(fw, &fi, sub.SuppressedRoles, s)
			return
		}
		// Unknown id (e.g. after master failover): recover it with that id.
		fw = m.newFramework(id, &fi, sub.SuppressedRoles)
		fw.recovered = true
	} else {
		id := fmt.Sprintf("%s-%04d", m.masterID, m.nextFwID)
		m.nextFwID++
		fi.ID = &mesos.FrameworkID{Value: id}
		fw = m.newFramework(id, &fi, sub.SuppressedRoles)
	}
	m.connect(fw, s)
	m.log.Info("framework subscribed", "framework_id", fw.id, "name", fw.info.Name, "stream_id", s.id)
	m.allocate()
}

func (m *Master) newFramework(id string, fi *mesos.FrameworkInfo, suppressed []string) *framework {
	info := *fi
	info.ID = &mesos.FrameworkID{Value: id}
	fw := &framework{
		id:           id,
		info:         info,
		roles:        frameworkRoles(&info),
		suppressed:   map[string]bool{},
		registeredAt: m.clk.Now(),
		tasks:        map[string]*task{},
		unreachable:  map[string]*task{},
		offers:       map[string]*offer{},
		filters:      map[string][]*offerFilter{},
		allocated:    newResVec(),
		offered:      newResVec(),
	}
	for _, r := range suppressed {
		fw.suppressed[r] = true
	}
	m.frameworks[id] = fw
	return fw
}

func (m *Master) rejectSubscription(s *stream, msg string) {
	s.push(&scheduler.Event{Type: scheduler.Event_ERROR, Error: &scheduler.Event_Error{Message: msg}})
	s.finish()
	delete(m.streams, s)
}

// failoverFramework re-subscribes a known framework on stream s. Caller holds mu.
func (m *Master) failoverFramework(fw *framework, fi *mesos.FrameworkInfo, suppressed []string, s *stream) {
	if old := fw.stream; old != nil {
		old.push(&scheduler.Event{Type: scheduler.Event_ERROR, Error: &scheduler.Event_Error{Message: "Framework failed over"}})
		m.closeStream(fw)
	}
	// Outstanding offers are discarded, not rescinded.
	m.discardOffers(fw, false)
	m.updateFrameworkInfo(fw, fi, suppressed)
	fw.reregisteredAt = m.clk.Now()
	fw.stopTimers()
	m.connect(fw, s)
	m.log.Info("framework failed over", "framework_id", fw.id, "stream_id", s.id)
	// The agents resend un-acknowledged updates right away.
	m.resendPending(fw)
	m.allocate()
}

// updateFrameworkInfo applies the mutable fields of a re-subscription; user
// and checkpoint changes are ignored as Mesos does. Caller holds mu.
func (m *Master) updateFrameworkInfo(fw *framework, fi *mesos.FrameworkInfo, suppressed []string) {
	next := *fi
	next.ID = &mesos.FrameworkID{Value: fw.id}
	next.User = fw.info.User
	next.Checkpoint = fw.info.Checkpoint
	// Capabilities can only be added.
	for _, c := range fw.info.Capabilities {
		if !hasCap(&next, c.Type) {
			next.Capabilities = append(next.Capabilities, c)
		}
	}
	oldRoles := fw.roles
	fw.info = next
	fw.roles = frameworkRoles(&next)
	for _, r := range oldRoles {
		if !fw.hasRole(r) {
			m.rescindRoleOffers(fw, r)
		}
	}
	want := map[string]bool{}
	for _, r := range suppressed {
		want[r] = true
	}
	for r := range fw.suppressed {
		if !want[r] {
			m.clearFilters(fw, r)
		}
	}
	fw.suppressed = want
}

// connect attaches stream s to fw and sends SUBSCRIBED and the first
// HEARTBEAT. Caller holds mu.
func (m *Master) connect(fw *framework, s *stream) {
	s.fwID = fw.id
	fw.stream = s
	hb := m.cfg.HeartbeatInterval.Seconds()
	id := fw.id
	s.push(&scheduler.Event{Type: scheduler.Event_SUBSCRIBED, Subscribed: &scheduler.Event_Subscribed{
		FrameworkID:              &mesos.FrameworkID{Value: id},
		HeartbeatIntervalSeconds: &hb,
		MasterInfo:               m.masterInfo(),
	}})
	m.heartbeat(s)
}

// heartbeat sends HEARTBEAT on s and re-arms itself. Caller holds mu.
func (m *Master) heartbeat(s *stream) {
	if !m.faults.heartbeatsStopped {
		s.push(&scheduler.Event{Type: scheduler.Event_HEARTBEAT})
	}
	s.heartbeat = m.afterFunc(m.cfg.HeartbeatInterval, func() {
		if m.streams[s] {
			m.heartbeat(s)
		}
	})
}

// closeStream ends fw's current stream without disconnect handling. Caller holds mu.
func (m *Master) closeStream(fw *framework) {
	s := fw.stream
	if s == nil {
		return
	}
	fw.stream = nil
	if s.heartbeat != nil {
		s.heartbeat.Stop()
	}
	s.finish()
	delete(m.streams, s)
}

// streamEnded is called by a stream's consumer when it stops (client gone or
// stream finished). If the stream was still the framework's, the framework
// is disconnected. Caller does not hold mu.
func (m *Master) streamEnded(s *stream) {
	m.lock()
	defer m.unlock()
	if s.heartbeat != nil {
		s.heartbeat.Stop()
	}
	delete(m.streams, s)
	fw := m.frameworks[s.fwID]
	if fw == nil || fw.stream != s || m.closed {
		return
	}
	m.disconnect(fw)
}

// disconnect marks fw disconnected and arms its failover timeout. Caller holds mu.
func (m *Master) disconnect(fw *framework) {
	m.closeStream(fw)
	fw.unregisteredAt = m.clk.Now()
	m.discardOffers(fw, false)
	fw.filters = map[string][]*offerFilter{}
	m.log.Info("framework disconnected", "framework_id", fw.id)
	ft := time.Duration(fw.info.GetFailoverTimeout() * float64(time.Second))
	if fw.recovered {
		// failover_timeout is not preserved across master failover (MESOS-4659).
		return
	}
	if ft <= 0 {
		m.removeFramework(fw)
		return
	}
	at := fw.unregisteredAt
	fw.failoverTimer = m.afterFunc(ft, func() {
		if cur := m.frameworks[fw.id]; cur == fw && fw.stream == nil && fw.unregisteredAt.Equal(at) {
			m.log.Info("framework failover timeout", "framework_id", fw.id)
			m.removeFramework(fw)
		}
	})
}

// removeFramework tears fw down: offers discarded, tasks killed on their
// agents and recorded TASK_KILLED (not sent), stream closed. Caller holds mu.
func (m *Master) removeFramework(fw *framework) {
	fw.stopTimers()
	m.discardOffers(fw, false)
	m.closeStream(fw)
	ids := make([]string, 0, len(fw.tasks))
	for id := range fw.tasks {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		t := fw.tasks[id]
		if !isTerminal(t.state) && t.delivered && t.agent.state != agentGone {
			ex, fwID, taskID := t.executor(), fw.id, t.id
			m.after(func() { ex.Kill(fwID, taskID, 0) })
		}
		m.finishTask(t)
	}
	for _, t := range fw.unreachable {
		m.finishTask(t)
	}
	for _, a := range m.agentList {
		for k, e := range a.executors {
			if e.fwID == fw.id {
				m.removeExecutor(a, k, nil)
			}
		}
	}
	delete(m.frameworks, fw.id)
	m.removedIDs[fw.id] = true
	m.completedFws = append(m.completedFws, fw)
	if n := len(m.completedFws) - m.cfg.MaxCompletedFrameworks; n > 0 {
		m.completedFws = m.completedFws[n:]
	}
	m.log.Info("framework removed", "framework_id", fw.id)
}

// finishTask records TASK_KILLED (REASON_FRAMEWORK_REMOVED in Mesos) for a
// task of a removed framework without sending an update, and moves it to
// completed. Caller holds mu.
func (m *Master) finishTask(t *task) {
	if !isTerminal(t.state) || t.masked {
		t.state, t.masked = mesos.TASK_KILLED, false
		t.recordState(mesos.TASK_KILLED, m.clk.Now())
	}
	m.releaseTask(t)
	t.pending = nil
	m.completeTask(t)
}

// revive clears filters and un-suppresses roles. Caller holds mu.
func (m *Master) revive(fw *framework, roles []string) {
	if len(roles) == 0 {
		roles = fw.roles
	}
	for _, r := range roles {
		if validateRole(r) != nil || !fw.hasRole(r) {
			return // the whole call is dropped
		}
	}
	for _, r := range roles {
		delete(fw.suppressed, r)
		m.clearFilters(fw, r)
	}
	m.allocate()
}

// suppress stops offers for roles (outstanding offers stay). Caller holds mu.
func (m *Master) suppress(fw *framework, roles []string) {
	if len(roles) == 0 {
		roles = fw.roles
	}
	for _, r := range roles {
		if validateRole(r) != nil || !fw.hasRole(r) {
			return
		}
	}
	for _, r := range roles {
		fw.suppressed[r] = true
	}
}

// updateFramework handles UPDATE_FRAMEWORK; the error becomes a 400.
func (m *Master) updateFramework(fw *framework, u *scheduler.Call_UpdateFramework) error {
	fi := u.FrameworkInfo
	if err := validateFrameworkInfo(&fi, u.SuppressedRoles); err != nil {
		return wireErrf("Supplied FrameworkInfo is not valid: %w", err)
	}
	switch {
	case fi.GetPrincipal() != fw.info.GetPrincipal():
		return wireErrf("FrameworkInfo update is not valid: Changing framework's principal is not allowed.")
	case fi.User != fw.info.User:
		return wireErrf("FrameworkInfo update is not valid: Updating 'FrameworkInfo.user' is unsupported")
	case fi.GetCheckpoint() != fw.info.GetCheckpoint():
		return wireErrf("FrameworkInfo update is not valid: Updating 'FrameworkInfo.checkpoint' is unsupported")
	}
	m.updateFrameworkInfo(fw, &fi, u.SuppressedRoles)
	m.allocate()
	return nil
}
