package sim

import (
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// filesReadMax caps one /files/read answer, as the agent does (16 pages).
const filesReadMax = 16 * 4096

// resolveSandboxPath maps a /files/read path to a file: either a real path
// under WorkDir, or the agent's virtual path
// /frameworks/<fw>/executors/<executor>/runs/latest/<file>.
func (m *Master) resolveSandboxPath(p string) (string, bool) {
	if m.cfg.WorkDir == "" {
		return "", false
	}
	work, err := filepath.Abs(m.cfg.WorkDir)
	if err != nil {
		return "", false
	}
	clean := filepath.Clean("/" + p)
	if strings.HasPrefix(clean, work+string(filepath.Separator)) {
		return clean, true
	}
	parts := strings.Split(strings.TrimPrefix(clean, "/"), "/")
	if len(parts) >= 6 && parts[0] == "frameworks" && parts[2] == "executors" && parts[4] == "runs" && parts[5] == "latest" {
		m.mu.Lock()
		dir := m.latestSandbox(parts[1], parts[3])
		m.mu.Unlock()
		if dir == "" {
			return "", false
		}
		abs, err := filepath.Abs(dir)
		if err != nil {
			return "", false
		}
		return filepath.Join(append([]string{abs}, parts[6:]...)...), true
	}
	return "", false
}

// insideWorkDir reports whether the opened file really lies under WorkDir,
// after every symlink: the path the kernel resolved for the open file
// descriptor (/proc/self/fd), so a link swapped after the check does not
// count; where /proc is missing, the path's own resolution.
func (m *Master) insideWorkDir(f *os.File) bool {
	work, err := filepath.EvalSymlinks(m.cfg.WorkDir)
	if err != nil {
		return false
	}
	real, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(f.Fd())))
	if err != nil {
		if real, err = filepath.EvalSymlinks(f.Name()); err != nil {
			return false
		}
	}
	return strings.HasPrefix(real, work+string(filepath.Separator))
}

// latestSandbox finds the newest sandbox of an executor. Caller holds mu.
func (m *Master) latestSandbox(fwID, execID string) string {
	fw := m.frameworks[fwID]
	if fw == nil {
		for _, c := range m.completedFws {
			if c.id == fwID {
				fw = c
			}
		}
	}
	if fw == nil {
		return ""
	}
	var best *task
	consider := func(t *task) {
		if t.execID == execID && (best == nil || len(t.statuses) > 0 && (len(best.statuses) == 0 || t.statuses[0].at.After(best.statuses[0].at))) {
			best = t
		}
	}
	for _, t := range fw.tasks {
		consider(t)
	}
	for _, t := range fw.unreachable {
		consider(t)
	}
	for _, t := range fw.completed {
		consider(t)
	}
	if best == nil {
		return ""
	}
	return best.sandbox
}

// serveFilesRead is the agent's GET /files/read?path=&offset=&length=,
// answering {"data": "...", "offset": N}. offset -1 (or absent) returns the
// file size as offset with no data; length absent or -1 reads to the end,
// capped at 64 KiB per call.
func (m *Master) serveFilesRead(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p := q.Get("path")
	if p == "" {
		plainError(w, http.StatusBadRequest, "Expecting 'path' to be specified")
		return
	}
	offset, length := int64(-1), int64(-1)
	var err error
	if v := q.Get("offset"); v != "" {
		if offset, err = strconv.ParseInt(v, 10, 64); err != nil || offset < -1 {
			plainError(w, http.StatusBadRequest, "Failed to parse offset: "+v)
			return
		}
	}
	if v := q.Get("length"); v != "" {
		if length, err = strconv.ParseInt(v, 10, 64); err != nil || length < -1 {
			plainError(w, http.StatusBadRequest, "Failed to parse length: "+v)
			return
		}
	}
	file, ok := m.resolveSandboxPath(p)
	if !ok {
		plainError(w, http.StatusNotFound, "Failed to find '"+p+"'")
		return
	}
	// Non-blocking, so a FIFO a task left in its sandbox cannot hang us.
	f, err := os.OpenFile(file, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			plainError(w, http.StatusNotFound, "Failed to find '"+p+"'")
			return
		}
		plainError(w, http.StatusInternalServerError, err.Error())
		return
	}
	defer f.Close()
	if !m.insideWorkDir(f) {
		// A task's symlink out of the work dir (to /etc/shadow, to sprint's
		// data) is not followed: the simulator may run as root.
		plainError(w, http.StatusNotFound, "Failed to find '"+p+"'")
		return
	}
	info, err := f.Stat()
	if err != nil {
		plainError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if info.IsDir() {
		plainError(w, http.StatusBadRequest, "Cannot read a directory")
		return
	}
	if !info.Mode().IsRegular() {
		plainError(w, http.StatusBadRequest, "Cannot read '"+p+"': not a regular file")
		return
	}
	size := info.Size()
	resp := struct {
		Data   string `json:"data"`
		Offset int64  `json:"offset"`
	}{}
	switch {
	case offset == -1:
		resp.Offset = size
	case offset >= size:
		resp.Offset = offset
	default:
		if length == -1 || length > size-offset {
			length = size - offset
		}
		if length > filesReadMax {
			length = filesReadMax
		}
		buf := make([]byte, length)
		n, err := f.ReadAt(buf, offset)
		if err != nil && !errors.Is(err, io.EOF) {
			plainError(w, http.StatusInternalServerError, err.Error())
			return
		}
		resp.Data, resp.Offset = string(buf[:n]), offset
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}
