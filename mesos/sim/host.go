package sim

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// HostConfig is the embedded default (sprint without --mesos-master): one
// agent sized to this host (runtime.NumCPU cpus, MemTotal of /proc/meminfo,
// the free space under workDir, ports 31000-32000) running tasks as local
// processes with sandboxes under workDir (prepared by PrepareWorkDir), each
// as its user as Mesos' --switch_user does, with no environment but what an
// agent gives, and Mesos' production intervals. Authentication is the
// caller's to turn on.
func HostConfig(workDir string) (Config, error) {
	if err := PrepareWorkDir(workDir); err != nil {
		return Config{}, fmt.Errorf("host config: %w", err)
	}
	mem := hostMemoryMB()
	disk := 10000.0
	var fs syscall.Statfs_t
	if err := syscall.Statfs(workDir, &fs); err == nil {
		disk = float64(fs.Bavail) * float64(fs.Bsize) / (1 << 20)
	}
	res := fmt.Sprintf("cpus:%d;mem:%.0f;disk:%.0f;ports:[31000-32000]", runtime.NumCPU(), mem, disk)
	return Config{
		WorkDir:    workDir,
		Agents:     []AgentConfig{{Resources: res, Executor: ExecutorProcess}},
		SwitchUser: true,
	}, nil
}

// hostMemoryMB reads MemTotal from /proc/meminfo (4096 MB if unavailable).
func hostMemoryMB() float64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 4096
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			if kb, err := strconv.ParseFloat(fields[1], 64); err == nil {
				return kb / 1024
			}
		}
	}
	return 4096
}

// NewHost builds the embedded default Master: New(HostConfig(workDir)).
func NewHost(workDir string, opts ...Option) (*Master, error) {
	cfg, err := HostConfig(workDir)
	if err != nil {
		return nil, err
	}
	return New(cfg, opts...)
}
