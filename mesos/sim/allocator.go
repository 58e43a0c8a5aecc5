package sim

import (
	"fmt"
	"sort"
	"strings"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"

	"github.com/sprint-project/sprint/internal/clock"
)

// offer is an outstanding offer: its resources are held for the framework
// until ACCEPT, DECLINE, RESCIND or discard.
type offer struct {
	id    string
	fw    *framework
	agent *agent
	role  string
	res   resVec
	timer clock.Timer
}

// offerFilter is a DECLINE filter: it blocks offers of a subset of res on
// one agent to one role of a framework until expiry.
type offerFilter struct {
	res    resVec
	expiry time.Time
}

func filterKey(role, agentID string) string { return role + "\x00" + agentID }

// scheduleAllocation runs the batch allocator every AllocationInterval.
// Caller holds mu.
func (m *Master) scheduleAllocation() {
	m.allocTimer = m.afterFunc(m.cfg.AllocationInterval, func() {
		m.allocate()
		m.scheduleAllocation()
	})
}

// allocate offers every reachable agent's free resources, whole, to the
// first eligible (framework, role) in DRF order (ties by framework id),
// skipping suppressed roles, filtered agents and sets below min_allocatable.
// Agents are visited in a seeded random order. Caller holds mu.
func (m *Master) allocate() {
	if m.closed || m.leader.noLeader || m.leader.standbyOf != "" || m.clk.Now().Before(m.leader.recoveringUntil) {
		return
	}
	var fws []*framework
	for _, fw := range m.frameworks {
		if fw.stream != nil {
			fws = append(fws, fw)
		}
	}
	if len(fws) == 0 {
		return
	}
	agents := make([]*agent, 0, len(m.agentList))
	for _, a := range m.agentList {
		if a.reachable() && !a.free.empty() {
			agents = append(agents, a)
		}
	}
	if len(agents) == 0 {
		return
	}
	m.rng.Shuffle(len(agents), func(i, j int) { agents[i], agents[j] = agents[j], agents[i] })
	totals := map[string]int64{}
	for _, a := range m.agentList {
		for k, v := range a.total.scalars {
			totals[k] += v
		}
	}
	now := m.clk.Now()
	out := map[*framework][]mesos.Offer{}
	for _, a := range agents {
		if len(fws) > 1 {
			sort.SliceStable(fws, func(i, j int) bool {
				si, sj := share(fws[i], totals), share(fws[j], totals)
				if si != sj {
					return si < sj
				}
				return fws[i].id < fws[j].id
			})
		}
		hasGPU := a.total.scalars["gpus"] > 0
		for _, fw := range fws {
			if hasGPU && !fw.has(mesos.FrameworkInfo_Capability_GPU_RESOURCES) {
				continue
			}
			for _, role := range fw.roles {
				if fw.suppressed[role] || a.free.empty() {
					continue
				}
				avail := a.free
				if !m.allocatable(fw, role, avail) || m.filtered(fw, role, a, avail, now) {
					continue
				}
				o := m.newOffer(fw, a, role, avail.clone())
				a.free = newResVec()
				out[fw] = append(out[fw], m.offerProto(o))
			}
		}
	}
	for _, fw := range fws {
		if offers := out[fw]; len(offers) > 0 {
			fw.stream.push(&scheduler.Event{Type: scheduler.Event_OFFERS, Offers: &scheduler.Event_Offers{Offers: offers}})
		}
	}
}

// share is the framework's dominant share (allocated plus offered) of the
// cluster totals. Caller holds mu.
func share(fw *framework, totals map[string]int64) float64 {
	var best float64
	for name, total := range totals {
		if total <= 0 {
			continue
		}
		used := fw.allocated.scalars[name] + fw.offered.scalars[name]
		if s := float64(used) / float64(total); s > best {
			best = s
		}
	}
	return best
}

