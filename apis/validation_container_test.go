package apis

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestValidateRun_Container(t *testing.T) {
	const p = "spec.container"
	tests := map[string]struct {
		edit func(c *Container)
		want []string
	}{
		"valid full": {edit: func(c *Container) {
			c.Type = ContainerMesos
			c.Docker = &DockerInfo{Image: "registry.example.com:5000/team/app_x@sha256:" + strings.Repeat("a", 64), Parameters: []Parameter{{Key: "memory-swap", Value: "-1"}}}
			c.Network = NetworkUser
			c.Networks = []Network{{Name: "dcos"}, {Name: "Net_2.b"}}
			c.PortMappings = []PortMapping{{ContainerPort: 8080, Name: "http"}, {ContainerPort: 0, HostPort: 31000, Protocol: "udp"}, {ContainerPort: 53, HostPort: 31000, Protocol: "tcp"}}
			c.Volumes = []Volume{{ContainerPath: "/data", HostPath: "/srv/data", Mode: VolumeRO}}
		}},
		"empty network ok": {edit: func(c *Container) { c.Network = "" }},
		"type required":    {edit: func(c *Container) { c.Type = "" }, want: []string{p + ".type: required: DOCKER or MESOS"}},
		"type bad":         {edit: func(c *Container) { c.Type = "RKT" }, want: []string{p + `.type: unsupported value "RKT": must be DOCKER or MESOS`}},
		"docker required":  {edit: func(c *Container) { c.Docker = nil }, want: []string{p + ".docker: required: both container types run a Docker image"}},
		"image required":   {edit: func(c *Container) { c.Docker.Image = "" }, want: []string{p + ".docker.image: required"}},
		"image bad": {edit: func(c *Container) { c.Docker.Image = "Alpine:3.20" }, want: []string{
			p + `.docker.image: invalid value "Alpine:3.20": not a Docker image reference such as "alpine:3.20" or "registry.example.com:5000/team/app@sha256:…"`}},
		"image space": {edit: func(c *Container) { c.Docker.Image = "alpine latest" }, want: []string{
			p + `.docker.image: invalid value "alpine latest": not a Docker image reference such as "alpine:3.20" or "registry.example.com:5000/team/app@sha256:…"`}},
		"image too long":      {edit: func(c *Container) { c.Docker.Image = strings.Repeat("a", 256) }, want: []string{p + ".docker.image: must be no more than 255 characters"}},
		"parameter key":       {edit: func(c *Container) { c.Docker.Parameters = []Parameter{{Value: "x"}} }, want: []string{p + ".docker.parameters[0].key: required"}},
		"network bad":         {edit: func(c *Container) { c.Network = "NONE" }, want: []string{p + `.network: unsupported value "NONE": must be HOST, BRIDGE or USER`}},
		"user needs networks": {edit: func(c *Container) { c.Network = NetworkUser }, want: []string{p + ".networks: at least one network is required for network USER"}},
		"networks only user":  {edit: func(c *Container) { c.Network = NetworkBridge; c.Networks = []Network{{Name: "a"}} }, want: []string{p + ".networks: only allowed with network USER"}},
		"network names": {edit: func(c *Container) {
			c.Network = NetworkUser
			c.Networks = []Network{{Name: ""}, {Name: "a b"}, {Name: "x"}, {Name: "x"}}
		}, want: []string{
			p + ".networks[0].name: required",
			p + `.networks[1].name: invalid value "a b": must be at most 63 letters, digits, '_', '.' or '-', starting with a letter or digit`,
			p + `.networks[3].name: duplicate value "x"`,
		}},
		"ports range": {edit: func(c *Container) {
			c.PortMappings = []PortMapping{{ContainerPort: -1, HostPort: 65536}, {ContainerPort: 65536, HostPort: -2}}
		}, want: []string{
			p + ".portMappings[0].containerPort: must be between 0 and 65535, got -1",
			p + ".portMappings[0].hostPort: must be between 0 and 65535, got 65536",
			p + ".portMappings[1].containerPort: must be between 0 and 65535, got 65536",
			p + ".portMappings[1].hostPort: must be between 0 and 65535, got -2",
		}},
		"protocol bad": {edit: func(c *Container) { c.PortMappings = []PortMapping{{ContainerPort: 80, Protocol: "sctp"}} }, want: []string{
			p + `.portMappings[0].protocol: unsupported value "sctp": must be tcp, udp or "tcp,udp"`}},
		"duplicate host port": {edit: func(c *Container) {
			c.PortMappings = []PortMapping{{ContainerPort: 80, HostPort: 8080}, {ContainerPort: 81, HostPort: 8080, Protocol: "tcp,udp"}, {ContainerPort: 82}, {ContainerPort: 83}}
		}, want: []string{p + ".portMappings[1].hostPort: duplicate value 8080/tcp"}},
		"port names": {edit: func(c *Container) {
			c.PortMappings = []PortMapping{{ContainerPort: 80, Name: "http"}, {ContainerPort: 81, Name: "http"}, {ContainerPort: 82, Name: "Bad_Name"}}
		}, want: []string{
			p + `.portMappings[1].name: duplicate value "http"`,
			p + `.portMappings[2].name: invalid value "Bad_Name": must consist of lower case letters, digits or '-', and start and end with a letter or digit (e.g. "nightly-etl")`,
		}},
		"volumes": {edit: func(c *Container) {
			c.Volumes = []Volume{{}, {ContainerPath: "data", HostPath: "srv", Mode: "rw"}, {ContainerPath: "/a/", HostPath: "/b"}, {ContainerPath: "/a", HostPath: "/c"}}
		}, want: []string{
			p + ".volumes[0].containerPath: required",
			p + ".volumes[0].hostPath: required",
			p + `.volumes[1].containerPath: must be an absolute path, got "data"`,
			p + `.volumes[1].hostPath: must be an absolute path, got "srv"`,
			p + `.volumes[1].mode: unsupported value "rw": must be RO or RW`,
			p + `.volumes[3].containerPath: duplicate value "/a"`,
		}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := dockerRun()
			tc.edit(r.Spec.Container)
			assert.Equal(t, tc.want, messagesOrNil(ValidateRun(r)))
		})
	}
}

