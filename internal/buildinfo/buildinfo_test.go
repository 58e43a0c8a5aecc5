package buildinfo

import (
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestVersion(t *testing.T) {
	assert.Equal(t, "v1.2.3", Version("v1.2.3"), "a linked version wins")
	tests := map[string]struct {
		bi   debug.BuildInfo
		want string
	}{
		"tagged module": {bi: debug.BuildInfo{Main: debug.Module{Version: "v0.4.0"}}, want: "v0.4.0"},
		"devel, no vcs": {bi: debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, want: "dev"},
		"devel, clean":  {bi: debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "false"}}}, want: "dev+0123456789ab"},
		"devel, dirty":  {bi: debug.BuildInfo{Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc"}, {Key: "vcs.modified", Value: "true"}}}, want: "dev+abc-dirty"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) { assert.Equal(t, tc.want, fromBuildInfo(&tc.bi)) })
	}
}
