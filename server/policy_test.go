package server_test

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/server"
	"github.com/sprint-project/sprint/server/servertest"
)

func withVolume(hostPath, mode string) func(*apis.Run) {
	return func(r *apis.Run) {
		ensureContainer(r)
		r.Spec.Container.Volumes = append(r.Spec.Container.Volumes, apis.Volume{ContainerPath: "/v" + string(rune('a'+len(r.Spec.Container.Volumes))), HostPath: hostPath, Mode: mode})
	}
}

func withParam(key, value string) func(*apis.Run) {
	return func(r *apis.Run) {
		ensureContainer(r)
		r.Spec.Container.Docker.Parameters = append(r.Spec.Container.Docker.Parameters, apis.Parameter{Key: key, Value: value})
	}
}

func withURI(v string) func(*apis.Run) {
	return func(r *apis.Run) { r.Spec.URIs = append(r.Spec.URIs, apis.URI{Value: v}) }
}

func ensureContainer(r *apis.Run) {
	if r.Spec.Container == nil {
		r.Spec.Container = &apis.Container{Type: apis.ContainerDocker, Docker: &apis.DockerInfo{Image: "alpine:3.20"}}
	}
}

// sprintDef is a Sprint ContainerRunDefinition with the given Docker
// parameters, as JSON.
func sprintDef(params ...string) string {
	var ps []apis.Parameter
	for i := 0; i+1 < len(params); i += 2 {
		ps = append(ps, apis.Parameter{Key: params[i], Value: params[i+1]})
	}
	b, err := json.Marshal(apis.ContainerRunDefinition{
		Cmd:       "true",
		Container: &apis.SprintContainer{Type: apis.ContainerDocker, Docker: &apis.DockerInfo{Image: "alpine:3.20", Parameters: ps}},
	})
	if err != nil {
		panic(err)
	}
	return string(b)
}

// forbidden checks a 403 Status and returns its causes as "field: message".
func forbidden(t *testing.T, r reply) []string {
	t.Helper()
	require.Equal(t, http.StatusForbidden, r.code, "body: %s", r.body)
	st := r.status(t)
	assert.Equal(t, apis.ReasonForbidden, st.Reason)
	assert.Equal(t, "Failure", st.Status)
	require.NotNil(t, st.Details, "body: %s", r.body)
	require.NotEmpty(t, st.Details.Causes, "body: %s", r.body)
	var out []string
	for _, c := range st.Details.Causes {
		assert.NotEmpty(t, c.Field)
		assert.Contains(t, st.Message, c.Field+": "+c.Message, "the message lists every cause")
		out = append(out, c.Field+": "+c.Message)
	}
	return out
}

// requireNothingStored checks that the store holds no Run at all.
func requireNothingStored(t *testing.T, srv *servertest.Server) {
	t.Helper()
	list, err := srv.Store.ListRuns(t.Context(), server.ListOptions{})
	require.NoError(t, err)
	assert.Empty(t, list.Items, "a refused Run is not stored")
}

