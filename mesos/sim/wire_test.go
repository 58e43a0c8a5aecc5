package sim

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func subscribeCall(t *testing.T, media string) []byte {
	return marshalCall(t, media, &scheduler.Call{Type: scheduler.Call_SUBSCRIBE,
		Subscribe: &scheduler.Call_Subscribe{FrameworkInfo: frameworkInfo("w")}})
}

func TestW1_RequestRejections(t *testing.T) {
	tm := startMaster(t, fastConfig())
	proto := map[string]string{"Content-Type": mediaProtobuf}
	jsonCT := map[string]string{"Content-Type": mediaJSON}
	cases := map[string]struct {
		method string
		hdr    map[string]string
		body   []byte
		status int
		msg    string
	}{
		"GET":                    {http.MethodGet, proto, nil, 405, "Expecting one of { 'POST' }"},
		"missing content type":   {http.MethodPost, nil, subscribeCall(t, mediaJSON), 400, "Expecting 'Content-Type' to be present"},
		"json with charset":      {http.MethodPost, map[string]string{"Content-Type": "application/json; charset=utf-8"}, subscribeCall(t, mediaJSON), 415, "Expecting 'Content-Type' of application/json or application/x-protobuf"},
		"garbage protobuf":       {http.MethodPost, proto, []byte{0xff, 0xff, 0xff, 0x01}, 400, "Failed to parse body into Call protobuf"},
		"bad json":               {http.MethodPost, jsonCT, []byte(`{"type":`), 400, "Failed to parse body into JSON"},
		"json wrong type":        {http.MethodPost, jsonCT, []byte(`{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":1,"name":"x"}}}`), 400, "Failed to convert JSON into Call protobuf"},
		"json missing required":  {http.MethodPost, jsonCT, []byte(`{"type":"SUBSCRIBE","subscribe":{"framework_info":{"name":"x"}}}`), 400, "Failed to convert JSON into Call protobuf: Missing required fields: subscribe.framework_info.user"},
		"proto missing required": {http.MethodPost, proto, protoWithoutUser(t), 400, "Failed to parse body into Call protobuf"},
		"json missing type":      {http.MethodPost, jsonCT, []byte(`{"framework_id":{"value":"x"}}`), 400, "Expecting 'type' to be present"},
		"json unknown enum name": {http.MethodPost, jsonCT, []byte(`{"type":"NOPE","framework_id":{"value":"x"}}`), 400, "Failed to convert JSON into Call protobuf"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			req, err := http.NewRequest(c.method, tm.url+"/api/v1/scheduler", strings.NewReader(string(c.body)))
			require.NoError(t, err)
			for k, v := range c.hdr {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			body := readBody(t, resp)
			assert.Equal(t, c.status, resp.StatusCode, body)
			assert.Contains(t, body, c.msg)
			assert.Equal(t, "text/plain; charset=utf-8", resp.Header.Get("Content-Type"))
			assert.Equal(t, strconv.Itoa(len(body)), resp.Header.Get("Content-Length"))
			if c.status == 405 {
				assert.Equal(t, "POST", resp.Header.Get("Allow"))
			}
		})
	}
}

// protoWithoutUser encodes a SUBSCRIBE whose FrameworkInfo lacks the
// required user field (hand-built: gogo always writes non-pointer strings).
func protoWithoutUser(t *testing.T) []byte {
	name := "x"
	fi := []byte{0x12, byte(len(name))}
	fi = append(fi, name...)
	sub := append([]byte{0x0a, byte(len(fi))}, fi...)
	return append([]byte{0x10, 0x01, 0x1a, byte(len(sub))}, sub...)
}

