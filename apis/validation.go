package apis

import (
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Resource maxima. They are far above any real agent, so they only catch
// unit mistakes (mem in bytes instead of MiB) and overflow.
const (
	MaxCpus = 1024
	// MaxMem is 16 TiB in MiB.
	MaxMem = 16 * 1024 * 1024
	// MaxDisk is 1 PiB in MiB.
	MaxDisk = 1024 * 1024 * 1024
	MaxGpus = 64
	// MinScalar is the smallest non-zero resource amount: Mesos stores
	// scalar resources in fixed point with three decimal places, and rounds
	// anything smaller to nothing.
	MinScalar = 0.001
	// MaxBackoffLimit caps relaunches. With back-off capped at 6 minutes,
	// 100 retries already span about ten hours; every attempt is a record
	// in the replicated store and a task on the cluster, so a larger value
	// is almost certainly a mistake (use a scheduler above sprint instead).
	MaxBackoffLimit = 100
	// MaxSeconds (ten years) caps activeDeadlineSeconds and
	// ttlSecondsAfterFinished, far below the overflow of time.Duration.
	MaxSeconds = 10 * 365 * 24 * 3600
)

// ValidateRun returns every problem of a Run, each with its field path, in
// field order. Call SetDefaults first: validation checks the stored form
// (e.g. it accepts an empty container network, which defaults to HOST, but
// not a lower-case one).
func ValidateRun(r *Run) ErrorList {
	var errs ErrorList
	if r.APIVersion != "" && r.APIVersion != APIVersion {
		errs = append(errs, fieldErr("apiVersion", "unsupported value %q: must be %s", r.APIVersion, APIVersion))
	}
	if r.Kind != "" && r.Kind != KindRun {
		errs = append(errs, fieldErr("kind", "unsupported value %q: must be %s", r.Kind, KindRun))
	}
	errs = append(errs, validateObjectMeta(&r.Metadata)...)
	errs = append(errs, ValidateRunSpec(&r.Spec, "spec")...)
	for i, d := range r.Spec.DependsOn {
		if r.Metadata.Name != "" && d.Name == r.Metadata.Name {
			errs = append(errs, fieldErr("spec.dependsOn["+strconv.Itoa(i)+"].name", "a Run cannot depend on itself"))
		}
	}
	for _, ts := range []struct {
		path string
		t    *time.Time
	}{
		{"metadata.creationTimestamp", r.Metadata.CreationTimestamp},
		{"metadata.deletionTimestamp", r.Metadata.DeletionTimestamp},
		{"status.startTime", r.Status.StartTime},
		{"status.completionTime", r.Status.CompletionTime},
		{"status.lastTransitionTime", r.Status.LastTransitionTime},
	} {
		// JSON (RFC 3339) can only carry four-digit years.
		if ts.t != nil && (ts.t.UTC().Year() < 0 || ts.t.UTC().Year() > 9999) {
			errs = append(errs, fieldErr(ts.path, "must be between 0000-01-01 and 9999-12-31 UTC"))
		}
	}
	errs = append(errs, validateStrings("metadata", reflect.ValueOf(&r.Metadata).Elem())...)
	errs = append(errs, validateStrings("status", reflect.ValueOf(&r.Status).Elem())...)
	return errs
}

// specPaths are the field paths ValidateRunSpec passes down whether or not
// they name a problem: built once for "spec", the path of every Run's spec,
// rather than for every Run validated.
type specPaths struct {
	env, cpus, mem, disk, uris, constraints, args, activeDeadlineSeconds, dependsOn string
}

func newSpecPaths(path string) *specPaths {
	return &specPaths{
		env: path + ".env", cpus: path + ".cpus", mem: path + ".mem", disk: path + ".disk",
		uris: path + ".uris", constraints: path + ".constraints", args: path + ".args",
		activeDeadlineSeconds: path + ".activeDeadlineSeconds", dependsOn: path + ".dependsOn",
	}
}

var runSpecPaths = newSpecPaths("spec")

// ValidateRunSpec validates a spec found at path (normally "spec").
func ValidateRunSpec(s *RunSpec, path string) ErrorList {
	var errs ErrorList
	ps := runSpecPaths
	if path != "spec" {
		ps = newSpecPaths(path)
	}
	errs = append(errs, validateCommand(s, path)...)
	errs = append(errs, validateEnv(ps.env, s.Env)...)
	if s.User != "" && !posixUserRe.MatchString(s.User) {
		errs = append(errs, fieldErr(path+".user", "invalid value %q: must be a POSIX user name: at most 32 letters, digits, '.', '_' or '-', not starting with '-', '.' or a digit", s.User))
	}
	errs = append(errs, validateQuantity(ps.cpus, s.Cpus, true, MaxCpus, "")...)
	errs = append(errs, validateQuantity(ps.mem, s.Mem, true, MaxMem, " (16 TiB in MiB)")...)
	errs = append(errs, validateQuantity(ps.disk, s.Disk, false, MaxDisk, " (1 PiB in MiB)")...)
	if s.Gpus < 0 {
		errs = append(errs, fieldErr(path+".gpus", "must be greater than or equal to 0"))
	} else if s.Gpus > MaxGpus {
		errs = append(errs, fieldErr(path+".gpus", "must be no more than %d", MaxGpus))
	}
	if s.Container != nil {
		errs = append(errs, validateContainer(path+".container", s.Container)...)
	}
	uris := itemErrors{path: ps.uris}
	for i, u := range s.URIs {
		uris.add(validateURI(path+".uris["+strconv.Itoa(i)+"].value", u.Value)...)
	}
	errs = append(errs, uris.list()...)
	constraints := itemErrors{path: ps.constraints}
	for i, c := range s.Constraints {
		constraints.add(validateConstraint(path+".constraints["+strconv.Itoa(i)+"]", c)...)
	}
	errs = append(errs, constraints.list()...)
	if strings.IndexByte(s.Command, 0) >= 0 {
		errs = append(errs, fieldErr(path+".command", "must not contain a NUL byte"))
	}
	args := itemErrors{path: ps.args}
	for i, a := range s.Args {
		if strings.IndexByte(a, 0) >= 0 {
			args.add(fieldErr(path+".args["+strconv.Itoa(i)+"]", "must not contain a NUL byte"))
		}
	}
	errs = append(errs, args.list()...)
	errs = append(errs, validateStrings(path, reflect.ValueOf(s).Elem())...)
	errs = append(errs, validateSeconds(ps.activeDeadlineSeconds, s.ActiveDeadlineSeconds)...)
	if s.BackoffLimit < 0 {
		errs = append(errs, fieldErr(path+".backoffLimit", "must be greater than or equal to 0"))
	} else if s.BackoffLimit > MaxBackoffLimit {
		errs = append(errs, fieldErr(path+".backoffLimit", "must be no more than %d", MaxBackoffLimit))
	}
	if s.TTLSecondsAfterFinished != nil {
		errs = append(errs, validateSeconds(path+".ttlSecondsAfterFinished", *s.TTLSecondsAfterFinished)...)
	}
	errs = append(errs, validateDependsOn(ps.dependsOn, s.DependsOn)...)
	return errs
}

func validateCommand(s *RunSpec, path string) ErrorList {
	var errs ErrorList
	// Every container runs an image, which may supply the entrypoint; a
	// container without an image gets its own error below.
	hasImage := s.Container != nil
	switch {
	case s.Command != "" && len(s.Args) > 0:
		errs = append(errs, fieldErr(path+".args", "may not be set together with %s.command: set exactly one", path))
	case s.Command == "" && len(s.Args) == 0 && !hasImage:
		errs = append(errs, fieldErr(path+".command", "one of command or args is required (unless a container image supplies the entrypoint)"))
	}
	if s.Command != "" && strings.TrimSpace(s.Command) == "" {
		errs = append(errs, fieldErr(path+".command", "must not be blank"))
	}
	if len(s.Args) > 0 && s.Args[0] == "" && s.Command == "" && !hasImage {
		errs = append(errs, fieldErr(path+".args[0]", "the program to run must not be empty"))
	}
	return errs
}

func validateQuantity(path string, v float64, positive bool, max float64, unit string) ErrorList {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return ErrorList{fieldErr(path, "must be a finite number")}
	case positive && v <= 0:
		return ErrorList{fieldErr(path, "must be greater than 0")}
	case !positive && v < 0:
		return ErrorList{fieldErr(path, "must be greater than or equal to 0")}
	case v > max:
		return ErrorList{fieldErr(path, "must be no more than %s%s", strconv.FormatFloat(max, 'f', -1, 64), unit)}
	case v > 0 && v < MinScalar:
		return ErrorList{fieldErr(path, "must be 0.001 or more: Mesos keeps resource amounts to three decimal places, so %s would be 0", strconv.FormatFloat(v, 'g', -1, 64))}
	}
	return nil
}

