package e2e

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// limitRSS is the memory bound of a process under hostile load: the test
// fails, and the process is killed, as soon as the process's peak resident
// set (the kernel's VmHWM, which no sample can miss) passes limit bytes. A
// regression then fails one test instead of exhausting the machine. It
// returns a function that reports the peak so far.
func (p *proc) limitRSS(t testing.TB, limit int64) (peak func() int64) {
	t.Helper()
	pid := p.cmd.Process.Pid
	stop := make(chan struct{})
	done := make(chan struct{})
	var over int64
	go func() {
		defer close(done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-p.done:
				return
			case <-tick.C:
			}
			if hwm, err := procStatusBytes(pid, "VmHWM"); err == nil && hwm > limit {
				over = hwm
				_ = p.cmd.Process.Kill()
				return
			}
		}
	}()
	t.Cleanup(func() {
		close(stop)
		<-done
		if over > 0 {
			t.Errorf("%s (pid %d) passed its memory bound: peak RSS %d MiB > %d MiB; killed", p.name, pid, over>>20, limit>>20)
		}
	})
	return func() int64 {
		hwm, _ := procStatusBytes(pid, "VmHWM")
		return hwm
	}
}

// procStatusBytes reads one "kB" field (VmRSS, VmHWM) of /proc/PID/status.
func procStatusBytes(pid int, field string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", field, err)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("%s not in /proc/%d/status", field, pid)
}
