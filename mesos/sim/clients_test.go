package sim

import (
	"sync"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/resources"
	"github.com/stretchr/testify/assert"
)

// TestC2_MultiRoleAndPlainFrameworksBothLaunch runs a MULTI_ROLE framework
// and a plain one side by side; each builds its task resources the way
// mesos-go clients do and checks them with mesos-go's own ContainsAll
// against the offer (allocation_info must match exactly).
func TestC2_MultiRoleAndPlainFrameworksBothLaunch(t *testing.T) {
	cfg := fastConfig()
	cfg.Agents = []AgentConfig{{}, {}}
	tm := startMaster(t, cfg)
	multi := frameworkInfo("multi", mesos.FrameworkInfo_Capability_MULTI_ROLE)
	multi.Roles = []string{"*"}
	cases := map[string]*mesos.FrameworkInfo{"MULTI_ROLE": multi, "plain": frameworkInfo("plain")}
	for name, fi := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			mismatches := 0
			final := runTasksWithMesosGo(t, tm.url, mediaProtobuf, fi, 10, func(id string, o mesos.Offer) mesos.TaskInfo {
				want := []mesos.Resource{resources.NewCPUs(0.1).Resource, resources.NewMemory(32).Resource}
				if o.AllocationInfo != nil {
					for i := range want {
						want[i].AllocationInfo = o.AllocationInfo
					}
				}
				if !resources.ContainsAll(o.Resources, want) {
					mu.Lock()
					mismatches++
					mu.Unlock()
				}
				ti := commandTask(id, o, "true", want...)
				return ti
			})
			for id, st := range final {
				assert.Equal(t, mesos.TASK_FINISHED, st, id)
			}
			mu.Lock()
			assert.Zero(t, mismatches, "offered resources match what a %s client asks for", name)
			mu.Unlock()
		})
	}
}
