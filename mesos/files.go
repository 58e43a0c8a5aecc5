package mesos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/sprint-project/sprint/internal/backoff"
	"github.com/sprint-project/sprint/internal/clock"
)

// FilesConfig configures Files. Zero fields take defaults.
type FilesConfig struct {
	// HTTP is the client for masters and agents; default one with a 30 s
	// timeout.
	HTTP *http.Client
	// Principal and Secret enable HTTP basic authentication, for agents
	// started with --authenticate_http_readonly.
	Principal string
	Secret    string
	// PollMin and PollMax bound Follow's back-off while a file does not
	// grow (default 250 ms and 2 s).
	PollMin time.Duration
	PollMax time.Duration
	// ChunkSize is how much Follow and TailOffset read per request
	// (default 64 KiB).
	ChunkSize int64
}

// Files reads task sandboxes through Mesos agents' /files API, and finds
// agents and sandboxes through the master's and agents' /state, as
// sprintctl logs needs.
//
// Assumed Mesos shapes (1.x; the simulator serves the same):
//   - master GET /master/state: {"slaves":[{"id","pid":"slave(1)@ip:port","hostname","port"}]}
//   - agent GET /state: {"frameworks":[{"id","executors":[{"id","directory","tasks":[{"id"}],
//     "queued_tasks","completed_tasks"}],"completed_executors":[…]}],"completed_frameworks":[…]}
//   - agent GET /files/read?path=P&offset=O&length=L: {"data":"…","offset":O};
//     offset -1 answers the file's size in "offset"; 404 for a missing file.
type Files struct {
	http              *http.Client
	principal, secret string
	pollMin, pollMax  time.Duration
	chunk             int64
}

// NewFiles returns a Files for cfg.
func NewFiles(cfg FilesConfig) *Files {
	f := &Files{http: cfg.HTTP, principal: cfg.Principal, secret: cfg.Secret,
		pollMin: cfg.PollMin, pollMax: cfg.PollMax, chunk: cfg.ChunkSize}
	if f.http == nil {
		f.http = &http.Client{Timeout: 30 * time.Second}
	}
	if f.pollMin <= 0 {
		f.pollMin = 250 * time.Millisecond
	}
	if f.pollMax < f.pollMin {
		f.pollMax = max(2*time.Second, f.pollMin)
	}
	if f.chunk <= 0 {
		f.chunk = 64 << 10
	}
	return f
}

// ReadFile reads up to length bytes (length ≤ 0: as much as the agent
// gives) of the sandbox file at path from offset, and returns them with
// the offset to read next. Offset -1 reads nothing and returns the file's
// size. A missing file is ErrNotFound.
func (f *Files) ReadFile(ctx context.Context, agentURL, filePath string, offset, length int64) (data []byte, nextOffset int64, err error) {
	q := url.Values{"path": {filePath}, "offset": {strconv.FormatInt(offset, 10)}}
	if length > 0 {
		q.Set("length", strconv.FormatInt(length, 10))
	}
	var out struct {
		Data   string `json:"data"`
		Offset int64  `json:"offset"`
	}
	if err := f.getJSON(ctx, strings.TrimRight(agentURL, "/")+"/files/read?"+q.Encode(), &out); err != nil {
		return nil, offset, fmt.Errorf("read %s: %w", filePath, err)
	}
	if offset < 0 {
		return nil, out.Offset, nil
	}
	return []byte(out.Data), out.Offset + int64(len(out.Data)), nil
}

// Follow copies the file to w from offset as it grows, like tail -f,
// polling with back-off between PollMin and PollMax while nothing is new.
// It returns the offset reached when ctx ends (with nil error) or, once
// done reports true (e.g. the task is terminal), after the rest of the
// file was copied; done may be nil. A file that does not exist yet is
// waited for.
func (f *Files) Follow(ctx context.Context, agentURL, filePath string, offset int64, w io.Writer, done func() bool) (int64, error) {
	poll := backoff.Retry{Policy: backoff.Policy{Initial: f.pollMin, Max: f.pollMax}}
	for {
		// Asked before reading, so that output written before the task
		// ended is not lost.
		finished := done != nil && done()
		data, next, err := f.ReadFile(ctx, agentURL, filePath, offset, f.chunk)
		switch {
		case ctx.Err() != nil:
			return offset, nil
		case err != nil && !errors.Is(err, ErrNotFound):
			return offset, err
		case len(data) > 0:
			if _, err := w.Write(data); err != nil {
				return offset, fmt.Errorf("follow %s: %w", filePath, err)
			}
			offset = next
			poll.Reset()
			continue
		case finished:
			return offset, nil
		}
		if clock.Sleep(ctx, clock.Real{}, poll.Next()) != nil {
			return offset, nil
		}
	}
}