func TestW2_SubscribeResponseNegotiation(t *testing.T) {
	tm := startMaster(t, fastConfig())
	cases := map[string]struct {
		accept []string
		status int
		media  string
	}{
		"protobuf":         {[]string{mediaProtobuf}, 200, mediaProtobuf},
		"absent":           {nil, 200, mediaJSON},
		"any":              {[]string{"*/*"}, 200, mediaJSON},
		"both":             {[]string{"application/x-protobuf, application/json"}, 200, mediaJSON},
		"application wild": {[]string{"application/*"}, 200, mediaJSON},
		"json q0":          {[]string{"application/json;q=0, application/x-protobuf"}, 200, mediaProtobuf},
		"text/plain":       {[]string{"text/plain"}, 406, ""},
		"duplicated":       {[]string{mediaProtobuf, mediaProtobuf}, 200, mediaProtobuf},
		"case insensitive": {[]string{"Application/X-Protobuf"}, 200, mediaProtobuf},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, tm.url+"/api/v1/scheduler", strings.NewReader(string(subscribeCall(t, mediaProtobuf))))
			require.NoError(t, err)
			req.Header.Set("Content-Type", mediaProtobuf)
			for _, a := range c.accept {
				req.Header.Add("Accept", a)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, c.status, resp.StatusCode)
			if c.status != 200 {
				assert.Contains(t, readBody(t, resp), "Expecting 'Accept' to allow")
				return
			}
			assert.Equal(t, c.media, resp.Header.Get("Content-Type"))
			assert.NotEmpty(t, resp.Header.Get("Mesos-Stream-Id"))
			assert.Equal(t, []string{"chunked"}, resp.TransferEncoding)
			assert.Equal(t, int64(-1), resp.ContentLength)
			assert.Empty(t, resp.Header.Get("Content-Length"))
		})
	}
}

// rawSubscribe sends SUBSCRIBE over a raw TCP connection so the test sees
// the chunked framing itself.
func rawSubscribe(t *testing.T, addr string) (*bufio.Reader, net.Conn) {
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	body := subscribeCall(t, mediaProtobuf)
	_, err = io.WriteString(conn, "POST /api/v1/scheduler HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nAccept: application/x-protobuf\r\nConnection: close\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"+string(body))
	require.NoError(t, err)
	return bufio.NewReader(conn), conn
}

func TestW3_FirstRecordsAndHeartbeats(t *testing.T) {
	cfg := fastConfig()
	cfg.HeartbeatInterval = 50 * time.Millisecond
	tm := startMaster(t, cfg)

	// Raw framing: each chunk carries exactly one whole record (flushed per record).
	br, conn := rawSubscribe(t, strings.TrimPrefix(tm.url, "http://"))
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(5*time.Second)))
	status, err := br.ReadString('\n')
	require.NoError(t, err)
	require.Contains(t, status, "200 OK")
	for {
		line, err := br.ReadString('\n')
		require.NoError(t, err)
		if line == "\r\n" {
			break
		}
		require.NotContains(t, strings.ToLower(line), "content-length")
	}
	var types []scheduler.Event_Type
	for len(types) < 4 {
		sizeLine, err := br.ReadString('\n')
		require.NoError(t, err)
		chunk, err := strconv.ParseInt(strings.TrimSpace(sizeLine), 16, 64)
		require.NoError(t, err)
		data := make([]byte, chunk+2)
		_, err = io.ReadFull(br, data)
		require.NoError(t, err)
		rec := string(data[:chunk])
		n, payload, ok := strings.Cut(rec, "\n")
		require.True(t, ok, "record %q", rec)
		size, err := strconv.Atoi(n)
		require.NoError(t, err)
		require.Positive(t, size)
		require.Equal(t, size, len(payload), "one record per chunk, size exact")
		var e scheduler.Event
		require.NoError(t, e.Unmarshal([]byte(payload)))
		types = append(types, e.Type)
		if e.Type == scheduler.Event_SUBSCRIBED {
			assert.Equal(t, "m1-0000", e.Subscribed.FrameworkID.Value)
			assert.InDelta(t, 0.05, e.Subscribed.GetHeartbeatIntervalSeconds(), 1e-9)
			require.NotNil(t, e.Subscribed.MasterInfo)
			assert.Equal(t, "m1", e.Subscribed.MasterInfo.ID)
		}
	}
	assert.Equal(t, scheduler.Event_SUBSCRIBED, types[0])
	assert.Equal(t, scheduler.Event_HEARTBEAT, types[1])
	assert.Contains(t, types[2:], scheduler.Event_HEARTBEAT, "periodic heartbeats follow")

	// Through the recordio reader: heartbeats keep coming at the interval.
	s := subscribe(t, tm.url, mediaJSON, frameworkInfo("hb"))
	s.subscribed()
	s.waitFor(2*time.Second, isType(scheduler.Event_HEARTBEAT))
	s.waitFor(2*time.Second, isType(scheduler.Event_HEARTBEAT))
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range s.sizes {
		assert.Positive(t, n)
	}
}

