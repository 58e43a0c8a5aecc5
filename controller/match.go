package controller

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/sprint-project/sprint/apis"
)

// Constraint operators (Marathon's).
const (
	opLike    = "LIKE"
	opUnlike  = "UNLIKE"
	opUnique  = "UNIQUE"
	opCluster = "CLUSTER"
	opMaxPer  = "MAX_PER"
)

// offerSpace is what is left of one offer while Runs are packed onto it.
type offerSpace struct {
	offer                 mesos.Offer
	cpus, mem, disk, gpus float64
	ports                 []portRange // free host ports, ascending
	attrs                 map[string]string
	planned               []plannedLaunch
}

type portRange struct{ begin, end uint64 }

// plannedLaunch is one Run matched to an offer in a scheduling round.
type plannedLaunch struct {
	run    apis.Run
	ports  []uint32
	taskID string // set once the attempt is recorded
	number int32
	task   mesos.TaskInfo
}

func newOfferSpace(o mesos.Offer) *offerSpace {
	s := &offerSpace{offer: o, attrs: offerAttributes(o)}
	for _, r := range o.Resources {
		switch r.Name {
		case "cpus":
			s.cpus += r.GetScalar().GetValue()
		case "mem":
			s.mem += r.GetScalar().GetValue()
		case "disk":
			if r.Disk == nil || r.Disk.Source == nil { // root disk only
				s.disk += r.GetScalar().GetValue()
			}
		case "gpus":
			s.gpus += r.GetScalar().GetValue()
		case "ports":
			for _, rg := range r.GetRanges().GetRange() {
				s.ports = append(s.ports, portRange{rg.Begin, rg.End})
			}
		}
	}
	sort.Slice(s.ports, func(i, j int) bool { return s.ports[i].begin < s.ports[j].begin })
	return s
}

// offerAttributes renders an offer's agent attributes as strings, the way
// constraints compare them.
func offerAttributes(o mesos.Offer) map[string]string {
	m := make(map[string]string, len(o.Attributes))
	for _, a := range o.Attributes {
		switch {
		case a.Text != nil:
			m[a.Name] = a.Text.Value
		case a.Scalar != nil:
			m[a.Name] = strconv.FormatFloat(a.Scalar.Value, 'f', -1, 64)
		case a.Set != nil:
			m[a.Name] = strings.Join(a.Set.Item, ",")
		case a.Ranges != nil:
			var parts []string
			for _, r := range a.Ranges.Range {
				parts = append(parts, fmt.Sprintf("%d-%d", r.Begin, r.End))
			}
			m[a.Name] = "[" + strings.Join(parts, ",") + "]"
		}
	}
	return m
}

// field returns the value of a constraint field on this offer's agent.
func (s *offerSpace) field(name string) (string, bool) {
	if name == "hostname" {
		return s.offer.Hostname, true
	}
	v, ok := s.attrs[name]
	return v, ok
}

// wantedPorts lists the host ports a Run needs: one per port mapping, 0
// meaning any port of the offer.
func wantedPorts(run *apis.Run) []uint32 {
	if run.Spec.Container == nil {
		return nil
	}
	out := make([]uint32, 0, len(run.Spec.Container.PortMappings))
	for _, pm := range run.Spec.Container.PortMappings {
		out = append(out, uint32(pm.HostPort))
	}
	return out
}

// takePorts picks host ports for want from free without changing free; ok
// is false if the offer cannot satisfy them.
func takePorts(free []portRange, want []uint32) (ports []uint32, rest []portRange, ok bool) {
	rest = append([]portRange(nil), free...)
	remove := func(p uint64) bool {
		for i, r := range rest {
			if p < r.begin || p > r.end {
				continue
			}
			var repl []portRange
			if r.begin < p {
				repl = append(repl, portRange{r.begin, p - 1})
			}
			if p < r.end {
				repl = append(repl, portRange{p + 1, r.end})
			}
			rest = append(rest[:i], append(repl, rest[i+1:]...)...)
			return true
		}
		return false
	}
	ports = make([]uint32, len(want))
	for i, p := range want { // fixed ports first so "any" cannot steal them
		if p != 0 {
			if !remove(uint64(p)) {
				return nil, free, false
			}
			ports[i] = p
		}
	}
	for i, p := range want {
		if p != 0 {
			continue
		}
		if len(rest) == 0 {
			return nil, free, false
		}
		q := rest[0].begin
		remove(q)
		ports[i] = uint32(q)
	}
	return ports, rest, true
}

// placements counts live Runs per constraint and field value, for UNIQUE,
// CLUSTER and MAX_PER. A Run's group is every live Run carrying the same
// constraint (same field, operator and value).
type placements map[string]map[string]int

func constraintKey(c []string) string { return strings.Join(c, "\x00") }