// TestPolicy_RefusesOnNativeCreatePaths sends each rule's violation through
// POST and PUT, with and without dryRun: 403 with the field and the flag
// that would allow it, and nothing stored (GET afterwards is 404).
func TestPolicy_RefusesOnNativeCreatePaths(t *testing.T) {
	t.Parallel()
	rules := map[string]struct {
		mutate func(*apis.Run)
		field  string
		flag   string
	}{
		"hostPath /":          {mutate: withVolume("/", "RW"), field: "spec.container.volumes[0].hostPath", flag: "--allow-host-paths=/"},
		"docker socket":       {mutate: withVolume("/var/run/docker.sock", "RO"), field: "spec.container.volumes[0].hostPath", flag: "--allow-host-paths=/var/run/docker.sock"},
		"dot-dot":             {mutate: withVolume("/srv/../", "RO"), field: "spec.container.volumes[0].hostPath", flag: `".." element`},
		"privileged":          {mutate: withParam("privileged", "true"), field: "spec.container.docker.parameters[0]", flag: "--allow-privileged"},
		"pid=host":            {mutate: withParam("pid", "host"), field: "spec.container.docker.parameters[0]", flag: "--allow-privileged"},
		"ipc=host":            {mutate: withParam("--IPC", "host"), field: "spec.container.docker.parameters[0]", flag: "--allow-privileged"},
		"net=host":            {mutate: withParam("net", "host"), field: "spec.container.docker.parameters[0]", flag: "--allow-privileged"},
		"uts=host":            {mutate: withParam("uts", "host"), field: "spec.container.docker.parameters[0]", flag: "--allow-privileged"},
		"cap-add=ALL":         {mutate: withParam("cap-add", "ALL"), field: "spec.container.docker.parameters[0]", flag: "--allow-privileged"},
		"device":              {mutate: withParam("device", "/dev/mem"), field: "spec.container.docker.parameters[0]", flag: "--allow-privileged"},
		"security-opt":        {mutate: withParam("security-opt", "apparmor=unconfined"), field: "spec.container.docker.parameters[0]", flag: "--allow-privileged"},
		"volume parameter":    {mutate: withParam("v", "/:/host"), field: "spec.container.docker.parameters[0]", flag: "--allow-privileged"},
		"file URI":            {mutate: withURI("file:///etc/shadow"), field: "spec.uris[0].value", flag: "--allow-uri-schemes=http,https,hdfs,s3,ftp,file"},
		"FILE URI":            {mutate: withURI("FILE:///etc/shadow"), field: "spec.uris[0].value", flag: "--allow-uri-schemes=http,https,hdfs,s3,ftp,file"},
		"bare path URI":       {mutate: withURI("/etc/shadow"), field: "spec.uris[0].value", flag: "--allow-uri-schemes=http,https,hdfs,s3,ftp,file"},
		"root command task":   {mutate: func(r *apis.Run) { r.Spec.User = "root" }, field: "spec.user", flag: "--allow-privileged"},
		"privileged in a key": {mutate: withParam("privileged=true", ""), field: "spec.container.docker.parameters[0]", flag: "--allow-privileged"},
	}
	paths := map[string]func(srv *servertest.Server, name, body string) reply{
		"POST": func(srv *servertest.Server, _, body string) reply {
			return call(t, "POST", srv.URL+"/api/v1/runs", body)
		},
		"POST dryRun": func(srv *servertest.Server, _, body string) reply {
			return call(t, "POST", srv.URL+"/api/v1/runs?dryRun=true", body)
		},
		"PUT": func(srv *servertest.Server, name, body string) reply {
			return call(t, "PUT", srv.URL+"/api/v1/runs/"+name, body)
		},
		"PUT dryRun": func(srv *servertest.Server, name, body string) reply {
			return call(t, "PUT", srv.URL+"/api/v1/runs/"+name+"?dryRun=true", body)
		},
	}
	srv := start(t, server.Config{})
	for rule, tc := range rules {
		for path, send := range paths {
			t.Run(rule+"/"+path, func(t *testing.T) {
				r := send(srv, "x", runJSON("x", tc.mutate))
				causes := forbidden(t, r)
				require.Len(t, causes, 1, "%v", causes)
				assert.True(t, strings.HasPrefix(causes[0], tc.field+": "), causes[0])
				assert.Contains(t, causes[0], tc.flag)
				st := r.status(t)
				assert.Equal(t, "x", st.Details.Name)
				assert.Equal(t, apis.KindRun, st.Details.Kind)
				assert.Empty(t, r.header.Get(server.HeaderApplyResult), "nothing was applied")

				got := call(t, "GET", srv.URL+"/api/v1/runs/x", "")
				assert.Equal(t, http.StatusNotFound, got.code, "nothing stored: %s", got.body)
				requireNothingStored(t, srv)
			})
		}
	}
}

