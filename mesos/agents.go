package mesos

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"sort"

	"github.com/sprint-project/sprint/apis"
)

// masterAgents is the part of /master/slaves (and of /master/state, which
// has the same "slaves" array) that Agents reads.
type masterAgents struct {
	Slaves []struct {
		ID         string         `json:"id"`
		Hostname   string         `json:"hostname"`
		Active     bool           `json:"active"`
		Resources  map[string]any `json:"resources"`
		Used       map[string]any `json:"used_resources"`
		Offered    map[string]any `json:"offered_resources"`
		Attributes map[string]any `json:"attributes"`
	} `json:"slaves"`
}

// Agents asks the masters, in order, for their agents and their
// resources: /master/slaves, which real masters serve and which is small,
// else /master/state (the simulator serves only that). The first master
// that answers wins; redirects to the leading master are followed.
func (f *Files) Agents(ctx context.Context, masters []string) ([]apis.MesosAgent, error) {
	var errs []error
	for _, m := range masters {
		agents, err := f.agentsOf(ctx, m)
		if err == nil {
			return agents, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	if len(errs) == 0 {
		return nil, fmt.Errorf("agents: no master URL: %w", ErrInvalidConfig)
	}
	return nil, fmt.Errorf("agents: %w", errors.Join(errs...))
}

func (f *Files) agentsOf(ctx context.Context, master string) ([]apis.MesosAgent, error) {
	base, err := ParseMasterURL(master)
	if err != nil {
		return nil, err
	}
	var state masterAgents
	err = f.getJSON(ctx, endpoint(base, "/master/slaves"), &state)
	if errors.Is(err, ErrNotFound) {
		err = f.getJSON(ctx, endpoint(base, "/master/state"), &state)
	}
	if err != nil {
		return nil, err
	}
	out := make([]apis.MesosAgent, 0, len(state.Slaves))
	for _, s := range state.Slaves {
		a := apis.MesosAgent{
			ID: s.ID, Hostname: s.Hostname, Active: s.Active,
			Total: agentResources(s.Resources), Used: agentResources(s.Used), Offered: agentResources(s.Offered),
		}
		a.Free = apis.MesosResources{
			CPUs: nonNegative(a.Total.CPUs - a.Used.CPUs), Mem: nonNegative(a.Total.Mem - a.Used.Mem),
			Disk: nonNegative(a.Total.Disk - a.Used.Disk), GPUs: nonNegative(a.Total.GPUs - a.Used.GPUs),
		}
		if len(s.Attributes) > 0 {
			a.Attributes = make(map[string]string, len(s.Attributes))
			for k, v := range s.Attributes {
				a.Attributes[k] = fmt.Sprint(v)
			}
		}
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Hostname+out[i].ID < out[j].Hostname+out[j].ID })
	return out, nil
}

func endpoint(base *url.URL, p string) string {
	u := *base
	u.Path, u.RawQuery = p, ""
	return u.String()
}

// agentResources reads Mesos' rendering of resources: scalars as numbers,
// ranges as "[a-b, c-d]" strings.
func agentResources(m map[string]any) apis.MesosResources {
	num := func(k string) float64 {
		if v, ok := m[k].(float64); ok && !math.IsNaN(v) && !math.IsInf(v, 0) {
			return v
		}
		return 0
	}
	r := apis.MesosResources{CPUs: num("cpus"), Mem: num("mem"), Disk: num("disk"), GPUs: num("gpus")}
	if p, ok := m["ports"].(string); ok {
		r.Ports = p
	}
	return r
}

// nonNegative rounds to Mesos' three decimals and floors at 0: a float
// subtraction must not show "-0.000" or 0.30000000000000004 cpus.
func nonNegative(v float64) float64 {
	v = math.Round(v*1000) / 1000
	if v < 0 {
		return 0
	}
	return v
}
