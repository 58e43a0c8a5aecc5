package apis

import (
	"fmt"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
)

var (
	posixUserRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9._-]{0,30}[A-Za-z0-9._$-]?$`)
	// imageRefRe is the Docker reference grammar (distribution/reference):
	// [registry[:port]/]path[:tag][@digest].
	imageRefRe = regexp.MustCompile(`^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?/)?` +
		`[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*` +
		`(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?` +
		`(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$`)
	networkNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)
)

// MaxImageLength bounds an image reference, as Docker does for names.
const MaxImageLength = 255

// URI schemes the Mesos fetcher handles (http and ftp natively, the rest
// through the Hadoop client on the agent).
var uriSchemes = []string{"http", "https", "ftp", "ftps", "hdfs", "s3", "s3a", "s3n", "file"}

// ConstraintRegexp compiles the value of a LIKE or UNLIKE constraint. As
// in Marathon, the expression must match the whole attribute value.
func ConstraintRegexp(value string) (*regexp.Regexp, error) {
	if _, err := regexp.Compile(value); err != nil {
		return nil, err
	}
	return regexp.Compile(`^(?:` + value + `)$`)
}

func validateContainer(p string, c *Container) ErrorList {
	var errs ErrorList
	switch c.Type {
	case ContainerDocker, ContainerMesos:
	case "":
		errs = append(errs, fieldErr(p+".type", "required: DOCKER or MESOS"))
	default:
		errs = append(errs, fieldErr(p+".type", "unsupported value %q: must be DOCKER or MESOS", c.Type))
	}
	if c.Docker == nil {
		errs = append(errs, fieldErr(p+".docker", "required: both container types run a Docker image"))
	} else {
		errs = append(errs, validateDocker(p+".docker", c.Docker)...)
	}
	switch c.Network {
	case "", NetworkHost, NetworkBridge:
		if len(c.Networks) > 0 {
			errs = append(errs, fieldErr(p+".networks", "only allowed with network USER"))
		}
	case NetworkUser:
		if len(c.Networks) == 0 {
			errs = append(errs, fieldErr(p+".networks", "at least one network is required for network USER"))
		}
	default:
		errs = append(errs, fieldErr(p+".network", "unsupported value %q: must be HOST, BRIDGE or USER", c.Network))
	}
	seenNet := map[string]bool{}
	networks := itemErrors{path: p + ".networks"}
	for i, n := range c.Networks {
		np := fmt.Sprintf("%s.networks[%d].name", p, i)
		switch {
		case n.Name == "":
			networks.add(fieldErr(np, "required"))
		case !networkNameRe.MatchString(n.Name):
			networks.add(fieldErr(np, "invalid value %q: must be at most 63 letters, digits, '_', '.' or '-', starting with a letter or digit", n.Name))
		case seenNet[n.Name]:
			networks.add(fieldErr(np, "duplicate value %q", n.Name))
		}
		seenNet[n.Name] = true
	}
	errs = append(errs, networks.list()...)
	errs = append(errs, validatePortMappings(p+".portMappings", c.PortMappings)...)
	errs = append(errs, validateVolumes(p+".volumes", c.Volumes)...)
	return errs
}

func validateVolumes(p string, volumes []Volume) ErrorList {
	items := itemErrors{path: p}
	seenPath := map[string]bool{}
	for i, v := range volumes {
		var errs ErrorList
		vp := fmt.Sprintf("%s[%d]", p, i)
		switch {
		case v.ContainerPath == "":
			errs = append(errs, fieldErr(vp+".containerPath", "required"))
		case !path.IsAbs(v.ContainerPath):
			errs = append(errs, fieldErr(vp+".containerPath", "must be an absolute path, got %q", v.ContainerPath))
		case seenPath[path.Clean(v.ContainerPath)]:
			errs = append(errs, fieldErr(vp+".containerPath", "duplicate value %q", v.ContainerPath))
		}
		seenPath[path.Clean(v.ContainerPath)] = true
		switch {
		case v.HostPath == "":
			errs = append(errs, fieldErr(vp+".hostPath", "required"))
		case !path.IsAbs(v.HostPath):
			errs = append(errs, fieldErr(vp+".hostPath", "must be an absolute path, got %q", v.HostPath))
		}
		switch v.Mode {
		case "", VolumeRO, VolumeRW:
		default:
			errs = append(errs, fieldErr(vp+".mode", "unsupported value %q: must be RO or RW", v.Mode))
		}
		items.add(errs...)
	}
	return items.list()
}

func validateDocker(p string, d *DockerInfo) ErrorList {
	var errs ErrorList
	switch {
	case d.Image == "":
		errs = append(errs, fieldErr(p+".image", "required"))
	case len(d.Image) > MaxImageLength:
		errs = append(errs, fieldErr(p+".image", "%s", tooLong(MaxImageLength)))
	case !imageRefRe.MatchString(d.Image):
		errs = append(errs, fieldErr(p+".image", "invalid value %q: not a Docker image reference such as \"alpine:3.20\" or \"registry.example.com:5000/team/app@sha256:…\"", d.Image))
	}
	params := itemErrors{path: p + ".parameters"}
	for i, prm := range d.Parameters {
		if prm.Key == "" {
			params.add(fieldErr(fmt.Sprintf("%s.parameters[%d].key", p, i), "required"))
		}
	}
	return append(errs, params.list()...)
}

// protocolSet maps each accepted protocol value to the protocols it uses.
var protocolSet = map[string][]string{
	"tcp": {"tcp"}, "udp": {"udp"}, "tcp,udp": {"tcp", "udp"}, "udp,tcp": {"tcp", "udp"},
}

// validatePortMappings follows Marathon: containerPort 0 means "the same
// as the host port" (the Sprint seed deploys itself that way), hostPort 0
// means a port taken from the offer.
func validatePortMappings(p string, pms []PortMapping) ErrorList {
	items := itemErrors{path: p}
	names := map[string]bool{}
	hostPorts := map[string]bool{} // "tcp/8080"
	for i, pm := range pms {
		var errs ErrorList
		ip := fmt.Sprintf("%s[%d]", p, i)
		if pm.ContainerPort < 0 || pm.ContainerPort > 65535 {
			errs = append(errs, fieldErr(ip+".containerPort", "must be between 0 and 65535, got %d", pm.ContainerPort))
		}
		if pm.HostPort < 0 || pm.HostPort > 65535 {
			errs = append(errs, fieldErr(ip+".hostPort", "must be between 0 and 65535, got %d", pm.HostPort))
		}
		protos, ok := protocolSet[pm.Protocol]
		if pm.Protocol == "" {
			protos, ok = protocolSet[DefaultProtocol], true
		}
		if !ok {
			errs = append(errs, fieldErr(ip+".protocol", "unsupported value %q: must be tcp, udp or \"tcp,udp\"", pm.Protocol))
		}
		if pm.HostPort > 0 {
			for _, proto := range protos {
				key := proto + "/" + strconv.Itoa(int(pm.HostPort))
				if hostPorts[key] {
					errs = append(errs, fieldErr(ip+".hostPort", "duplicate value %d/%s", pm.HostPort, proto))
				}
				hostPorts[key] = true
			}
		}
		if pm.Name != "" {
			if bad := validateDNS1123Label(ip+".name", pm.Name); len(bad) > 0 {
				errs = append(errs, bad...)
			} else if names[pm.Name] {
				errs = append(errs, fieldErr(ip+".name", "duplicate value %q", pm.Name))
			}
			names[pm.Name] = true
		}
		items.add(errs...)
	}
	return items.list()
}

func validateURI(p, v string) ErrorList {
	if v == "" {
		return ErrorList{fieldErr(p, "required")}
	}
	if strings.HasPrefix(v, "/") {
		return nil
	}
	u, err := url.Parse(v)
	if err != nil {
		return ErrorList{fieldErr(p, "invalid URI %q", v)}
	}
	scheme := strings.ToLower(u.Scheme)
	ok := false
	for _, s := range uriSchemes {
		ok = ok || s == scheme
	}
	if !ok {
		return ErrorList{fieldErr(p, "invalid value %q: must be an absolute path or a URI with scheme %s", v, strings.Join(uriSchemes, ", "))}
	}
	if scheme != "file" && u.Host == "" {
		return ErrorList{fieldErr(p, "invalid value %q: a %s URI needs a host", v, scheme)}
	}
	return nil
}
