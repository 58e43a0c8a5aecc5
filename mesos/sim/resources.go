package sim

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
)

// resVec is the simulator's resource algebra: unreserved scalars in Mesos'
// fixed-point thousandths (so sums never drift) and ranges (ports). Cheaper
// than mesos-go's Resources for the allocator's hot path.
type resVec struct {
	scalars map[string]int64
	ranges  map[string][]mesos.Value_Range
}

func newResVec() resVec {
	return resVec{scalars: map[string]int64{}, ranges: map[string][]mesos.Value_Range{}}
}

func toMilli(v float64) int64 { return int64(math.Round(v * 1000)) }

func (r resVec) clone() resVec {
	c := newResVec()
	for k, v := range r.scalars {
		c.scalars[k] = v
	}
	for k, v := range r.ranges {
		c.ranges[k] = append([]mesos.Value_Range(nil), v...)
	}
	return c
}

func (r resVec) empty() bool {
	for _, v := range r.scalars {
		if v > 0 {
			return false
		}
	}
	for _, v := range r.ranges {
		if len(v) > 0 {
			return false
		}
	}
	return true
}

func (r resVec) scalar(name string) float64 { return float64(r.scalars[name]) / 1000 }

// add adds o to r in place.
func (r resVec) add(o resVec) {
	for k, v := range o.scalars {
		r.scalars[k] += v
	}
	for k, v := range o.ranges {
		r.ranges[k] = mergeRanges(append(r.ranges[k], v...))
	}
}

// sub removes o from r in place; callers check contains first.
func (r resVec) sub(o resVec) {
	for k, v := range o.scalars {
		r.scalars[k] -= v
		if r.scalars[k] <= 0 {
			delete(r.scalars, k)
		}
	}
	for k, v := range o.ranges {
		r.ranges[k] = subtractRanges(r.ranges[k], v)
		if len(r.ranges[k]) == 0 {
			delete(r.ranges, k)
		}
	}
}

// contains reports whether o ⊆ r.
func (r resVec) contains(o resVec) bool {
	for k, v := range o.scalars {
		if v > r.scalars[k] {
			return false
		}
	}
	for k, v := range o.ranges {
		for _, want := range v {
			if !rangesCover(r.ranges[k], want) {
				return false
			}
		}
	}
	return true
}

func rangesCover(have []mesos.Value_Range, want mesos.Value_Range) bool {
	for _, h := range have {
		if h.Begin <= want.Begin && want.End <= h.End {
			return true
		}
	}
	return false
}

func mergeRanges(rs []mesos.Value_Range) []mesos.Value_Range {
	if len(rs) < 2 {
		return rs
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].Begin < rs[j].Begin })
	out := []mesos.Value_Range{rs[0]}
	for _, x := range rs[1:] {
		last := &out[len(out)-1]
		if x.Begin <= last.End+1 {
			if x.End > last.End {
				last.End = x.End
			}
			continue
		}
		out = append(out, x)
	}
	return out
}

func subtractRanges(have, take []mesos.Value_Range) []mesos.Value_Range {
	out := append([]mesos.Value_Range(nil), have...)
	for _, t := range take {
		var next []mesos.Value_Range
		for _, h := range out {
			if t.End < h.Begin || t.Begin > h.End {
				next = append(next, h)
				continue
			}
			if h.Begin < t.Begin {
				next = append(next, mesos.Value_Range{Begin: h.Begin, End: t.Begin - 1})
			}
			if t.End < h.End {
				next = append(next, mesos.Value_Range{Begin: t.End + 1, End: h.End})
			}
		}
		out = next
	}
	return out
}