func validateSeconds(path string, v int64) ErrorList {
	if v < 0 {
		return ErrorList{fieldErr(path, "must be greater than or equal to 0")}
	}
	if v > MaxSeconds {
		return ErrorList{fieldErr(path, "must be no more than %d (ten years)", MaxSeconds)}
	}
	return nil
}

// IsReservedEnv reports whether sprint sets the environment variable name
// for every task (DESIGN §1). Runs may not set these: a user value would
// silently break port and identity discovery, so validation rejects them
// rather than warning.
func IsReservedEnv(name string) bool {
	switch name {
	case "HOST", "PORT", "PORTS", "MESOS_TASK_ID", "SPRINT_RUN_NAME":
		return true
	}
	if strings.HasPrefix(name, "PORT_") || strings.HasPrefix(name, "SPRINT_LABEL_") {
		return true
	}
	if rest, ok := strings.CutPrefix(name, "PORT"); ok && rest != "" && strings.Trim(rest, "0123456789") == "" {
		return true
	}
	return false
}

func validateEnv(path string, env map[string]string) ErrorList {
	if envValid(env) {
		return nil // the common case: no item paths, no sorted keys
	}
	return envErrors(path, env)
}

// envErrors is every problem of env, in key order.
func envErrors(path string, env map[string]string) ErrorList {
	errs := itemErrors{path: path}
	for _, k := range sortedKeys(env) {
		// The item's path is built only for a message: most items have
		// none.
		switch {
		case !isEnvName(k):
			errs.add(fieldErr(path+"["+k+"]", "invalid name: must consist of letters, digits or '_', and not start with a digit (e.g. \"MY_VAR\")"))
		case IsReservedEnv(k):
			errs.add(fieldErr(path+"["+k+"]", "reserved: sprint sets HOST, PORT, PORTS, PORT<n>, PORT_*, MESOS_TASK_ID, SPRINT_RUN_NAME and SPRINT_LABEL_* for every task"))
		}
		if strings.IndexByte(env[k], 0) >= 0 {
			errs.add(fieldErr(path+"["+k+"]", "value must not contain a NUL byte"))
		}
	}
	return errs.list()
}