func TestValidateRun_URIs(t *testing.T) {
	tests := map[string]struct {
		value string
		want  []string
	}{
		"https":         {value: "https://example.org/etl.tgz"},
		"hdfs":          {value: "hdfs://nn:8020/x.jar"},
		"s3":            {value: "s3://bucket/key"},
		"file":          {value: "file:///srv/x"},
		"absolute path": {value: "/srv/x.tgz"},
		"upper scheme":  {value: "HTTP://example.org/x"},
		"empty":         {value: "", want: []string{"spec.uris[0].value: required"}},
		"relative":      {value: "x.tgz", want: []string{`spec.uris[0].value: invalid value "x.tgz": must be an absolute path or a URI with scheme http, https, ftp, ftps, hdfs, s3, s3a, s3n, file`}},
		"bad scheme":    {value: "gopher://h/x", want: []string{`spec.uris[0].value: invalid value "gopher://h/x": must be an absolute path or a URI with scheme http, https, ftp, ftps, hdfs, s3, s3a, s3n, file`}},
		"no host":       {value: "http:///x", want: []string{`spec.uris[0].value: invalid value "http:///x": a http URI needs a host`}},
		"unparseable":   {value: "http://[::1", want: []string{`spec.uris[0].value: invalid URI "http://[::1"`}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := validRun()
			r.Spec.URIs = []URI{{Value: tc.value}}
			assert.Equal(t, tc.want, messagesOrNil(ValidateRun(r)))
		})
	}
}

func TestValidateRun_Constraints(t *testing.T) {
	const p = "spec.constraints[0]"
	tests := map[string]struct {
		c    []string
		want []string
	}{
		"like":            {c: []string{"rack", "LIKE", "r[12]"}},
		"unlike":          {c: []string{"zone", "UNLIKE", "eu-.*"}},
		"unique":          {c: []string{"hostname", "UNIQUE"}},
		"cluster":         {c: []string{"rack", "CLUSTER", "r1"}},
		"cluster novalue": {c: []string{"rack", "CLUSTER"}},
		"max per":         {c: []string{"rack", "MAX_PER", "2"}},
		"group by":        {c: []string{"rack", "GROUP_BY"}},
		"group by n":      {c: []string{"rack", "GROUP_BY", "3"}},
		"too short":       {c: []string{"rack"}, want: []string{p + ": must be [field, OPERATOR] or [field, OPERATOR, value], got 1 elements"}},
		"too long":        {c: []string{"a", "LIKE", "b", "c"}, want: []string{p + ": must be [field, OPERATOR] or [field, OPERATOR, value], got 4 elements"}},
		"field required":  {c: []string{"", "UNIQUE"}, want: []string{p + "[0]: the field (hostname or an agent attribute) is required"}},
		"bad operator":    {c: []string{"rack", "like", "x"}, want: []string{p + `[1]: unsupported operator "like": must be one of LIKE, UNLIKE, UNIQUE, CLUSTER, MAX_PER, GROUP_BY`}},
		"like no value":   {c: []string{"rack", "LIKE"}, want: []string{p + "[2]: LIKE needs a regular expression"}},
		"unlike bad re":   {c: []string{"rack", "UNLIKE", "r[1"}, want: []string{p + "[2]: invalid regular expression: error parsing regexp: missing closing ]: `[1`"}},
		"unique value":    {c: []string{"hostname", "UNIQUE", "x"}, want: []string{p + "[2]: UNIQUE takes no value"}},
		"max per missing": {c: []string{"rack", "MAX_PER"}, want: []string{p + "[2]: MAX_PER needs a positive integer"}},
		"max per zero":    {c: []string{"rack", "MAX_PER", "0"}, want: []string{p + "[2]: MAX_PER needs a positive integer"}},
		"group by bad":    {c: []string{"rack", "GROUP_BY", "x"}, want: []string{p + "[2]: GROUP_BY takes an optional positive integer"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := validRun()
			r.Spec.Constraints = [][]string{tc.c}
			assert.Equal(t, tc.want, messagesOrNil(ValidateRun(r)))
		})
	}
}

func TestConstraintRegexp_MatchesWholeValue(t *testing.T) {
	re, err := ConstraintRegexp("r[12]")
	if assert.NoError(t, err) {
		assert.True(t, re.MatchString("r1"))
		assert.False(t, re.MatchString("r12"))
		assert.False(t, re.MatchString("xr1"))
	}
	_, err = ConstraintRegexp("a)|(b")
	assert.Error(t, err, "the anchoring group must not let an unbalanced expression through")
}