// toResources renders r as Mesos resources. Unreserved resources carry
// role "*" in the pre-refinement format and no role with
// RESERVATION_REFINEMENT; allocation_info only for MULTI_ROLE frameworks.
func (r resVec) toResources(allocRole string, refinement, multiRole bool) []mesos.Resource {
	names := make([]string, 0, len(r.scalars)+len(r.ranges))
	for k, v := range r.scalars {
		if v > 0 {
			names = append(names, k)
		}
	}
	for k, v := range r.ranges {
		if len(v) > 0 {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	out := make([]mesos.Resource, 0, len(names))
	for _, n := range names {
		res := mesos.Resource{Name: n}
		if rs, ok := r.ranges[n]; ok && len(rs) > 0 {
			res.Type = mesos.RANGES.Enum()
			res.Ranges = &mesos.Value_Ranges{Range: append([]mesos.Value_Range(nil), rs...)}
		} else {
			res.Type = mesos.SCALAR.Enum()
			res.Scalar = &mesos.Value_Scalar{Value: float64(r.scalars[n]) / 1000}
		}
		if !refinement {
			star := "*"
			res.Role = &star
		}
		if multiRole {
			role := allocRole
			res.AllocationInfo = &mesos.Resource_AllocationInfo{Role: &role}
		}
		out = append(out, res)
	}
	return out
}

// resourcesToVec validates resources as Mesos does for tasks and sums them.
// It returns the allocation role they carry ("" if none).
func resourcesToVec(rs []mesos.Resource) (resVec, string, error) {
	v := newResVec()
	allocRole := ""
	for i, r := range rs {
		if r.Name == "" {
			return v, "", wireErrf("Invalid resource: empty name")
		}
		if r.AllocationInfo != nil && r.AllocationInfo.Role != nil {
			if allocRole != "" && allocRole != *r.AllocationInfo.Role {
				return v, "", wireErrf("Invalid resources: The resources have multiple allocation roles ('%s' and '%s') but only one allocation role is allowed", allocRole, *r.AllocationInfo.Role)
			}
			allocRole = *r.AllocationInfo.Role
		}
		if len(r.Reservations) > 0 || r.Reservation != nil || (r.Role != nil && *r.Role != "*") {
			return v, "", wireErrf("Invalid resources: reserved resource %q is not offered by this simulator", r.Name)
		}
		switch r.GetType() {
		case mesos.SCALAR:
			if r.Scalar == nil || r.Scalar.Value <= 0 || math.IsNaN(r.Scalar.Value) || math.IsInf(r.Scalar.Value, 0) {
				return v, "", wireErrf("Invalid scalar resource %d (%s): value must be positive", i, r.Name)
			}
			m := toMilli(r.Scalar.Value)
			if r.Name == "gpus" && m%1000 != 0 {
				return v, "", wireErrf("The 'gpus' resource must be an unsigned integer")
			}
			v.scalars[r.Name] += m
		case mesos.RANGES:
			if r.Ranges == nil {
				return v, "", wireErrf("Invalid ranges resource %s", r.Name)
			}
			rr := append([]mesos.Value_Range(nil), r.Ranges.Range...)
			sort.Slice(rr, func(i, j int) bool { return rr[i].Begin < rr[j].Begin })
			for j, x := range rr {
				if x.Begin > x.End {
					return v, "", wireErrf("Invalid ranges resource %s: begin > end", r.Name)
				}
				if j > 0 && x.Begin <= rr[j-1].End {
					return v, "", wireErrf("Invalid ranges resource %s: overlapping ranges", r.Name)
				}
			}
			for _, x := range rr {
				if overlaps(v.ranges[r.Name], x) {
					return v, "", wireErrf("Invalid ranges resource %s: overlapping ranges", r.Name)
				}
				v.ranges[r.Name] = mergeRanges(append(v.ranges[r.Name], x))
			}
		default:
			return v, "", wireErrf("Invalid resource %s: only SCALAR and RANGES are simulated", r.Name)
		}
	}
	return v, allocRole, nil
}

func overlaps(have []mesos.Value_Range, x mesos.Value_Range) bool {
	for _, h := range have {
		if !(x.End < h.Begin || x.Begin > h.End) {
			return true
		}
	}
	return false
}

// parseResources parses the agent resource syntax of mesos-agent
// --resources: "cpus:4;mem:8192;disk:10000;ports:[31000-32000]".
func parseResources(s string) (resVec, error) {
	v := newResVec()
	for _, part := range strings.Split(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, val, ok := strings.Cut(part, ":")
		if !ok {
			return v, wireErrf("parse resource %q: want name:value", part)
		}
		if i := strings.Index(name, "("); i >= 0 { // role suffix: only "*" supported
			name = name[:i]
		}
		name = strings.TrimSpace(name)
		if name == "" || strings.ContainsAny(name, ":;[]{}|") {
			return v, fmt.Errorf("parse resource %q: bad name", part)
		}
		val = strings.TrimSpace(val)
		if strings.HasPrefix(val, "[") {
			if _, dup := v.scalars[name]; dup || !strings.HasSuffix(val, "]") {
				return v, fmt.Errorf("parse resource %q: bad ranges", part)
			}
			rs, err := parseRanges(val)
			if err != nil {
				return v, wireErrf("parse resource %q: %w", part, err)
			}
			v.ranges[name] = mergeRanges(append(v.ranges[name], rs...))
			continue
		}
		f, err := strconv.ParseFloat(val, 64)
		if _, dup := v.ranges[name]; dup || err != nil || !(f >= 0 && f <= 1e15) {
			return v, wireErrf("parse resource %q: bad scalar", part)
		}
		v.scalars[name] += toMilli(f)
	}
	return v, nil
}

func parseRanges(s string) ([]mesos.Value_Range, error) {
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	var out []mesos.Value_Range
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		a, b, ok := strings.Cut(p, "-")
		if !ok {
			b = a
		}
		lo, err1 := strconv.ParseUint(strings.TrimSpace(a), 10, 64)
		hi, err2 := strconv.ParseUint(strings.TrimSpace(b), 10, 64)
		if err1 != nil || err2 != nil || lo > hi {
			return nil, wireErrf("bad range %q", p)
		}
		out = append(out, mesos.Value_Range{Begin: lo, End: hi})
	}
	return out, nil
}

// String renders r in the --resources syntax.
func (r resVec) String() string {
	var parts []string
	for _, res := range r.toResources("", true, false) {
		if res.Scalar != nil {
			parts = append(parts, fmt.Sprintf("%s:%g", res.Name, res.Scalar.Value))
		} else {
			var rs []string
			for _, x := range res.Ranges.Range {
				rs = append(rs, fmt.Sprintf("%d-%d", x.Begin, x.End))
			}
			parts = append(parts, fmt.Sprintf("%s:[%s]", res.Name, strings.Join(rs, ",")))
		}
	}
	return strings.Join(parts, ";")
}
