package sim

import (
	"encoding/json"
	"strings"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// FuzzDecodeCall: the decoder returns a call or a 400/415 callError, never
// panics, and every accepted call survives validation without panicking.
func FuzzDecodeCall(f *testing.F) {
	sub := &scheduler.Call{Type: scheduler.Call_SUBSCRIBE, Subscribe: &scheduler.Call_Subscribe{FrameworkInfo: frameworkInfo("fz")}}
	pb, _ := sub.Marshal()
	js, _ := json.Marshal(sub)
	f.Add(true, pb)
	f.Add(false, js)
	f.Add(false, []byte(`{"type":"ACCEPT","framework_id":{"value":"x"},"accept":{"offer_ids":null,"operations":[{"type":"LAUNCH","launch":{"task_infos":[{"name":"a"}]}}]}}`))
	f.Add(true, []byte{0x10, 0x03, 0x22, 0x00})
	f.Fuzz(func(t *testing.T, proto bool, body []byte) {
		media := mediaJSON
		if proto {
			media = mediaProtobuf
		}
		c, err := decodeCall(media, body)
		if err != nil {
			ce, ok := err.(*callError)
			require.True(t, ok, "%T", err)
			require.Equal(t, 400, ce.status)
			return
		}
		_ = validateCall(c, "")
	})
}

func TestAcceptable(t *testing.T) {
	cases := []struct {
		values []string
		media  string
		want   bool
	}{
		{nil, mediaJSON, true},
		{[]string{"application/json"}, mediaJSON, true},
		{[]string{"APPLICATION/JSON"}, mediaJSON, true},
		{[]string{"text/plain"}, mediaJSON, false},
		{[]string{"*/*;q=0"}, mediaJSON, false},
		{[]string{"application/*;q=0.5, application/json;q=0"}, mediaJSON, false},
		{[]string{"application/json;q=0", "*/*"}, mediaProtobuf, true},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, acceptable(c.values, c.media), "%v %s", c.values, c.media)
	}
}

func TestParseResourcesAndAlgebra(t *testing.T) {
	r, err := parseResources("cpus:4;mem:8192;disk:10000;ports:[31000-31005,31010-31010];gpus:1")
	require.NoError(t, err)
	assert.Equal(t, 4.0, r.scalar("cpus"))
	assert.Equal(t, []mesos.Value_Range{{Begin: 31000, End: 31005}, {Begin: 31010, End: 31010}}, r.ranges["ports"])
	take := newResVec()
	take.scalars["cpus"] = toMilli(0.1)
	take.ranges["ports"] = []mesos.Value_Range{{Begin: 31002, End: 31003}}
	require.True(t, r.contains(take))
	r.sub(take)
	assert.InDelta(t, 3.9, r.scalar("cpus"), 1e-12)
	assert.Equal(t, []mesos.Value_Range{{Begin: 31000, End: 31001}, {Begin: 31004, End: 31005}, {Begin: 31010, End: 31010}}, r.ranges["ports"])
	assert.False(t, r.contains(take))
	r.add(take)
	assert.Equal(t, []mesos.Value_Range{{Begin: 31000, End: 31005}, {Begin: 31010, End: 31010}}, r.ranges["ports"])
	for _, bad := range []string{"cpus", "cpus:x", "ports:[5-1]", "mem:-1"} {
		_, err := parseResources(bad)
		assert.Error(t, err, bad)
	}
	_, _, err = resourcesToVec([]mesos.Resource{{Name: "ports", Type: mesos.RANGES.Enum(), Ranges: &mesos.Value_Ranges{Range: []mesos.Value_Range{{Begin: 1, End: 5}, {Begin: 4, End: 6}}}}})
	assert.ErrorContains(t, err, "overlapping")
	_, _, err = resourcesToVec([]mesos.Resource{{Name: "gpus", Type: mesos.SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: 0.5}}})
	assert.ErrorContains(t, err, "gpus")
}

func TestValidateRoleAndID(t *testing.T) {
	for _, ok := range []string{"*", "eng", "eng/web", "a.b"} {
		assert.NoError(t, validateRole(ok), ok)
	}
	for _, bad := range []string{"", "/a", "a/", "a//b", ".", "a/..", "-a", "a b", "a/*"} {
		assert.Error(t, validateRole(bad), bad)
	}
	for _, bad := range []string{"", ".", "..", "a/b", `a\b`, "a\x01"} {
		assert.Error(t, validateID(bad), bad)
	}
	assert.NoError(t, validateID("task-1.2_x"))
}

// FuzzParseResources: the --resources parser returns an error or a vector
// whose rendering parses back to the same vector.
func FuzzParseResources(f *testing.F) {
	f.Add(DefaultAgentResources)
	f.Add("cpus:0.5;gpus:2;ports:[1-2,4-4]")
	f.Add("mem(*):10;x:[]")
	f.Fuzz(func(t *testing.T, s string) {
		r, err := parseResources(s)
		if err != nil {
			return
		}
		back, err := parseResources(r.String())
		require.NoError(t, err, "%q → %q", s, r.String())
		assert.True(t, back.contains(r) && r.contains(back), "%q → %q", s, r.String())
	})
}

// JSON events carry only the fields that are set, as Mesos writes them: no
// null members and no empty arrays, the rest in order, and a mesos-go
// client decodes the same event.
func TestEncodeEvent_JSONHasOnlySetFields(t *testing.T) {
	cpus := 0.1
	ev := &scheduler.Event{Type: scheduler.Event_OFFERS, Offers: &scheduler.Event_Offers{Offers: []mesos.Offer{{
		ID:          mesos.OfferID{Value: "o1"},
		FrameworkID: mesos.FrameworkID{Value: "f1"},
		AgentID:     mesos.AgentID{Value: "a1"},
		Hostname:    "h<1>",
		Resources:   []mesos.Resource{{Name: "cpus", Type: mesos.SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: cpus}}},
		ExecutorIDs: []mesos.ExecutorID{},
	}}}}
	b, err := encodeEvent(mediaJSON, ev)
	require.NoError(t, err)
	s := string(b)
	assert.NotContains(t, s, "null")
	assert.NotContains(t, s, "[]")
	assert.NotContains(t, s, "executor_ids")
	assert.True(t, strings.HasPrefix(s, `{"type":"OFFERS","offers":{"offers":[{"id":{"value":"o1"}`), s)
	assert.Contains(t, s, `"scalar":{"value":0.1}`)
	assert.Contains(t, s, `"hostname":"h\u003c1\u003e"`, "strings escaped as encoding/json does")

	var back scheduler.Event
	require.NoError(t, json.Unmarshal(b, &back))
	ev.Offers.Offers[0].ExecutorIDs = nil // absent decodes as nil
	assert.Equal(t, ev, &back)
}