func TestW4_StreamIDAndFrameworkChecks(t *testing.T) {
	tm := startMaster(t, fastConfig())
	// SUBSCRIBE carrying Mesos-Stream-Id → 400.
	resp := post(t, tm.url, map[string]string{"Content-Type": mediaProtobuf, "Mesos-Stream-Id": "x"}, subscribeCall(t, mediaProtobuf))
	assert.Equal(t, 400, resp.StatusCode)
	assert.Contains(t, readBody(t, resp), "Subscribe calls should not include the 'Mesos-Stream-Id' header")

	fi := frameworkInfo("w4")
	ft := 3600.0
	fi.FailoverTimeout = &ft
	s := subscribe(t, tm.url, mediaProtobuf, fi)
	s.subscribed()
	revive := func() *scheduler.Call {
		return &scheduler.Call{Type: scheduler.Call_REVIVE, FrameworkID: &mesos.FrameworkID{Value: s.fwID}}
	}
	// No header → 400.
	resp = post(t, tm.url, map[string]string{"Content-Type": mediaProtobuf}, marshalCall(t, mediaProtobuf, revive()))
	assert.Equal(t, 400, resp.StatusCode)
	assert.Contains(t, readBody(t, resp), "All non-subscribe calls should include the 'Mesos-Stream-Id' header")
	// Stale id → 400.
	resp = post(t, tm.url, map[string]string{"Content-Type": mediaProtobuf, "Mesos-Stream-Id": "stale"}, marshalCall(t, mediaProtobuf, revive()))
	assert.Equal(t, 400, resp.StatusCode)
	assert.Contains(t, readBody(t, resp), "The stream ID 'stale' included in this request didn't match the stream ID currently associated with framework ID "+s.fwID)
	// Unknown framework → 400.
	code, body := s.call(&scheduler.Call{Type: scheduler.Call_REVIVE, FrameworkID: &mesos.FrameworkID{Value: "nope"}})
	assert.Equal(t, 400, code)
	assert.Equal(t, "Framework cannot be found", body)
	// Success → 202, empty body, no Content-Type.
	resp = post(t, tm.url, map[string]string{"Content-Type": mediaProtobuf, "Mesos-Stream-Id": s.streamID}, marshalCall(t, mediaProtobuf, revive()))
	assert.Equal(t, 202, resp.StatusCode)
	assert.Empty(t, resp.Header.Get("Content-Type"))
	assert.Empty(t, readBody(t, resp))
	// Known but disconnected → 403.
	s.close()
	require.Eventually(t, func() bool {
		resp := post(t, tm.url, map[string]string{"Content-Type": mediaProtobuf, "Mesos-Stream-Id": s.streamID}, marshalCall(t, mediaProtobuf, revive()))
		return resp.StatusCode == 403 && readBody(t, resp) == "Framework is not subscribed"
	}, 5*time.Second, 10*time.Millisecond)
}

func TestW5_UnknownCallAndUpdateFramework(t *testing.T) {
	tm := startMaster(t, fastConfig())
	s := subscribe(t, tm.url, mediaProtobuf, frameworkInfo("w5"))
	s.subscribed()
	code, _ := s.call(&scheduler.Call{Type: scheduler.Call_UNKNOWN})
	assert.Equal(t, 501, code)

	fi := frameworkInfo("w5-renamed")
	fi.ID = &mesos.FrameworkID{Value: s.fwID}
	c := &scheduler.Call{Type: scheduler.Call_UPDATE_FRAMEWORK, FrameworkID: fi.ID, UpdateFramework: &scheduler.Call_UpdateFramework{FrameworkInfo: *fi}}
	resp := post(t, tm.url, map[string]string{"Content-Type": mediaProtobuf, "Mesos-Stream-Id": s.streamID}, marshalCall(t, mediaProtobuf, c))
	assert.Equal(t, 200, resp.StatusCode)
	_, hasCT := resp.Header["Content-Type"]
	assert.False(t, hasCT, "no Content-Type")
	assert.Empty(t, readBody(t, resp))

	// Changing the user is a 400 on UPDATE_FRAMEWORK.
	fi.User = "other"
	c.UpdateFramework.FrameworkInfo = *fi
	code, body := s.call(c)
	assert.Equal(t, 400, code)
	assert.Contains(t, body, "FrameworkInfo update is not valid")
}