// TailOffset returns the offset at which the last n lines of the file
// start (a final newline does not start a line), for sprintctl logs
// --tail N.
func (f *Files) TailOffset(ctx context.Context, agentURL, filePath string, n int) (int64, error) {
	_, size, err := f.ReadFile(ctx, agentURL, filePath, -1, 0)
	if err != nil {
		return 0, err
	}
	if n <= 0 {
		return size, nil
	}
	for end := size; end > 0; {
		start := max(0, end-f.chunk)
		data, err := f.readRange(ctx, agentURL, filePath, start, end)
		if err != nil {
			return 0, err
		}
		for i := len(data) - 1; i >= 0; i-- {
			pos := start + int64(i)
			if data[i] != '\n' || pos == size-1 {
				continue
			}
			if n--; n == 0 {
				return pos + 1, nil
			}
		}
		end = start
	}
	return 0, nil
}

// readRange reads [start, end) of a file, in as many requests as the agent
// needs (it may cap a read's length).
func (f *Files) readRange(ctx context.Context, agentURL, filePath string, start, end int64) ([]byte, error) {
	var out []byte
	for off := start; off < end; {
		data, next, err := f.ReadFile(ctx, agentURL, filePath, off, end-off)
		if err != nil {
			return nil, err
		}
		if len(data) == 0 {
			break
		}
		out = append(out, data...)
		off = next
	}
	return out, nil
}

// AgentURL returns the base URL of an agent's HTTP API ("http://ip:port"),
// looked up by ID in the master's /master/state. masterURL may be any
// master (redirects are followed) and may carry the scheduler path.
func (f *Files) AgentURL(ctx context.Context, masterURL, agentID string) (string, error) {
	base, err := ParseMasterURL(masterURL)
	if err != nil {
		return "", err
	}
	base.Path, base.RawQuery = "/master/state", ""
	var state struct {
		Slaves []struct {
			ID       string `json:"id"`
			PID      string `json:"pid"`
			Hostname string `json:"hostname"`
			Port     int    `json:"port"`
		} `json:"slaves"`
	}
	if err := f.getJSON(ctx, base.String(), &state); err != nil {
		return "", fmt.Errorf("agent %s: %w", agentID, err)
	}
	for _, s := range state.Slaves {
		if s.ID != agentID {
			continue
		}
		// pid is "slave(1)@ip:port": the address the agent listens on.
		if _, addr, ok := strings.Cut(s.PID, "@"); ok && addr != "" {
			return base.Scheme + "://" + addr, nil
		}
		if s.Hostname != "" && s.Port > 0 {
			return base.Scheme + "://" + s.Hostname + ":" + strconv.Itoa(s.Port), nil
		}
	}
	return "", fmt.Errorf("agent %s in %s: %w", agentID, base.Redacted(), ErrNotFound)
}

// Sandbox is where a task's files are: an agent's HTTP API and the
// sandbox directory on it.
type Sandbox struct {
	AgentURL string
	Dir      string
}

// File returns the path of a file in the sandbox, e.g. "stdout".
func (s Sandbox) File(name string) string { return path.Join(s.Dir, name) }

