package apis

import (
	"errors"
	"net/http"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDefaultPolicy(t *testing.T) {
	p := DefaultPolicy()
	assert.Empty(t, p.AllowedHostPaths)
	assert.False(t, p.AllowPrivileged)
	assert.Equal(t, []string{"http", "https", "hdfs", "s3", "ftp"}, p.AllowedURISchemes)
}

func dockerSpec(params ...string) *RunSpec {
	s := &RunSpec{Cpus: 1, Mem: 1, Container: &Container{Type: ContainerDocker, Docker: &DockerInfo{Image: "alpine"}}}
	for i := 0; i+1 < len(params); i += 2 {
		s.Container.Docker.Parameters = append(s.Container.Docker.Parameters, Parameter{Key: params[i], Value: params[i+1]})
	}
	return s
}

func volumeSpec(hostPath, mode string) *RunSpec {
	s := dockerSpec()
	s.Container.Volumes = []Volume{{ContainerPath: "/data", HostPath: hostPath, Mode: mode}}
	return s
}

func uriSpec(uris ...string) *RunSpec {
	s := &RunSpec{Command: "true", Cpus: 1, Mem: 1}
	for _, u := range uris {
		s.URIs = append(s.URIs, URI{Value: u})
	}
	return s
}

// TestPolicy_AdmitRunSpec is the table of every rule: nil want means
// admitted; otherwise want is the exact "field: message" of each violation.
func TestPolicy_AdmitRunSpec(t *testing.T) {
	def := DefaultPolicy()
	data := Policy{AllowedHostPaths: []AllowedHostPath{{PathPrefix: "/srv/data"}, {PathPrefix: "/opt/ref", ReadOnly: true}}}
	root := Policy{AllowedHostPaths: []AllowedHostPath{{PathPrefix: "/"}}}
	priv := Policy{AllowPrivileged: true}
	withFile := Policy{AllowedURISchemes: []string{"https", "file"}}
	const param = "spec.container.docker.parameters[0]: "
	const privTail = "; start sprint with --allow-privileged to allow it"
	const vol = "spec.container.volumes[0].hostPath: "
	tests := map[string]struct {
		policy Policy
		spec   *RunSpec
		want   []string
	}{
		"plain command":          {policy: def, spec: &RunSpec{Command: "true", Cpus: 1, Mem: 1}},
		"plain docker container": {policy: def, spec: dockerSpec()},

		// Host paths.
		"hostPath / refused by default": {policy: def, spec: volumeSpec("/", "RW"),
			want: []string{vol + `"/" is not under an allowed host path (allowed: none); start sprint with --allow-host-paths=/ to allow it`}},
		"docker socket refused": {policy: def, spec: volumeSpec("/var/run/docker.sock", "RO"),
			want: []string{vol + `"/var/run/docker.sock" is not under an allowed host path (allowed: none); start sprint with --allow-host-paths=/var/run/docker.sock to allow it`}},
		"prefix itself":            {policy: data, spec: volumeSpec("/srv/data", "RW")},
		"below prefix":             {policy: data, spec: volumeSpec("/srv/data/in/2026", "RW")},
		"trailing slash":           {policy: data, spec: volumeSpec("/srv/data/", "RW")},
		"double slashes":           {policy: data, spec: volumeSpec("//srv//data///in", "RW")},
		"dot elements":             {policy: data, spec: volumeSpec("/srv/./data/./in", "RW")},
		"dots inside a name":       {policy: data, spec: volumeSpec("/srv/data/a..b", "RW")},
		"root prefix allows all":   {policy: root, spec: volumeSpec("/etc", "RW")},
		"lower-case ro is RO":      {policy: data, spec: volumeSpec("/opt/ref/x", "ro")},
		"read-only prefix with RO": {policy: data, spec: volumeSpec("/opt/ref", "RO")},
		"sibling with common string prefix": {policy: data, spec: volumeSpec("/srv/data2", "RW"),
			want: []string{vol + `"/srv/data2" is not under an allowed host path (allowed: /srv/data, /opt/ref:ro); start sprint with --allow-host-paths=/srv/data2 to allow it`}},
		"parent of prefix": {policy: data, spec: volumeSpec("/srv", "RO"),
			want: []string{vol + `"/srv" is not under an allowed host path (allowed: /srv/data, /opt/ref:ro); start sprint with --allow-host-paths=/srv to allow it`}},
		"dot-dot out of prefix": {policy: data, spec: volumeSpec("/srv/data/../../etc", "RO"),
			want: []string{vol + `"/srv/data/../../etc" has a ".." element: host paths that climb are never admitted; name the directory itself`}},
		"dot-dot that stays inside": {policy: data, spec: volumeSpec("/srv/data/x/../y", "RO"),
			want: []string{vol + `"/srv/data/x/../y" has a ".." element: host paths that climb are never admitted; name the directory itself`}},
		"dot-dot even under /": {policy: root, spec: volumeSpec("/..", "RO"),
			want: []string{vol + `"/.." has a ".." element: host paths that climb are never admitted; name the directory itself`}},
		"trailing dot-dot": {policy: data, spec: volumeSpec("/srv/data/..", "RO"),
			want: []string{vol + `"/srv/data/.." has a ".." element: host paths that climb are never admitted; name the directory itself`}},
		"relative path": {policy: root, spec: volumeSpec("srv/data", "RO"),
			want: []string{vol + `"srv/data" is not an absolute path: relative host paths are never admitted`}},
		"read-only prefix with RW": {policy: data, spec: volumeSpec("/opt/ref/x", "RW"),
			want: []string{vol + `"/opt/ref/x" is under /opt/ref, which is allowed read-only: set mode RO, or start sprint with --allow-host-paths=/opt/ref (without :ro) to allow read-write`}},
		"suggestion quotes a path with blanks": {policy: def, spec: volumeSpec("/srv/my data", "RO"),
			want: []string{vol + `"/srv/my data" is not under an allowed host path (allowed: none); start sprint with --allow-host-paths="/srv/my data" to allow it`}},

		// Docker parameters.
		"privileged=true": {policy: def, spec: dockerSpec("privileged", "true"),
			want: []string{param + `"privileged=true" runs the container with every capability and device of the agent` + privTail}},
		"Privileged=TRUE":                 {policy: def, spec: dockerSpec("Privileged", "TRUE"), want: []string{param + `"Privileged=TRUE" runs the container with every capability and device of the agent` + privTail}},
		"--privileged=1":                  {policy: def, spec: dockerSpec("--privileged", "1"), want: []string{param + `"--privileged=1" runs the container with every capability and device of the agent` + privTail}},
		"-privileged with empty value":    {policy: def, spec: dockerSpec(" -privileged ", ""), want: []string{param + `" -privileged =" runs the container with every capability and device of the agent` + privTail}},
		"privileged=true inside the key":  {policy: def, spec: dockerSpec("privileged=true", ""), want: []string{param + `"privileged=true=" runs the container with every capability and device of the agent` + privTail}},
		"privileged=false":                {policy: def, spec: dockerSpec("privileged", "false")},
		"NUL in the key":                  {policy: def, spec: dockerSpec("privileged\x00", "false"), want: []string{param + `"privileged\x00=false" contains a NUL byte, which cuts short the argument Mesos passes to docker` + privTail}},
		"NUL in the value":                {policy: def, spec: dockerSpec("pid", "host\x00x"), want: []string{param + `"pid=host\x00x" contains a NUL byte, which cuts short the argument Mesos passes to docker` + privTail}},
		"privileged=0":                    {policy: def, spec: dockerSpec("privileged", "0")},
		"pid=host":                        {policy: def, spec: dockerSpec("pid", "host"), want: []string{param + `"pid=host" shares the agent's process namespace` + privTail}},
		"PID=HOST":                        {policy: def, spec: dockerSpec("PID", " HOST "), want: []string{param + `"PID= HOST " shares the agent's process namespace` + privTail}},
		"pid=container:x":                 {policy: def, spec: dockerSpec("pid", "container:sprint"), want: []string{param + `"pid=container:sprint" joins the process namespace of another container on the agent` + privTail}},
		"ipc=host":                        {policy: def, spec: dockerSpec("ipc", "host"), want: []string{param + `"ipc=host" shares the agent's IPC namespace` + privTail}},
		"ipc=shareable":                   {policy: def, spec: dockerSpec("ipc", "shareable")},
		"net=host":                        {policy: def, spec: dockerSpec("net", "host"), want: []string{param + `"net=host" shares the agent's network namespace` + privTail}},
		"network=name=host advanced form": {policy: def, spec: dockerSpec("network", "name=host,alias=x"), want: []string{param + `"network=name=host,alias=x" shares the agent's network namespace` + privTail}},
		"network=container:x":             {policy: def, spec: dockerSpec("network", "container:abc"), want: []string{param + `"network=container:abc" joins the network namespace of another container on the agent` + privTail}},
		"network=bridge":                  {policy: def, spec: dockerSpec("network", "bridge")},
		"uts=host":                        {policy: def, spec: dockerSpec("uts", "host"), want: []string{param + `"uts=host" shares the agent's host name namespace` + privTail}},
		"userns=host":                     {policy: def, spec: dockerSpec("userns", "host"), want: []string{param + `"userns=host" shares the agent's user namespace` + privTail}},
		"cgroupns=host":                   {policy: def, spec: dockerSpec("cgroupns", "host"), want: []string{param + `"cgroupns=host" shares the agent's cgroup namespace` + privTail}},
		"cgroupns=private":                {policy: def, spec: dockerSpec("cgroupns", "private")},
		"cap-add=ALL":                     {policy: def, spec: dockerSpec("cap-add", "ALL"), want: []string{param + `"cap-add=ALL" adds capability "ALL" beyond Docker's default set` + privTail}},
		"cap-add=sys_admin":               {policy: def, spec: dockerSpec("cap-add", "sys_admin"), want: []string{param + `"cap-add=sys_admin" adds capability "SYS_ADMIN" beyond Docker's default set` + privTail}},
		"cap_add=CAP_SYS_ADMIN":           {policy: def, spec: dockerSpec("cap_add", "CAP_SYS_ADMIN"), want: []string{param + `"cap_add=CAP_SYS_ADMIN" adds capability "CAP_SYS_ADMIN" beyond Docker's default set` + privTail}},
		"cap-add=NET_RAW (not baseline)":  {policy: def, spec: dockerSpec("cap-add", "NET_RAW"), want: []string{param + `"cap-add=NET_RAW" adds capability "NET_RAW" beyond Docker's default set` + privTail}},
		"cap-add list smuggling":          {policy: def, spec: dockerSpec("cap-add", "CHOWN,SYS_ADMIN"), want: []string{param + `"cap-add=CHOWN,SYS_ADMIN" adds capability "SYS_ADMIN" beyond Docker's default set` + privTail}},
		"cap-add=SYS_ADMIN in the key":    {policy: def, spec: dockerSpec("cap-add=SYS_ADMIN", ""), want: []string{param + `"cap-add=SYS_ADMIN=" adds capability "SYS_ADMIN=" beyond Docker's default set` + privTail}},
		"cap-add of a default capability": {policy: def, spec: dockerSpec("cap-add", "cap_net_bind_service", "cap-add", "CHOWN")},
		"cap-drop=ALL":                    {policy: def, spec: dockerSpec("cap-drop", "ALL")},
		"device":                          {policy: def, spec: dockerSpec("device", "/dev/sda"), want: []string{param + `"device=/dev/sda" gives the container devices of the agent` + privTail}},
		"gpus":                            {policy: def, spec: dockerSpec("gpus", "all"), want: []string{param + `"gpus=all" gives the container devices of the agent` + privTail}},
		"device-cgroup-rule":              {policy: def, spec: dockerSpec("device-cgroup-rule", "a *:* rwm"), want: []string{param + `"device-cgroup-rule=a *:* rwm" gives the container devices of the agent` + privTail}},
		"security-opt seccomp=unconfined": {policy: def, spec: dockerSpec("security-opt", "seccomp=unconfined"), want: []string{param + `"security-opt=seccomp=unconfined" changes the container's confinement (seccomp, AppArmor, SELinux labels or masked /proc paths); only no-new-privileges is admitted` + privTail}},
		"security-opt label:disable":      {policy: def, spec: dockerSpec("security-opt", "label:disable"), want: []string{param + `"security-opt=label:disable" changes the container's confinement (seccomp, AppArmor, SELinux labels or masked /proc paths); only no-new-privileges is admitted` + privTail}},
		"security-opt systempaths":        {policy: def, spec: dockerSpec("security-opt", "systempaths=unconfined"), want: []string{param + `"security-opt=systempaths=unconfined" changes the container's confinement (seccomp, AppArmor, SELinux labels or masked /proc paths); only no-new-privileges is admitted` + privTail}},
		"security-opt no-new-privileges":  {policy: def, spec: dockerSpec("security-opt", "no-new-privileges", "security-opt", "no-new-privileges:true", "security-opt", "no-new-privileges=true")},
		"security-opt no-new-privileges trailer": {policy: def, spec: dockerSpec("security-opt", "no-new-privileges=true,seccomp=unconfined"),
			want: []string{param + `"security-opt=no-new-privileges=true,seccomp=unconfined" changes the container's confinement (seccomp, AppArmor, SELinux labels or masked /proc paths); only no-new-privileges is admitted` + privTail}},
		"volume":        {policy: def, spec: dockerSpec("volume", "/:/host"), want: []string{param + `"volume=/:/host" mounts host paths or other containers' volumes past the host path rule; mount host paths with spec.container.volumes` + privTail}},
		"v":             {policy: def, spec: dockerSpec("v", "/:/host:rw"), want: []string{param + `"v=/:/host:rw" mounts host paths or other containers' volumes past the host path rule; mount host paths with spec.container.volumes` + privTail}},
		"mount":         {policy: def, spec: dockerSpec("mount", "type=bind,source=/,target=/host"), want: []string{param + `"mount=type=bind,source=/,target=/host" mounts host paths or other containers' volumes past the host path rule; mount host paths with spec.container.volumes` + privTail}},
		"volumes-from":  {policy: def, spec: dockerSpec("volumes-from", "sprint"), want: []string{param + `"volumes-from=sprint" mounts host paths or other containers' volumes past the host path rule; mount host paths with spec.container.volumes` + privTail}},
		"volume-driver": {policy: def, spec: dockerSpec("Volume-Driver", "local"), want: []string{param + `"Volume-Driver=local" mounts host paths or other containers' volumes past the host path rule; mount host paths with spec.container.volumes` + privTail}},
		"sysctl unsafe": {policy: def, spec: dockerSpec("sysctl", "kernel.core_pattern=|/tmp/x"),
			want: []string{param + `"sysctl=kernel.core_pattern=|/tmp/x" sets sysctl "kernel.core_pattern", which is not one of the baseline profile's safe sysctls (` + strings.Join(baselineSysctls, ", ") + ")" + privTail}},
		"sysctl slashes": {policy: def, spec: dockerSpec("sysctl", "net/ipv4/ip_forward=1"),
			want: []string{param + `"sysctl=net/ipv4/ip_forward=1" sets sysctl "net.ipv4.ip_forward", which is not one of the baseline profile's safe sysctls (` + strings.Join(baselineSysctls, ", ") + ")" + privTail}},
		"sysctl safe":                          {policy: def, spec: dockerSpec("sysctl", "net.ipv4.tcp_syncookies=1")},
		"cgroup-parent":                        {policy: def, spec: dockerSpec("cgroup-parent", "/"), want: []string{param + `"cgroup-parent=/" moves the container out of the cgroup in which Mesos limits it` + privTail}},
		"env-file":                             {policy: def, spec: dockerSpec("env-file", "/etc/mesos/credentials"), want: []string{param + `"env-file=/etc/mesos/credentials" makes the docker CLI read a file on the agent` + privTail}},
		"cidfile":                              {policy: def, spec: dockerSpec("cidfile", "/etc/cron.d/x"), want: []string{param + `"cidfile=/etc/cron.d/x" makes the docker CLI write a file on the agent` + privTail}},
		"oom-kill-disable":                     {policy: def, spec: dockerSpec("oom-kill-disable", "true"), want: []string{param + `"oom-kill-disable=true" exempts the container from the OOM killer, so that it can exhaust the agent's memory` + privTail}},
		"publish":                              {policy: def, spec: dockerSpec("publish", "22:22"), want: []string{param + `"publish=22:22" publishes ports of the agent outside the offered port resources; use spec.container.portMappings` + privTail}},
		"publish-all=false and harmless flags": {policy: def, spec: dockerSpec("publish-all", "false", "memory-swap", "-1", "tmpfs", "/run", "env", "A=b", "label", "x=y", "ulimit", "nofile=1024")},
		"privileged allowed":                   {policy: priv, spec: dockerSpec("privileged", "true", "pid", "host", "cap-add", "ALL", "volume", "/:/host", "device", "/dev/sda", "security-opt", "seccomp=unconfined")},

		// spec.user.
		"root command task": {policy: def, spec: &RunSpec{Command: "id", User: "root", Cpus: 1, Mem: 1},
			want: []string{`spec.user: "root" runs the task as root on the agent outside Docker's confinement (a command task, or the Mesos containerizer); start sprint with --allow-privileged to allow it`}},
		"root in the Mesos containerizer": {policy: def, spec: func() *RunSpec { s := dockerSpec(); s.Container.Type = ContainerMesos; s.User = "root"; return s }(),
			want: []string{`spec.user: "root" runs the task as root on the agent outside Docker's confinement (a command task, or the Mesos containerizer); start sprint with --allow-privileged to allow it`}},
		"root in a Docker container":   {policy: def, spec: func() *RunSpec { s := dockerSpec(); s.User = "root"; return s }()},
		"root command task privileged": {policy: priv, spec: &RunSpec{Command: "id", User: "root", Cpus: 1, Mem: 1}},
		"other user":                   {policy: def, spec: &RunSpec{Command: "id", User: "nobody", Cpus: 1, Mem: 1}},

		// URIs.
		"https and hdfs":     {policy: def, spec: uriSpec("https://example.com/a.tgz", "hdfs://nn/x", "S3://bucket/k", "HTTP://example.com/b")},
		"file URI refused":   {policy: def, spec: uriSpec("file:///etc/shadow"), want: []string{`spec.uris[0].value: scheme "file" is not allowed (allowed: http, https, hdfs, s3, ftp); start sprint with --allow-uri-schemes=http,https,hdfs,s3,ftp,file to allow it`}},
		"FILE URI refused":   {policy: def, spec: uriSpec("FILE:///etc/shadow"), want: []string{`spec.uris[0].value: scheme "file" is not allowed (allowed: http, https, hdfs, s3, ftp); start sprint with --allow-uri-schemes=http,https,hdfs,s3,ftp,file to allow it`}},
		"file: without host": {policy: def, spec: uriSpec("File:/etc/shadow"), want: []string{`spec.uris[0].value: scheme "file" is not allowed (allowed: http, https, hdfs, s3, ftp); start sprint with --allow-uri-schemes=http,https,hdfs,s3,ftp,file to allow it`}},
		"bare path refused":  {policy: def, spec: uriSpec("/etc/shadow"), want: []string{`spec.uris[0].value: "/etc/shadow" is a path on the agent, which the Mesos fetcher copies into the sandbox; start sprint with --allow-uri-schemes=http,https,hdfs,s3,ftp,file to allow it`}},
		"relative URI":       {policy: def, spec: uriSpec("etc/shadow"), want: []string{`spec.uris[0].value: "etc/shadow" is neither an absolute path nor a URI with an allowed scheme (allowed: http, https, hdfs, s3, ftp)`}},
		"s3a not default":    {policy: def, spec: uriSpec("s3a://bucket/k"), want: []string{`spec.uris[0].value: scheme "s3a" is not allowed (allowed: http, https, hdfs, s3, ftp); start sprint with --allow-uri-schemes=http,https,hdfs,s3,ftp,s3a to allow it`}},
		"zero policy allows no URI": {policy: Policy{}, spec: uriSpec("https://example.com/a"),
			want: []string{`spec.uris[0].value: scheme "https" is not allowed (allowed: none); start sprint with --allow-uri-schemes=https to allow it`}},
		"file allowed": {policy: withFile, spec: uriSpec("file:///srv/x", "/srv/y", "https://example.com/z")},

		// Everything at once: every violation, in field order.
		"every violation listed": {policy: def, spec: func() *RunSpec {
			s := dockerSpec("memory-swap", "-1", "privileged", "true", "pid", "host")
			s.Container.Volumes = []Volume{{ContainerPath: "/a", HostPath: "/srv/ok", Mode: "RW"}, {ContainerPath: "/b", HostPath: "/", Mode: "RW"}}
			s.URIs = []URI{{Value: "https://example.com/a"}, {Value: "file:///etc/shadow"}}
			return s
		}(), want: []string{
			`spec.container.docker.parameters[1]: "privileged=true" runs the container with every capability and device of the agent` + privTail,
			`spec.container.docker.parameters[2]: "pid=host" shares the agent's process namespace` + privTail,
			`spec.container.volumes[0].hostPath: "/srv/ok" is not under an allowed host path (allowed: none); start sprint with --allow-host-paths=/srv/ok to allow it`,
			`spec.container.volumes[1].hostPath: "/" is not under an allowed host path (allowed: none); start sprint with --allow-host-paths=/ to allow it`,
			`spec.uris[1].value: scheme "file" is not allowed (allowed: http, https, hdfs, s3, ftp); start sprint with --allow-uri-schemes=http,https,hdfs,s3,ftp,file to allow it`,
		}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var got []string
			for _, e := range tc.policy.AdmitRunSpec(tc.spec, "spec") {
				got = append(got, e.Error())
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestPolicy_AdmitRunSpec_PathAndClipping(t *testing.T) {
	s := volumeSpec("/"+strings.Repeat("a", 10000), "RO")
	errs := DefaultPolicy().AdmitRunSpec(s, "spec.runTemplate.spec")
	require.Len(t, errs, 1)
	assert.Equal(t, "spec.runTemplate.spec.container.volumes[0].hostPath", errs[0].Field)
	assert.Less(t, len(errs[0].Message), 1000, "a huge value is clipped in the message")
}

func TestPolicy_AdmitRun(t *testing.T) {
	r := &Run{Metadata: ObjectMeta{Name: "x"}, Spec: *volumeSpec("/", "RW")}
	err := DefaultPolicy().AdmitRun(r)
	require.Error(t, err)
	assert.True(t, errors.Is(err, ErrForbidden))
	assert.Equal(t, `Run "x" is forbidden by the admission policy: spec.container.volumes[0].hostPath: "/" is not under an allowed host path (allowed: none); start sprint with --allow-host-paths=/ to allow it`, err.Error())

	st := StatusFromError(err)
	assert.Equal(t, http.StatusForbidden, st.Code)
	assert.Equal(t, ReasonForbidden, st.Reason)
	assert.Equal(t, KindStatus, st.Kind)
	require.NotNil(t, st.Details)
	assert.Equal(t, "x", st.Details.Name)
	assert.Equal(t, KindRun, st.Details.Kind)
	assert.Equal(t, []StatusCause{{Field: "spec.container.volumes[0].hostPath", Message: `"/" is not under an allowed host path (allowed: none); start sprint with --allow-host-paths=/ to allow it`}}, st.Details.Causes)

	wrapped := StatusFromError(errors.Join(ErrForbidden))
	assert.Equal(t, http.StatusForbidden, wrapped.Code, "the sentinel alone maps to 403")

	r.Spec = *dockerSpec()
	assert.NoError(t, DefaultPolicy().AdmitRun(r))
}

func TestPolicy_AdmitRun_BoundsTheCauses(t *testing.T) {
	s := dockerSpec()
	for range 5000 {
		s.Container.Docker.Parameters = append(s.Container.Docker.Parameters, Parameter{Key: "v", Value: "/:/h"})
	}
	assert.Len(t, DefaultPolicy().AdmitRunSpec(s, "spec"), 5000, "the pure check returns every violation")
	err := DefaultPolicy().AdmitRun(&Run{Metadata: ObjectMeta{Name: "x"}, Spec: *s})
	var fe *ForbiddenError
	require.ErrorAs(t, err, &fe)
	require.Len(t, fe.Errors, MaxForbiddenCauses+1)
	assert.Equal(t, "spec.container.docker.parameters[99]", fe.Errors[MaxForbiddenCauses-1].Field)
	assert.Equal(t, &FieldError{Message: "and 4900 more violations of the admission policy"}, fe.Errors[MaxForbiddenCauses])
}

func TestPolicy_AdmitDefinition(t *testing.T) {
	def := ContainerRunDefinition{Cmd: "true", Container: &SprintContainer{Type: ContainerDocker, Docker: &DockerInfo{
		Image:      "alpine",
		Parameters: []Parameter{{Key: "privileged", Value: "true"}, {Key: "publish", Value: "22:22"}},
	}}}
	r, err := RunFromDefinition(def, "id")
	require.NoError(t, err)
	err = DefaultPolicy().AdmitDefinition(r)
	var fe *ForbiddenError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, KindContainerRunDefinition, fe.Kind)
	assert.Empty(t, fe.Name, "the id is never stored: name no object")
	require.Len(t, fe.Errors, 2)
	assert.Equal(t, "container.docker.parameters[0]", fe.Errors[0].Field)
	assert.Equal(t, `"publish=22:22" publishes ports of the agent outside the offered port resources; use container.portMappings; start sprint with --allow-privileged to allow it`, fe.Errors[1].Message)
	assert.True(t, strings.HasPrefix(err.Error(), "ContainerRunDefinition is forbidden by the admission policy: container.docker.parameters[0]: "), err.Error())
}

func TestParseAllowedHostPaths(t *testing.T) {
	tests := map[string]struct {
		in   string
		want []AllowedHostPath
		err  string
	}{
		"empty":           {in: ""},
		"blank entries":   {in: " , ,"},
		"two":             {in: "/srv/data, /opt/ref:ro", want: []AllowedHostPath{{PathPrefix: "/srv/data"}, {PathPrefix: "/opt/ref", ReadOnly: true}}},
		"cleaned":         {in: "/srv/data/,//opt//ref/./:rw", want: []AllowedHostPath{{PathPrefix: "/srv/data"}, {PathPrefix: "/opt/ref"}}},
		"root":            {in: "/", want: []AllowedHostPath{{PathPrefix: "/"}}},
		"duplicate widen": {in: "/srv:ro,/srv/", want: []AllowedHostPath{{PathPrefix: "/srv"}}},
		"duplicate ro":    {in: "/srv:ro,/srv:ro", want: []AllowedHostPath{{PathPrefix: "/srv", ReadOnly: true}}},
		"relative":        {in: "srv/data", err: `"srv/data" is not an absolute path`},
		"dot-dot":         {in: "/srv/../etc", err: `"/srv/../etc" has a ".." element: name the directory itself`},
		"unknown suffix":  {in: "/srv:rx", want: []AllowedHostPath{{PathPrefix: "/srv:rx"}}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParseAllowedHostPaths(tc.in)
			if tc.err != "" {
				require.EqualError(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestParseURISchemes(t *testing.T) {
	got, err := ParseURISchemes(" HTTPS, http,https, file:// ,,")
	require.NoError(t, err)
	assert.Equal(t, []string{"https", "http", "file"}, got)
	got, err = ParseURISchemes("")
	require.NoError(t, err)
	assert.Empty(t, got)
	_, err = ParseURISchemes("http,gopher")
	require.EqualError(t, err, `unknown scheme "gopher": sprint fetches http, https, ftp, ftps, hdfs, s3, s3a, s3n, file`)
}

// FuzzAdmitRunSpec checks the policy against oracles written apart from it:
// an admitted host path is absolute, free of "..", and within an allowed
// prefix by filepath.Rel; an admitted URI has an allowed scheme; a mount
// or device parameter is never admitted without --allow-privileged; and
// widening a policy never refuses what the narrower one admitted.
func FuzzAdmitRunSpec(f *testing.F) {
	f.Add("/srv/data/x", "RW", "/srv/data", false, "privileged", "true", "https://example.com/a", "")
	f.Add("/srv/data2", "RO", "/srv/data:ro", false, "--V", "/:/h", "FILE:///etc/shadow", "root")
	f.Add("//srv/data/../x", "ro", "/", true, "cap_add", "CAP_SYS_ADMIN", "/etc/shadow", "nobody")
	f.Add("srv", "", "/srv/", false, " -Mount=type=bind", "", "hdfs://nn/x", "")
	f.Fuzz(func(t *testing.T, hostPath, mode, allowed string, allowPriv bool, key, value, uri, user string) {
		prefixes, err := ParseAllowedHostPaths(allowed)
		if err != nil {
			return
		}
		narrow := Policy{AllowedHostPaths: prefixes, AllowPrivileged: allowPriv, AllowedURISchemes: []string{"http", "hdfs"}}
		wide := Policy{AllowedHostPaths: []AllowedHostPath{{PathPrefix: "/"}}, AllowPrivileged: true, AllowedURISchemes: []string{"http", "hdfs", "file"}}
		s := &RunSpec{User: user, URIs: []URI{{Value: uri}}, Container: &Container{
			Type:    ContainerDocker,
			Docker:  &DockerInfo{Image: "alpine", Parameters: []Parameter{{Key: key, Value: value}}},
			Volumes: []Volume{{ContainerPath: "/c", HostPath: hostPath, Mode: mode}},
		}}
		refused := map[string]bool{}
		for _, e := range narrow.AdmitRunSpec(s, "spec") {
			if e.Field == "" || e.Message == "" {
				t.Fatalf("violation without field or message: %#v", e)
			}
			refused[e.Field] = true
		}
		for _, e := range wide.AdmitRunSpec(s, "spec") {
			if !refused[e.Field] {
				t.Fatalf("the wider policy refuses what the narrow one admitted: %v", e)
			}
		}

		if !refused["spec.container.volumes[0].hostPath"] {
			clean := path.Clean(hostPath)
			if !strings.HasPrefix(hostPath, "/") || slices.Contains(strings.Split(hostPath, "/"), "..") {
				t.Fatalf("admitted host path %q", hostPath)
			}
			within := false
			for _, a := range prefixes {
				rel, err := filepath.Rel(a.PathPrefix, clean)
				ok := err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
				within = within || (ok && (!a.ReadOnly || strings.EqualFold(mode, "RO")))
			}
			if !within {
				t.Fatalf("admitted %q (mode %q) outside %v", hostPath, mode, prefixes)
			}
		}
		if !refused["spec.uris[0].value"] {
			scheme, _, ok := strings.Cut(uri, ":")
			if !ok || (strings.ToLower(scheme) != "http" && strings.ToLower(scheme) != "hdfs") {
				t.Fatalf("admitted URI %q", uri)
			}
		}
		if !allowPriv && !refused["spec.container.docker.parameters[0]"] {
			name := strings.ToLower(strings.Trim(strings.SplitN(key, "=", 2)[0], " -"))
			switch strings.ReplaceAll(name, "_", "-") {
			case "v", "volume", "mount", "volumes-from", "volume-driver", "device", "gpus", "device-cgroup-rule", "cgroup-parent", "env-file", "label-file", "cidfile":
				t.Fatalf("admitted parameter %q=%q", key, value)
			}
		}
	})
}