// TestPolicy_RefusesOnSprintCreatePath: the Sprint API's only way to ask
// for the agent is Docker parameters; each is refused with Sprint's field
// paths. Sprint's schema has no privileged, volumes or uris fields, so
// those are unknown fields (400). Nothing is stored either way.
func TestPolicy_RefusesOnSprintCreatePath(t *testing.T) {
	t.Parallel()
	srv := start(t, server.Config{})
	params := map[string][]string{
		"privileged":        {"privileged", "true"},
		"Privileged=True":   {"Privileged", "True"},
		"pid=host":          {"pid", "host"},
		"ipc=host":          {"ipc", "host"},
		"net=host":          {"network", "host"},
		"uts=host":          {"uts", "host"},
		"userns=host":       {"userns", "host"},
		"cap-add=ALL":       {"cap-add", "ALL"},
		"cap-add=SYS_ADMIN": {"--cap-add", "sys_admin"},
		"device":            {"device", "/dev/sda"},
		"security-opt":      {"security-opt", "seccomp=unconfined"},
		"volume /":          {"volume", "/:/host"},
		"docker socket":     {"v", "/var/run/docker.sock:/var/run/docker.sock"},
		"mount":             {"mount", "type=bind,src=/,dst=/host"},
		"volumes-from":      {"volumes-from", "sprint"},
		"NUL-cut key":       {"privileged\x00", "false"},
	}
	for name, p := range params {
		t.Run(name, func(t *testing.T) {
			r := call(t, "POST", srv.URL+"/v1/runs", sprintDef("memory-swap", "-1", p[0], p[1]))
			causes := forbidden(t, r)
			require.Len(t, causes, 1, "%v", causes)
			assert.True(t, strings.HasPrefix(causes[0], "container.docker.parameters[1]: "), causes[0])
			assert.Contains(t, causes[0], "start sprint with --allow-privileged to allow it")
			st := r.status(t)
			assert.Equal(t, apis.KindContainerRunDefinition, st.Details.Kind)
			assert.Empty(t, st.Details.Name, "the id is never stored: no name")
			requireNothingStored(t, srv)
		})
	}
	for name, body := range map[string]string{
		"privileged field": `{"cmd":"true","container":{"type":"DOCKER","docker":{"image":"alpine","privileged":true}}}`,
		"volumes field":    `{"cmd":"true","container":{"type":"DOCKER","docker":{"image":"alpine"},"volumes":[{"containerPath":"/h","hostPath":"/","mode":"RW"}]}}`,
		"uris field":       `{"cmd":"true","uris":["file:///etc/shadow"],"container":{"type":"DOCKER","docker":{"image":"alpine"}}}`,
	} {
		t.Run(name, func(t *testing.T) {
			r := call(t, "POST", srv.URL+"/v1/runs", body)
			assert.Equal(t, http.StatusBadRequest, r.code, "body: %s", r.body)
			assert.Contains(t, r.status(t).Message, "unknown field")
			requireNothingStored(t, srv)
		})
	}
}

// TestPolicy_EveryViolationListed: one request with several violations gets
// them all, in field order.
func TestPolicy_EveryViolationListed(t *testing.T) {
	t.Parallel()
	srv := start(t, server.Config{})
	r := call(t, "POST", srv.URL+"/api/v1/runs", runJSON("x",
		withParam("privileged", "true"), withParam("pid", "host"), withVolume("/", "RW"), withURI("file:///etc/shadow")))
	causes := forbidden(t, r)
	var fields []string
	for _, c := range causes {
		fields = append(fields, c[:strings.Index(c, ": ")])
	}
	assert.Equal(t, []string{
		"spec.container.docker.parameters[0]", "spec.container.docker.parameters[1]",
		"spec.container.volumes[0].hostPath", "spec.uris[0].value",
	}, fields)
	assert.Equal(t, `Run "x" is forbidden by the admission policy: `+strings.Join(causes, "; "), r.status(t).Message)
	requireNothingStored(t, srv)
}

// TestPolicy_ValidationComesFirst: as in Kubernetes (validating admission
// runs after schema validation), an invalid Run gets 422 and only its
// validation errors, even when the policy would refuse it too.
func TestPolicy_ValidationComesFirst(t *testing.T) {
	t.Parallel()
	srv := start(t, server.Config{})
	invalidAndForbidden := runJSON("x", withVolume("/", "RW"), func(r *apis.Run) { r.Spec.Cpus = 0 })
	for _, path := range []string{"POST /api/v1/runs", "PUT /api/v1/runs/x", "POST /api/v1/runs?dryRun=true"} {
		method, url, _ := strings.Cut(path, " ")
		r := call(t, method, srv.URL+url, invalidAndForbidden)
		require.Equal(t, http.StatusUnprocessableEntity, r.code, "%s: %s", path, r.body)
		st := r.status(t)
		require.Len(t, st.Details.Causes, 1)
		assert.Equal(t, "spec.cpus", st.Details.Causes[0].Field)
	}
	r := call(t, "POST", srv.URL+"/v1/runs", `{"cpus":-1,"cmd":"true","container":{"type":"DOCKER","docker":{"image":"alpine","parameters":[{"key":"privileged","value":"true"}]}}}`)
	require.Equal(t, http.StatusUnprocessableEntity, r.code, "body: %s", r.body)
	requireNothingStored(t, srv)
}