func TestW6_LeadershipAnswers(t *testing.T) {
	tm := startMaster(t, fastConfig())
	tm.SetLeadership("leader.example:5050", false)
	req, err := http.NewRequest(http.MethodPost, tm.url+"/api/v1/scheduler?x=1", strings.NewReader(""))
	require.NoError(t, err)
	resp, err := http.DefaultTransport.RoundTrip(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 307, resp.StatusCode)
	assert.Equal(t, "//leader.example:5050/api/v1/scheduler?x=1", resp.Header.Get("Location"))

	tm.SetLeadership("", true)
	resp = post(t, tm.url, nil, nil)
	assert.Equal(t, 503, resp.StatusCode)
	assert.Equal(t, "No leader elected", readBody(t, resp))

	tm.SetLeadership("", false)
	tm.SetRecovering(time.Hour)
	resp = post(t, tm.url, nil, nil)
	assert.Equal(t, 503, resp.StatusCode)
	assert.Equal(t, "Master has not finished recovery", readBody(t, resp))

	tm.SetRecovering(0)
	redirect, err := http.NewRequest(http.MethodGet, tm.url+"/master/redirect", nil)
	require.NoError(t, err)
	resp, err = http.DefaultTransport.RoundTrip(redirect)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 307, resp.StatusCode)
	assert.Equal(t, "//"+strings.TrimPrefix(tm.url, "http://"), resp.Header.Get("Location"))
	resp = post(t, tm.url, nil, nil)
	assert.Equal(t, 400, resp.StatusCode, "leader again: normal checks")
	readBody(t, resp)
}

