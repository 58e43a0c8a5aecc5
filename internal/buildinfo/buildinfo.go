// Package buildinfo names the version of a sprint binary, so that
// `sprint --version`, `GET /version` and `sprintctl version` say which
// build is running rather than a constant.
package buildinfo

import "runtime/debug"

// Version returns linked when the build set it (make build links the
// output of git describe with -ldflags "-X main.version=…"); else the
// module version Go stamped (a tag, or a pseudo-version when built with
// VCS stamping); else "dev", with the VCS revision when Go recorded one.
func Version(linked string) string {
	if linked != "" {
		return linked
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	return fromBuildInfo(bi)
}

func fromBuildInfo(bi *debug.BuildInfo) string {
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if rev == "" {
		return "dev"
	}
	return "dev+" + rev[:min(len(rev), 12)] + dirty
}