// TestPolicy_AllowedByFlags: what the operator allowed is created, on both
// API paths; prefixes match whole path elements and :ro prefixes only
// admit read-only volumes.
func TestPolicy_AllowedByFlags(t *testing.T) {
	t.Parallel()
	srv := start(t, server.Config{Policy: &apis.Policy{
		AllowedHostPaths:  []apis.AllowedHostPath{{PathPrefix: "/srv/data"}, {PathPrefix: "/opt/ref", ReadOnly: true}},
		AllowedURISchemes: []string{"https", "file"},
	}})
	created := map[string]func(*apis.Run){
		"prefix":            withVolume("/srv/data", "RW"),
		"below prefix":      withVolume("/srv/data/in/", "RW"),
		"double slashes":    withVolume("//srv//data/out", "RW"),
		"read-only prefix":  withVolume("/opt/ref/x", "RO"),
		"file URI":          withURI("file:///srv/data/x.csv"),
		"bare path URI":     withURI("/srv/data/y.csv"),
		"https URI":         withURI("HTTPS://example.com/a.tgz"),
		"harmless param":    withParam("memory-swap", "-1"),
		"no-new-privileges": withParam("security-opt", "no-new-privileges"),
	}
	i := 0
	for name, mutate := range created {
		i++
		t.Run("created/"+name, func(t *testing.T) {
			runName := "ok-" + string(rune('a'+i))
			r := call(t, "POST", srv.URL+"/api/v1/runs", runJSON(runName, mutate))
			require.Equal(t, http.StatusCreated, r.code, "body: %s", r.body)
		})
	}
	refused := map[string]struct {
		mutate func(*apis.Run)
		want   string
	}{
		"sibling": {mutate: withVolume("/srv/data2", "RO"),
			want: `spec.container.volumes[0].hostPath: "/srv/data2" is not under an allowed host path (allowed: /srv/data, /opt/ref:ro); start sprint with --allow-host-paths=/srv/data2 to allow it`},
		"read-write under :ro": {mutate: withVolume("/opt/ref/x", "RW"),
			want: `spec.container.volumes[0].hostPath: "/opt/ref/x" is under /opt/ref, which is allowed read-only: set mode RO, or start sprint with --allow-host-paths=/opt/ref (without :ro) to allow read-write`},
		"climbing out": {mutate: withVolume("/srv/data/../../etc", "RO"),
			want: `spec.container.volumes[0].hostPath: "/srv/data/../../etc" has a ".." element: host paths that climb are never admitted; name the directory itself`},
		"http not allowed": {mutate: withURI("http://example.com/a"),
			want: `spec.uris[0].value: scheme "http" is not allowed (allowed: https, file); start sprint with --allow-uri-schemes=https,file,http to allow it`},
	}
	for name, tc := range refused {
		t.Run("refused/"+name, func(t *testing.T) {
			r := call(t, "PUT", srv.URL+"/api/v1/runs/refused", runJSON("refused", tc.mutate))
			assert.Equal(t, []string{tc.want}, forbidden(t, r))
			assert.Equal(t, http.StatusNotFound, call(t, "GET", srv.URL+"/api/v1/runs/refused", "").code)
		})
	}

	priv := start(t, server.Config{Policy: &apis.Policy{AllowPrivileged: true}})
	r := call(t, "POST", priv.URL+"/api/v1/runs", runJSON("p", withParam("privileged", "true"), withParam("pid", "host"), func(r *apis.Run) { r.Spec.Container = nil; r.Spec.User = "root" }))
	require.Equal(t, http.StatusCreated, r.code, "body: %s", r.body)
	r = call(t, "POST", priv.URL+"/v1/runs", sprintDef("privileged", "true", "cap-add", "ALL"))
	require.Equal(t, http.StatusCreated, r.code, "body: %s", r.body)
	r = call(t, "POST", priv.URL+"/api/v1/runs", runJSON("v", withVolume("/", "RW")))
	assert.Equal(t, http.StatusForbidden, r.code, "--allow-privileged does not allow host paths: %s", r.body)
}