func (p placements) add(run *apis.Run, fieldOf func(string) (string, bool)) {
	for _, c := range run.Spec.Constraints {
		if len(c) < 2 {
			continue
		}
		switch strings.ToUpper(c[1]) {
		case opUnique, opCluster, opMaxPer:
		default:
			continue
		}
		v, ok := fieldOf(c[0])
		if !ok {
			continue
		}
		k := constraintKey(c)
		if p[k] == nil {
			p[k] = map[string]int{}
		}
		p[k][v]++
	}
}

// unfit is why one Run did not fit one offer.
type unfit struct {
	what      string // "cpus", "constraint hostname UNIQUE", …
	need, max float64
	resource  bool
}

// fit checks run against the space left in s; nil means it fits, with the
// host ports to use.
func (s *offerSpace) fit(run *apis.Run, placed placements, re *regexCache) ([]uint32, *unfit) {
	sp := &run.Spec
	for _, r := range []struct {
		name      string
		need, has float64
	}{{"cpus", sp.Cpus, s.cpus}, {"mem", sp.Mem, s.mem}, {"disk", sp.Disk, s.disk}, {"gpus", float64(sp.Gpus), s.gpus}} {
		if r.need > 0 && r.need > r.has+1e-9 {
			return nil, &unfit{what: r.name, need: r.need, max: r.has, resource: true}
		}
	}
	ports, _, ok := takePorts(s.ports, wantedPorts(run))
	if !ok {
		return nil, &unfit{what: "ports", need: float64(len(wantedPorts(run))), max: float64(countPorts(s.ports)), resource: true}
	}
	for _, c := range sp.Constraints {
		if len(c) < 2 {
			continue
		}
		if !s.satisfies(c, placed, re) {
			return nil, &unfit{what: "constraint " + strings.Join(c, " ")}
		}
	}
	return ports, nil
}

func countPorts(rs []portRange) uint64 {
	var n uint64
	for _, r := range rs {
		n += r.end - r.begin + 1
	}
	return n
}

func (s *offerSpace) satisfies(c []string, placed placements, re *regexCache) bool {
	op := strings.ToUpper(c[1])
	val := ""
	if len(c) > 2 {
		val = c[2]
	}
	v, ok := s.field(c[0])
	switch op {
	case opLike:
		return ok && re.match(val, v)
	case opUnlike:
		return !ok || !re.match(val, v)
	case opUnique:
		return ok && placed[constraintKey(c)][v] == 0
	case opCluster:
		if !ok {
			return false
		}
		if val != "" {
			return v == val
		}
		for other, n := range placed[constraintKey(c)] {
			if n > 0 && other != v {
				return false
			}
		}
		return true
	case opMaxPer:
		n, err := strconv.Atoi(val)
		return ok && err == nil && placed[constraintKey(c)][v] < n
	}
	return false
}

// consume takes a fitted Run's resources out of s.
func (s *offerSpace) consume(run *apis.Run, ports []uint32) {
	s.cpus -= run.Spec.Cpus
	s.mem -= run.Spec.Mem
	s.disk -= run.Spec.Disk
	s.gpus -= float64(run.Spec.Gpus)
	_, rest, _ := takePorts(s.ports, ports)
	s.ports = rest
}

// regexCache compiles constraint patterns once; a pattern is anchored, as
// Marathon's are.
type regexCache map[string]*regexp.Regexp

func (c *regexCache) match(pattern, s string) bool {
	if *c == nil {
		*c = regexCache{}
	}
	re, ok := (*c)[pattern]
	if !ok {
		var err error
		re, err = regexp.Compile("^(?:" + pattern + ")$")
		if err != nil {
			re = nil
		}
		(*c)[pattern] = re
	}
	return re != nil && re.MatchString(s)
}

// unschedulableMessage summarises why no offer fits, e.g.
// "0/3 agents satisfy: cpus (need 8, max 4 offered); constraint hostname UNIQUE".
func unschedulableMessage(offers int, why []*unfit) string {
	type agg struct {
		u   unfit
		max float64
	}
	var order []string
	seen := map[string]*agg{}
	for _, u := range why {
		a, ok := seen[u.what]
		if !ok {
			a = &agg{u: *u, max: u.max}
			seen[u.what] = a
			order = append(order, u.what)
		}
		if u.max > a.max {
			a.max = u.max
		}
	}
	parts := make([]string, 0, len(order))
	for _, k := range order {
		a := seen[k]
		if a.u.resource {
			parts = append(parts, fmt.Sprintf("%s (need %s, max %s offered)", k, num(a.u.need), num(a.max)))
		} else {
			parts = append(parts, k)
		}
	}
	return fmt.Sprintf("0/%d agents satisfy: %s", offers, strings.Join(parts, "; "))
}

// num renders a quantity with Mesos' three-decimal precision.
func num(f float64) string { return strconv.FormatFloat(math.Round(f*1000)/1000, 'f', -1, 64) }