// envValid reports whether validateEnv finds nothing wrong with env,
// without building what only its messages need.
func envValid(env map[string]string) bool {
	for k, v := range env {
		if !isEnvName(k) || IsReservedEnv(k) || strings.IndexByte(v, 0) >= 0 {
			return false
		}
	}
	return true
}

func validateConstraint(path string, c []string) ErrorList {
	if len(c) < 2 || len(c) > 3 {
		return ErrorList{fieldErr(path, "must be [field, OPERATOR] or [field, OPERATOR, value], got %d elements", len(c))}
	}
	var errs ErrorList
	if c[0] == "" {
		errs = append(errs, fieldErr(path+"[0]", "the field (hostname or an agent attribute) is required"))
	}
	op, vp := c[1], path+"[2]"
	hasValue := len(c) == 3
	value := ""
	if hasValue {
		value = c[2]
	}
	switch op {
	case "LIKE", "UNLIKE":
		if !hasValue {
			errs = append(errs, fieldErr(vp, "%s needs a regular expression", op))
		} else if _, err := ConstraintRegexp(value); err != nil {
			errs = append(errs, fieldErr(vp, "invalid regular expression: %v", err))
		}
	case "UNIQUE":
		if hasValue {
			errs = append(errs, fieldErr(vp, "UNIQUE takes no value"))
		}
	case "CLUSTER":
	case "MAX_PER":
		if n, err := strconv.Atoi(value); !hasValue || err != nil || n < 1 {
			errs = append(errs, fieldErr(vp, "MAX_PER needs a positive integer"))
		}
	case "GROUP_BY":
		if n, err := strconv.Atoi(value); hasValue && (err != nil || n < 1) {
			errs = append(errs, fieldErr(vp, "GROUP_BY takes an optional positive integer"))
		}
	default:
		errs = append(errs, fieldErr(path+"[1]", "unsupported operator %q: must be one of LIKE, UNLIKE, UNIQUE, CLUSTER, MAX_PER, GROUP_BY", op))
	}
	return errs
}