// allocatable applies min_allocatable_resources (framework offer_filters for
// the role override the master default). Caller holds mu.
func (m *Master) allocatable(fw *framework, role string, avail resVec) bool {
	var alts []map[string]int64
	if of, ok := fw.info.OfferFilters[role]; ok && of.MinAllocatableResources != nil {
		for _, q := range of.MinAllocatableResources.Quantities {
			alt := map[string]int64{}
			for name, v := range q.Quantities {
				alt[name] = toMilli(v.Value)
			}
			alts = append(alts, alt)
		}
		if len(alts) == 0 {
			return !avail.empty()
		}
	} else {
		alts = parseMinAllocatable(m.cfg.MinAllocatable)
	}
	for _, alt := range alts {
		ok := true
		for name, q := range alt {
			have := avail.scalars[name]
			if rs, isRange := avail.ranges[name]; isRange {
				have = 0
				for _, r := range rs {
					have += int64(r.End-r.Begin+1) * 1000
				}
			}
			if have < q {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// parseMinAllocatable parses "cpus:0.01|mem:32" (alternatives separated by
// '|', quantities within one by ';').
func parseMinAllocatable(s string) []map[string]int64 {
	var out []map[string]int64
	for _, alt := range strings.Split(s, "|") {
		v, err := parseResources(alt)
		if err != nil || len(v.scalars) == 0 {
			continue
		}
		out = append(out, v.scalars)
	}
	return out
}

// filtered reports whether an unexpired decline filter covers avail; expired
// filters are dropped. Caller holds mu.
func (m *Master) filtered(fw *framework, role string, a *agent, avail resVec, now time.Time) bool {
	k := filterKey(role, a.id)
	fs := fw.filters[k]
	keep := fs[:0]
	blocked := false
	for _, f := range fs {
		if !now.Before(f.expiry) {
			continue
		}
		keep = append(keep, f)
		if f.res.contains(avail) {
			blocked = true
		}
	}
	if len(keep) == 0 {
		delete(fw.filters, k)
	} else {
		fw.filters[k] = keep
	}
	return blocked
}

func (m *Master) clearFilters(fw *framework, role string) {
	for k := range fw.filters {
		if strings.HasPrefix(k, role+"\x00") {
			delete(fw.filters, k)
		}
	}
}

func (m *Master) newOffer(fw *framework, a *agent, role string, res resVec) *offer {
	o := &offer{id: fmt.Sprintf("%s-O%d", m.masterID, m.nextOfferID), fw: fw, agent: a, role: role, res: res}
	m.nextOfferID++
	m.offers[o.id] = o
	fw.offers[o.id] = o
	fw.offered.add(res)
	if m.cfg.OfferTimeout > 0 {
		o.timer = m.afterFunc(m.cfg.OfferTimeout, func() {
			if m.offers[o.id] == o {
				m.rescindOffer(o)
			}
		})
	}
	return o
}

// offerProto renders an offer for its framework (allocation_info only for
// MULTI_ROLE, resource format by RESERVATION_REFINEMENT). Caller holds mu.
func (m *Master) offerProto(o *offer) mesos.Offer {
	multi := o.fw.multiRole()
	refine := o.fw.has(mesos.FrameworkInfo_Capability_RESERVATION_REFINEMENT)
	p := mesos.Offer{
		ID:          mesos.OfferID{Value: o.id},
		FrameworkID: mesos.FrameworkID{Value: o.fw.id},
		AgentID:     mesos.AgentID{Value: o.agent.id},
		Hostname:    o.agent.hostname,
		URL:         m.agentURL(o.agent),
		Resources:   o.res.toResources(o.role, refine, multi),
		Attributes:  append([]mesos.Attribute(nil), o.agent.attrs...),
		ExecutorIDs: o.agent.executorIDsFor(o.fw.id),
	}
	if multi {
		role := o.role
		p.AllocationInfo = &mesos.Resource_AllocationInfo{Role: &role}
	}
	return p
}

// removeOffer forgets o and gives its resources back to the agent. Caller holds mu.
func (m *Master) removeOffer(o *offer) {
	m.takeOffer(o)
	o.agent.free.add(o.res)
}

// takeOffer forgets o without returning its resources. Caller holds mu.
func (m *Master) takeOffer(o *offer) {
	delete(m.offers, o.id)
	delete(o.fw.offers, o.id)
	o.fw.offered.sub(o.res)
	if o.timer != nil {
		o.timer.Stop()
	}
}

// rescindOffer removes o and sends RESCIND. Caller holds mu.
func (m *Master) rescindOffer(o *offer) {
	m.removeOffer(o)
	if s := o.fw.stream; s != nil {
		s.push(&scheduler.Event{Type: scheduler.Event_RESCIND, Rescind: &scheduler.Event_Rescind{OfferID: mesos.OfferID{Value: o.id}}})
	}
}

// discardOffers removes all of fw's offers, with RESCIND events if rescind.
func (m *Master) discardOffers(fw *framework, rescind bool) {
	for _, o := range sortedOffers(fw.offers) {
		if rescind {
			m.rescindOffer(o)
		} else {
			m.removeOffer(o)
		}
	}
}

func (m *Master) rescindRoleOffers(fw *framework, role string) {
	for _, o := range sortedOffers(fw.offers) {
		if o.role == role {
			m.rescindOffer(o)
		}
	}
}

func (m *Master) rescindAgentOffers(a *agent) {
	ids := make([]string, 0)
	for id, o := range m.offers {
		if o.agent == a {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		m.rescindOffer(m.offers[id])
	}
}

func sortedOffers(os map[string]*offer) []*offer {
	out := make([]*offer, 0, len(os))
	for _, o := range os {
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// addFilter records a decline filter per Mesos' refuse_seconds rules: absent
// → DefaultRefuse; negative → DefaultRefuse; 0 → none; capped at 365 days;
// never shorter than the allocation interval. Caller holds mu.
func (m *Master) addFilter(fw *framework, role string, a *agent, res resVec, f *mesos.Filters) {
	if res.empty() {
		return
	}
	d := m.cfg.DefaultRefuse
	if f != nil && f.RefuseSeconds != nil {
		s := *f.RefuseSeconds
		switch {
		case s == 0:
			return
		case s < 0:
			d = m.cfg.DefaultRefuse
		case s > 365*24*3600:
			d = 365 * 24 * time.Hour
		default:
			d = time.Duration(s * float64(time.Second))
		}
	}
	if d < m.cfg.AllocationInterval {
		d = m.cfg.AllocationInterval
	}
	k := filterKey(role, a.id)
	fw.filters[k] = append(fw.filters[k], &offerFilter{res: res.clone(), expiry: m.clk.Now().Add(d)})
}

// decline handles DECLINE. Caller holds mu.
func (m *Master) decline(fw *framework, d *scheduler.Call_Decline) {
	for _, id := range d.OfferIDs {
		o := m.offers[id.Value]
		if o == nil || o.fw != fw {
			continue
		}
		m.removeOffer(o)
		m.addFilter(fw, o.role, o.agent, o.res, d.Filters)
	}
}
