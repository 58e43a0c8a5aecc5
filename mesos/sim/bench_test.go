package sim

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/recordio"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

// childEnv makes the test binary run a standalone simulator (for the
// benchmark, so the simulator's CPU time can be measured apart from the
// client's).
const childEnv = "MESOS_SIM_BENCH_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		runChildSimulator()
		return
	}
	os.Exit(m.Run())
}

func runChildSimulator() {
	cfg := Config{MasterID: "bench", Seed: 1, HeartbeatInterval: time.Hour, AllocationInterval: 10 * time.Millisecond}
	for i := 0; i < 4; i++ {
		cfg.Agents = append(cfg.Agents, AgentConfig{Resources: "cpus:1000;mem:1000000;disk:100000;ports:[31000-32000]"})
	}
	m, err := New(cfg)
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := m.Start(ctx); err != nil {
		panic(err)
	}
	l, err := netListen()
	if err != nil {
		panic(err)
	}
	fmt.Println(l.Addr().String())
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin) // parent closes stdin to stop us
		cancel()
	}()
	_ = m.Serve(ctx, l)
	_ = m.Close()
}

// procCPU returns the user+system CPU time of a process from /proc.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseInt(fields[11], 10, 64)
	st, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(ut+st) * (time.Second / 100) // USER_HZ
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchClient is a lean scheduler on raw HTTP with mesos-go's protobuf
// types: one SUBSCRIBE stream, ACCEPTs batched per offer, ACKs from a pool.
type benchClient struct {
	url      string
	hc       *http.Client
	streamID string
	fwID     string
}

func (c *benchClient) call(call *scheduler.Call) error {
	call.FrameworkID = &mesos.FrameworkID{Value: c.fwID}
	b, err := call.Marshal()
	if err != nil {
		return err
	}
	req, _ := http.NewRequest(http.MethodPost, c.url+"/api/v1/scheduler", bytes.NewReader(b))
	req.Header.Set("Content-Type", mediaProtobuf)
	req.Header.Set("Mesos-Stream-Id", c.streamID)
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("call %v: status %d", call.Type, resp.StatusCode)
	}
	return nil
}

// runBatch launches n simulated tasks and waits until all are terminal.
func runBatch(url string, n int, batch int) error {
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	fi := frameworkInfo("bench")
	sub := &scheduler.Call{Type: scheduler.Call_SUBSCRIBE, Subscribe: &scheduler.Call_Subscribe{FrameworkInfo: fi}}
	b, _ := sub.Marshal()
	req, _ := http.NewRequest(http.MethodPost, url+"/api/v1/scheduler", bytes.NewReader(b))
	req.Header.Set("Content-Type", mediaProtobuf)
	req.Header.Set("Accept", mediaProtobuf)
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	c := &benchClient{url: url, hc: hc, streamID: resp.Header.Get("Mesos-Stream-Id")}
	events := make(chan *scheduler.Event, 1<<16)
	go func() {
		defer close(events)
		r := recordio.NewReader(resp.Body)
		for {
			f, err := r.ReadFrame()
			if err != nil {
				return
			}
			var e scheduler.Event
			if e.Unmarshal(f) != nil {
				return
			}
			events <- &e
		}
	}()
	acks := make(chan *scheduler.Call, 1<<16)
	errc := make(chan error, 1)
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for a := range acks {
				if err := c.call(a); err != nil {
					select {
					case errc <- err:
					default:
					}
				}
			}
		}()
	}
	defer func() { close(acks); wg.Wait() }()
	launched, done := 0, 0
	for done < n {
		select {
		case err := <-errc:
			return err
		case e, ok := <-events:
			if !ok {
				return fmt.Errorf("stream ended after %d/%d tasks", done, n)
			}
			switch e.Type {
			case scheduler.Event_SUBSCRIBED:
				c.fwID = e.Subscribed.FrameworkID.Value
			case scheduler.Event_OFFERS:
				for _, o := range e.Offers.Offers {
					var tasks []mesos.TaskInfo
					fit := batch
					if r := resByName(o, "cpus"); r == nil || int(r.Scalar.Value*100+1e-6) < fit {
						fit = 0
						if r != nil {
							fit = int(r.Scalar.Value*100 + 1e-6)
						}
					}
					if r := resByName(o, "mem"); r == nil || int(r.Scalar.Value) < fit {
						fit = 0
						if r != nil {
							fit = int(r.Scalar.Value)
						}
					}
					for launched < n && len(tasks) < fit {
						id := "b" + strconv.Itoa(launched)
						tasks = append(tasks, mesos.TaskInfo{Name: id, TaskID: mesos.TaskID{Value: id}, AgentID: o.AgentID,
							Resources: []mesos.Resource{scalar("cpus", 0.01), scalar("mem", 1)}, Command: &mesos.CommandInfo{Value: ptr("true")}})
						launched++
					}
					acc := launch(o, tasks...)
					acc.Accept.Filters = &mesos.Filters{RefuseSeconds: f64(0)}
					if err := c.call(acc); err != nil {
						return err
					}
				}
			case scheduler.Event_UPDATE:
				st := e.Update.Status
				if len(st.UUID) > 0 {
					acks <- &scheduler.Call{Type: scheduler.Call_ACKNOWLEDGE, Acknowledge: &scheduler.Call_Acknowledge{AgentID: *st.AgentID, TaskID: st.TaskID, UUID: st.UUID}}
				}
				if isTerminal(st.GetState()) {
					done++
					if st.GetState() != mesos.TASK_FINISHED {
						return fmt.Errorf("task %s: %v: %s", st.TaskID.Value, st.GetState(), st.GetMessage())
					}
				}
			}
		}
	}
	return c.call(&scheduler.Call{Type: scheduler.Call_TEARDOWN})
}

// BenchmarkLaunch10k launches and finishes 10,000 simulated tasks per
// iteration through the HTTP API (every update ACKed), against a simulator
// in a child process, and reports tasks/s and the simulator's CPU.
func BenchmarkLaunch10k(b *testing.B) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { stdin.Close(); _ = cmd.Wait() }()
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatal(err)
	}
	url := "http://" + strings.TrimSpace(addr)
	const n = 10000
	b.ResetTimer()
	simStart, selfStart, wallStart := procCPU(cmd.Process.Pid), selfCPU(), time.Now()
	for i := 0; i < b.N; i++ {
		if err := runBatch(url, n, 500); err != nil {
			b.Fatal(err)
		}
	}
	wall := time.Since(wallStart)
	b.StopTimer()
	sim, client := procCPU(cmd.Process.Pid)-simStart, selfCPU()-selfStart
	tasks := float64(n * b.N)
	b.ReportMetric(tasks/wall.Seconds(), "tasks/s")
	b.ReportMetric(sim.Seconds()/wall.Seconds(), "sim-cores")
	b.ReportMetric(sim.Seconds()/(sim+client).Seconds()*100, "sim-cpu-%")
	b.ReportMetric(float64(sim.Microseconds())/tasks, "sim-µs/task")
}