// LocateSandbox finds a task's sandbox from its agent ID (as recorded in
// the Run's status): the agent's URL from the first master that answers,
// then the directory from the agent.
func (f *Files) LocateSandbox(ctx context.Context, masters []string, frameworkID, agentID, taskID string) (Sandbox, error) {
	var errs []error
	for _, m := range masters {
		agent, err := f.AgentURL(ctx, m, agentID)
		if err != nil {
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		dir, err := f.SandboxDir(ctx, agent, frameworkID, taskID)
		if err != nil {
			return Sandbox{}, err
		}
		return Sandbox{AgentURL: agent, Dir: dir}, nil
	}
	if len(errs) == 0 {
		return Sandbox{}, fmt.Errorf("no master URL: %w", ErrInvalidConfig)
	}
	return Sandbox{}, fmt.Errorf("locate sandbox of %s: %w", taskID, errors.Join(errs...))
}

// SandboxVirtualPath is the path under which Mesos agents expose the
// latest run of an executor's sandbox in /files, without asking /state.
// A command task's executor ID is its task ID.
func SandboxVirtualPath(frameworkID, executorID string) string {
	return path.Join("/frameworks", frameworkID, "executors", executorID, "runs", "latest")
}

// SandboxDir returns the sandbox directory of a task on an agent, from the
// agent's /state: the executor whose ID is the task ID (command tasks) or
// which lists the task, live executors before completed ones. When the
// agent has no /state or does not list the task, and frameworkID is known,
// it returns SandboxVirtualPath (command tasks); else ErrNotFound.
func (f *Files) SandboxDir(ctx context.Context, agentURL, frameworkID, taskID string) (string, error) {
	var state agentState
	err := f.getJSON(ctx, strings.TrimRight(agentURL, "/")+"/state", &state)
	if errors.Is(err, ErrNotFound) && frameworkID != "" {
		return SandboxVirtualPath(frameworkID, taskID), nil
	}
	if err != nil {
		return "", fmt.Errorf("sandbox of %s: %w", taskID, err)
	}
	for _, fws := range [][]agentFramework{state.Frameworks, state.CompletedFrameworks} {
		for _, fw := range fws {
			if frameworkID != "" && fw.ID != frameworkID {
				continue
			}
			for _, execs := range [][]agentExecutor{fw.Executors, fw.CompletedExecutors} {
				for i := len(execs) - 1; i >= 0; i-- {
					if execs[i].runs(taskID) && execs[i].Directory != "" {
						return execs[i].Directory, nil
					}
				}
			}
		}
	}
	if frameworkID != "" {
		// Not listed (e.g. a /state without executors, as the simulator's):
		// the virtual path still reaches the latest run while the agent
		// keeps it; reading it is ErrNotFound otherwise.
		return SandboxVirtualPath(frameworkID, taskID), nil
	}
	return "", fmt.Errorf("sandbox of %s on %s: %w", taskID, agentURL, ErrNotFound)
}

type agentState struct {
	Frameworks          []agentFramework `json:"frameworks"`
	CompletedFrameworks []agentFramework `json:"completed_frameworks"`
}

type agentFramework struct {
	ID                 string          `json:"id"`
	Executors          []agentExecutor `json:"executors"`
	CompletedExecutors []agentExecutor `json:"completed_executors"`
}

type agentExecutor struct {
	ID             string      `json:"id"`
	Directory      string      `json:"directory"`
	Tasks          []agentTask `json:"tasks"`
	QueuedTasks    []agentTask `json:"queued_tasks"`
	CompletedTasks []agentTask `json:"completed_tasks"`
}

type agentTask struct {
	ID string `json:"id"`
}

func (e *agentExecutor) runs(taskID string) bool {
	if e.ID == taskID {
		return true
	}
	for _, ts := range [][]agentTask{e.Tasks, e.QueuedTasks, e.CompletedTasks} {
		for _, t := range ts {
			if t.ID == taskID {
				return true
			}
		}
	}
	return false
}

// getJSON GETs u into out. 404 is ErrNotFound, other non-2xx *StatusError.
func (f *Files) getJSON(ctx context.Context, u string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if f.secret != "" {
		req.SetBasicAuth(f.principal, f.secret)
	}
	resp, err := f.http.Do(req)
	if err != nil {
		return fmt.Errorf("get %s: %w", redact(u), err)
	}
	defer drain(resp.Body)
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return fmt.Errorf("get %s: %w", redact(u), ErrNotFound)
	case resp.StatusCode/100 != 2:
		return statusError(resp)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("get %s: %w", redact(u), err)
	}
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(out); err != nil {
		return fmt.Errorf("decode %s: %w", redact(u), err)
	}
	return nil
}

func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "<bad url>"
	}
	return p.Redacted()
}