func TestW7_JSONEncoding(t *testing.T) {
	tm := startMaster(t, fastConfig())
	// Raw JSON SUBSCRIBE with null arrays, as mesos-go sends them.
	body := `{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n","capabilities":null,"offer_filters":null},"suppressed_roles":null}}`
	req, err := http.NewRequest(http.MethodPost, tm.url+"/api/v1/scheduler", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", mediaJSON)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	br := bufio.NewReader(resp.Body)
	readRecord := func() map[string]any {
		line, err := br.ReadString('\n')
		require.NoError(t, err)
		n, err := strconv.Atoi(strings.TrimSpace(line))
		require.NoError(t, err)
		buf := make([]byte, n)
		_, err = io.ReadFull(br, buf)
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, json.Unmarshal(buf, &m))
		assertOnlySetFields(t, "", m)
		return m
	}
	first := readRecord()
	assert.Equal(t, "SUBSCRIBED", first["type"], "enum names")
	subd := first["subscribed"].(map[string]any)
	assert.Contains(t, subd, "heartbeat_interval_seconds", "snake_case")
	assert.IsType(t, float64(0), subd["heartbeat_interval_seconds"])
	fwID := subd["framework_id"].(map[string]any)["value"].(string)
	assert.Equal(t, "HEARTBEAT", readRecord()["type"])
	var offers map[string]any
	for offers == nil {
		if r := readRecord(); r["type"] == "OFFERS" {
			offers = r
		}
	}
	o := offers["offers"].(map[string]any)["offers"].([]any)[0].(map[string]any)
	var ports map[string]any
	for _, r := range o["resources"].([]any) {
		if r.(map[string]any)["name"] == "ports" {
			ports = r.(map[string]any)
		}
	}
	require.NotNil(t, ports)
	assert.Equal(t, "RANGES", ports["type"])
	rng := ports["ranges"].(map[string]any)["range"].([]any)[0].(map[string]any)
	assert.IsType(t, float64(0), rng["begin"], "uint64 as a JSON number")

	// bytes are base64 in updates: launch a task and look at the uuid.
	agentID := o["agent_id"].(map[string]any)["value"].(string)
	offerID := o["id"].(map[string]any)["value"].(string)
	accept := `{"type":"ACCEPT","framework_id":{"value":"` + fwID + `"},"accept":{"offer_ids":[{"value":"` + offerID + `"}],"operations":[{"type":"LAUNCH","launch":{"task_infos":[{"name":"t","task_id":{"value":"t1"},"agent_id":{"value":"` + agentID + `"},"resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":0.1}}],"command":{"value":"true"},"labels":null}]}}],"filters":null}}`
	areq, err := http.NewRequest(http.MethodPost, tm.url+"/api/v1/scheduler", strings.NewReader(accept))
	require.NoError(t, err)
	areq.Header.Set("Content-Type", mediaJSON)
	areq.Header.Set("Mesos-Stream-Id", resp.Header.Get("Mesos-Stream-Id"))
	aresp, err := http.DefaultClient.Do(areq)
	require.NoError(t, err)
	require.Equal(t, 202, aresp.StatusCode, readBody(t, aresp))
	for {
		r := readRecord()
		if r["type"] != "UPDATE" {
			continue
		}
		st := r["update"].(map[string]any)["status"].(map[string]any)
		assert.Equal(t, "TASK_STARTING", st["state"])
		assert.Equal(t, "SOURCE_EXECUTOR", st["source"])
		u, ok := st["uuid"].(string)
		require.True(t, ok)
		assert.Len(t, u, 24, "16 bytes in padded standard base64")
		break
	}

	// An unknown enum name is rejected with 400.
	bad := `{"type":"DECLINE","framework_id":{"value":"` + fwID + `"},"decline":{"offer_ids":[],"filters":{"refuse_seconds":1}},"nope":{"x":"SOMETHING"}}`
	_ = bad
	r2 := post(t, tm.url, map[string]string{"Content-Type": mediaJSON, "Mesos-Stream-Id": resp.Header.Get("Mesos-Stream-Id")},
		[]byte(`{"type":"REVIVE_ALL","framework_id":{"value":"`+fwID+`"}}`))
	assert.Equal(t, 400, r2.StatusCode)
	readBody(t, r2)
}

// assertOnlySetFields fails on a null or an empty array anywhere in a JSON
// event: Mesos writes only the fields that are set, and a client written
// against it may iterate a present field.
func assertOnlySetFields(t *testing.T, path string, v any) {
	t.Helper()
	switch x := v.(type) {
	case nil:
		t.Errorf("%s: null in a JSON event", path)
	case map[string]any:
		for k, e := range x {
			assertOnlySetFields(t, path+"."+k, e)
		}
	case []any:
		if len(x) == 0 {
			t.Errorf("%s: empty array in a JSON event", path)
		}
		for i, e := range x {
			assertOnlySetFields(t, fmt.Sprintf("%s[%d]", path, i), e)
		}
	}
}

// TestW6_MesosGoFollowsStandbyRedirect: a standby's 307 Location is one
// mesos-go can follow (it swaps host:port and re-sends SUBSCRIBE).
func TestW6_MesosGoFollowsStandbyRedirect(t *testing.T) {
	leader := startMaster(t, fastConfig())
	standby := startMaster(t, fastConfig())
	standby.SetLeadership(strings.TrimPrefix(leader.url, "http://"), false)
	caller := mesosGoCaller(standby.url, mediaProtobuf)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := caller.Call(ctx, calls.Subscribe(frameworkInfo("redirected")))
	require.NoError(t, err)
	defer resp.Close()
	var e scheduler.Event
	require.NoError(t, resp.Decode(&e))
	assert.Equal(t, scheduler.Event_SUBSCRIBED, e.Type)
	leader.mu.Lock()
	assert.Len(t, leader.frameworks, 1, "registered with the leader")
	leader.mu.Unlock()
	standby.mu.Lock()
	assert.Empty(t, standby.frameworks)
	standby.mu.Unlock()
}
