package mesos

import (
	"fmt"

	mesosproto "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/sprint-project/sprint/apis"
)

// OfferPorts returns the union of the offer's "ports" ranges, sorted and
// merged. (mesos-go's NewPortRanges reads only the first ports resource;
// an offer has one per role or reservation.)
func OfferPorts(offer *mesosproto.Offer) mesosproto.Ranges {
	var rs mesosproto.Ranges
	for i := range offer.GetResources() {
		r := &offer.Resources[i]
		if r.GetName() != "ports" || r.GetRanges() == nil {
			continue
		}
		for _, v := range r.GetRanges().GetRange() {
			lo, hi := v.GetBegin(), v.GetEnd()
			if lo > hi {
				lo, hi = hi, lo
			}
			rs = append(rs, mesosproto.Value_Range{Begin: lo, End: hi})
		}
	}
	return rs.Sort().Squash()
}

// ChoosePorts picks a host port for each of spec's port mappings from free
// (e.g. OfferPorts, less the ports of Runs already packed into the same
// offer): the fixed host port when the mapping names one, else the lowest
// free port. It returns the ports in mapping order and what remains free.
// ErrInsufficientResources means free cannot satisfy the mappings.
func ChoosePorts(free mesosproto.Ranges, spec *apis.RunSpec) (ports []uint32, rest mesosproto.Ranges, err error) {
	mappings := portMappings(spec)
	rest = free.Clone()
	ports = make([]uint32, len(mappings))
	// Fixed ports first, so that a dynamic pick cannot take one.
	for i, m := range mappings {
		if m.HostPort <= 0 {
			continue
		}
		p := uint64(m.HostPort)
		if rest.Search(p) < 0 {
			return nil, free, fmt.Errorf("host port %d: %w", p, ErrInsufficientResources)
		}
		rest = rest.Remove(mesosproto.Value_Range{Begin: p, End: p})
		ports[i] = uint32(p)
	}
	for i, m := range mappings {
		if m.HostPort > 0 {
			continue
		}
		if len(rest) == 0 {
			return nil, free, fmt.Errorf("%d ports: %w", len(mappings), ErrInsufficientResources)
		}
		p := rest.Min()
		rest = rest.Remove(mesosproto.Value_Range{Begin: p, End: p})
		ports[i] = uint32(p)
	}
	return ports, rest, nil
}
