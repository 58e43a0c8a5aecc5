package apis

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// baselineCapabilities is Docker's default capability set minus NET_RAW:
// what the Kubernetes baseline profile lets a container add back.
var baselineCapabilities = []string{
	"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
	"NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}

// baselineSysctls are the namespaced sysctls the Kubernetes baseline
// profile calls safe: they cannot affect other containers or the agent.
var baselineSysctls = []string{
	"kernel.shm_rmid_forced",
	"net.ipv4.ip_local_port_range",
	"net.ipv4.ip_unprivileged_port_start",
	"net.ipv4.tcp_syncookies",
	"net.ipv4.ping_group_range",
	"net.ipv4.ip_local_reserved_ports",
	"net.ipv4.tcp_keepalive_time",
	"net.ipv4.tcp_fin_timeout",
	"net.ipv4.tcp_keepalive_intvl",
	"net.ipv4.tcp_keepalive_probes",
}

// dockerFlag returns the docker run flag a parameter sets and the value it
// gives it. Mesos passes each parameter to the docker CLI as
// "--key=value", so a key "cap-add=SYS_ADMIN" sets --cap-add to
// "SYS_ADMIN=" + value. The name is read more widely than Docker reads it
// (leading dashes and surrounding blanks dropped, lower-cased, '_' as '-'),
// so that a spelling Docker would refuse today, or another runtime would
// take, cannot slip past the policy: Docker's flag names are lower-case and
// case-sensitive, so no flag Docker knows changes meaning.
func dockerFlag(p Parameter) (name, value string) {
	key := strings.TrimLeft(strings.TrimSpace(p.Key), "-")
	value = p.Value
	if i := strings.IndexByte(key, '='); i >= 0 {
		key, value = key[:i], key[i+1:]+"="+p.Value
	}
	name = strings.ReplaceAll(strings.ToLower(strings.TrimSpace(key)), "_", "-")
	return name, value
}

// privilegedParameter says why a Docker parameter gives the container more
// of the agent than the baseline profile allows, or "" when it does not.
// Flags are matched by long name and by shorthand (-v), whether or not the
// runtime in use would take the shorthand.
func privilegedParameter(p Parameter) string {
	if strings.ContainsRune(p.Key, 0) || strings.ContainsRune(p.Value, 0) {
		// The agent passes "--key=value" to exec as a C string, which ends
		// at the NUL: "privileged\x00" with value "false" is --privileged.
		return "contains a NUL byte, which cuts short the argument Mesos passes to docker"
	}
	name, value := dockerFlag(p)
	v := strings.ToLower(strings.TrimSpace(value))
	switch name {
	case "privileged":
		if !isFalse(v) {
			return "runs the container with every capability and device of the agent"
		}
	case "pid", "ipc", "uts", "userns", "cgroupns", "net", "network":
		return hostNamespace(name, v)
	case "cap-add":
		for _, c := range listItems(v) {
			capName := strings.TrimPrefix(strings.ToUpper(c), "CAP_")
			if !slices.Contains(baselineCapabilities, capName) {
				return fmt.Sprintf("adds capability %s beyond Docker's default set", strconv.Quote(clipValue(strings.ToUpper(c))))
			}
		}
	case "device", "gpus", "device-cgroup-rule":
		return "gives the container devices of the agent"
	case "security-opt":
		if !isNoNewPrivileges(v) {
			return "changes the container's confinement (seccomp, AppArmor, SELinux labels or masked /proc paths); only no-new-privileges is admitted"
		}
	case "volume", "v", "mount", "volumes-from", "volume-driver":
		return "mounts host paths or other containers' volumes past the host path rule; mount host paths with spec.container.volumes"
	case "sysctl":
		key, _, _ := strings.Cut(v, "=")
		key = strings.ReplaceAll(strings.TrimSpace(key), "/", ".")
		if !slices.Contains(baselineSysctls, key) {
			return fmt.Sprintf("sets sysctl %s, which is not one of the baseline profile's safe sysctls (%s)", strconv.Quote(clipValue(key)), strings.Join(baselineSysctls, ", "))
		}
	case "cgroup-parent":
		return "moves the container out of the cgroup in which Mesos limits it"
	case "env-file", "label-file":
		return "makes the docker CLI read a file on the agent"
	case "cidfile":
		return "makes the docker CLI write a file on the agent"
	case "oom-kill-disable":
		if !isFalse(v) {
			return "exempts the container from the OOM killer, so that it can exhaust the agent's memory"
		}
	case "publish", "p", "publish-all":
		if name != "publish-all" || !isFalse(v) {
			return "publishes ports of the agent outside the offered port resources; use spec.container.portMappings"
		}
	}
	return ""
}

// hostNamespace checks a namespace flag: "host" shares the agent's
// namespace and "container:<id>" another container's (another tenant's,
// or sprint's own when it runs in Docker). --network also takes the
// advanced "name=host,alias=…" form.
func hostNamespace(name, v string) string {
	for _, item := range listItems(v) {
		if rest, ok := strings.CutPrefix(item, "name="); ok && (name == "net" || name == "network") {
			item = rest
		}
		switch {
		case item == "host":
			return fmt.Sprintf("shares the agent's %s namespace", namespaceNames[name])
		case strings.HasPrefix(item, "container:") || item == "container":
			return fmt.Sprintf("joins the %s namespace of another container on the agent", namespaceNames[name])
		}
	}
	return ""
}

var namespaceNames = map[string]string{
	"pid": "process", "ipc": "IPC", "uts": "host name", "userns": "user",
	"cgroupns": "cgroup", "net": "network", "network": "network",
}

// listItems splits a flag value on commas, trimming blanks: Docker takes
// one item per flag, but reading a list refuses "CHOWN,SYS_ADMIN" whatever
// a runtime makes of it.
func listItems(v string) []string {
	var out []string
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	if len(out) == 0 {
		out = []string{""}
	}
	return out
}

// isFalse reports whether a boolean flag's value is false as the docker CLI
// parses it (strconv.ParseBool). Anything else, an empty value included,
// counts as true.
func isFalse(v string) bool {
	b, err := strconv.ParseBool(v)
	return err == nil && !b
}

// isNoNewPrivileges reports whether a --security-opt value only sets
// no-new-privileges, which hardens the container.
func isNoNewPrivileges(v string) bool {
	rest, ok := strings.CutPrefix(v, "no-new-privileges")
	if !ok {
		return false
	}
	if rest == "" {
		return true
	}
	if rest[0] != '=' && rest[0] != ':' {
		return false
	}
	_, err := strconv.ParseBool(rest[1:])
	return err == nil
}