// TestPolicy_UpdatesOfStoredRuns: the policy judges creation. A Run stored
// before the policy tightened can still be relabelled and cancelled.
func TestPolicy_UpdatesOfStoredRuns(t *testing.T) {
	t.Parallel()
	srv := start(t, server.Config{})
	old := &apis.Run{Metadata: apis.ObjectMeta{Name: "old"}, Spec: apis.RunSpec{Command: "true", Cpus: 1, Mem: 1}}
	withVolume("/", "RW")(old)
	apis.SetDefaults(old)
	_, err := srv.Store.CreateRun(t.Context(), old)
	require.NoError(t, err)

	r := call(t, "PUT", srv.URL+"/api/v1/runs/old", runJSON("old", withVolume("/", "RW"), func(r *apis.Run) {
		r.Spec.Command, r.Spec.Cpus, r.Spec.Mem, r.Spec.Cancel = "true", 1, 1, true
	}))
	require.Equal(t, http.StatusOK, r.code, "body: %s", r.body)
	assert.Equal(t, server.ApplyConfigured, r.header.Get(server.HeaderApplyResult))
	assert.True(t, r.run(t).Spec.Cancel)
}

// TestPolicy_Endpoint: GET /api/v1/policy answers the leader's policy, also
// through a follower with another policy; ?local=true the answering node's.
func TestPolicy_Endpoint(t *testing.T) {
	t.Parallel()
	leader := start(t, server.Config{NodeID: "n1", Policy: &apis.Policy{
		AllowedHostPaths:  []apis.AllowedHostPath{{PathPrefix: "/srv/data", ReadOnly: true}},
		AllowedURISchemes: []string{"https"},
		NotifierDenyCIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
	}})
	f := follower(t, server.Config{NodeID: "n2", Policy: &apis.Policy{AllowPrivileged: true}}, leader.URL)

	get := func(url string) apis.AdmissionPolicy {
		t.Helper()
		r := call(t, "GET", url, "")
		require.Equal(t, http.StatusOK, r.code, "body: %s", r.body)
		var p apis.AdmissionPolicy
		require.NoError(t, json.Unmarshal(r.body, &p))
		return p
	}
	want := apis.AdmissionPolicy{
		TypeMeta: apis.TypeMeta{APIVersion: apis.APIVersion, Kind: apis.KindAdmissionPolicy},
		NodeID:   "n1", Leader: true,
		Policy: apis.Policy{
			AllowedHostPaths:  []apis.AllowedHostPath{{PathPrefix: "/srv/data", ReadOnly: true}},
			AllowedURISchemes: []string{"https"},
			NotifierDenyCIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
		},
	}
	assert.Equal(t, want, get(leader.URL+"/api/v1/policy"))
	assert.Equal(t, want, get(f.URL+"/api/v1/policy"), "a follower answers with the leader's policy, the one in force")
	assert.Equal(t, apis.AdmissionPolicy{
		TypeMeta: want.TypeMeta, NodeID: "n2", Leader: false,
		Policy: apis.Policy{AllowedHostPaths: []apis.AllowedHostPath{}, AllowPrivileged: true, AllowedURISchemes: []string{},
			NotifierDenyCIDRs: []netip.Prefix{}},
	}, get(f.URL+"/api/v1/policy?local=true"))

	r := call(t, "GET", start(t, server.Config{}).URL+"/api/v1/policy", "")
	require.Equal(t, http.StatusOK, r.code)
	assert.JSONEq(t, `{"apiVersion":"sprint/v1","kind":"AdmissionPolicy","nodeID":"","leader":true,
		"allowedHostPaths":[],"allowPrivileged":false,"allowedURISchemes":["http","https","hdfs","s3","ftp"],"notifierSecretDir":"",
		"notifierDenyCIDRs":["127.0.0.0/8","::1/128","0.0.0.0/8","::/128","169.254.0.0/16","fe80::/10","224.0.0.0/4","ff00::/8"]}`, string(r.body))

	// Writes through the follower meet the leader's policy, not the
	// follower's more permissive one.
	r = call(t, "POST", f.URL+"/api/v1/runs", runJSON("p", withParam("privileged", "true")))
	forbidden(t, r)
	r = call(t, "POST", f.URL+"/v1/runs", sprintDef("privileged", "true"))
	forbidden(t, r)
	requireNothingStored(t, leader)

	r = call(t, "GET", f.URL+"/api/v1/policy?local=maybe", "")
	assert.Equal(t, http.StatusBadRequest, r.code)
}
