package sim

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Permissions of the work directory tree, as a Mesos agent lays it out:
// the directories above a sandbox may be traversed by the users tasks run
// as but listed by nobody else (Mesos leaves them 0755); a sandbox is its
// user's and group's only (paths.cpp createSandboxDirectory: 0750).
const (
	workDirMode = 0o711
	sandboxMode = 0o750
	logFileMode = 0o640
)

// runAs is who a task runs as.
type runAs struct {
	uid, gid int
	// cred switches the process to the user; nil keeps the simulator's.
	cred *syscall.Credential
	// home is the user's home directory, "" if unknown.
	home string
	// chown is set when the sandbox and its files are given to the user.
	chown bool
}

// PrepareWorkDir creates dir (and its parents) for sandboxes, or checks an
// existing one: it must be a directory owned by this user that no other
// user can write to, since the simulator (often root) creates sandboxes and
// files in it. A fresh directory is created 0711.
func PrepareWorkDir(dir string) error {
	if err := os.MkdirAll(dir, workDirMode); err != nil {
		return fmt.Errorf("work dir: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("work dir: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("work dir %s: not a directory", dir)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("work dir %s: owned by uid %d, not by this user (uid %d); choose a directory of its own", dir, st.Uid, os.Geteuid())
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("work dir %s: mode %#o lets other users write to it; run chmod go-w %s or choose another directory", dir, fi.Mode().Perm(), dir)
	}
	return nil
}

// createSandbox creates l.Sandbox as a Mesos agent does: the directories
// above it 0711, the sandbox itself 0750 and, when switching users, owned
// by the task's user and its primary group. It returns who the task runs
// as, or why the sandbox could not be made, worded as the agent words it
// (paths.cpp createSandboxDirectory, stout's os::chown).
func (e *ProcessExecutor) createSandbox(l Launch) (who runAs, failure string) {
	who = runAs{uid: e.euid, gid: os.Getegid()}
	if e.self != nil {
		who.home = e.self.HomeDir
	}
	if err := os.MkdirAll(filepath.Dir(l.Sandbox), workDirMode); err != nil {
		return who, "Failed to create directory: " + err.Error()
	}
	if err := os.Mkdir(l.Sandbox, sandboxMode); err != nil && !errors.Is(err, fs.ErrExist) {
		return who, "Failed to create directory: " + err.Error()
	}
	if err := os.Chmod(l.Sandbox, sandboxMode); err != nil {
		return who, "Failed to chmod directory: " + err.Error()
	}
	if !e.opts.SwitchUser || l.User == "" {
		return who, ""
	}
	chownFailed := func(why string) (runAs, string) {
		// As the agent, the sandbox it could not hand over is removed.
		_ = os.Remove(l.Sandbox)
		return who, "Failed to chown directory to '" + l.User + "': " + why
	}
	u, err := user.Lookup(l.User)
	if err != nil {
		var unknown user.UnknownUserError
		if errors.As(err, &unknown) {
			return chownFailed("No such user '" + l.User + "'")
		}
		return chownFailed("Failed to get user information for '" + l.User + "': " + err.Error())
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return chownFailed("user '" + l.User + "' has a non-numeric uid or gid")
	}
	if err := os.Chown(l.Sandbox, uid, gid); err != nil {
		return chownFailed(errnoText(err))
	}
	who = runAs{uid: uid, gid: gid, home: u.HomeDir, chown: true}
	if uid == e.euid {
		// As Mesos' launcher: no switch to the user already running.
		return who, ""
	}
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	if ids, err := u.GroupIds(); err == nil {
		for _, s := range ids {
			if g, err := strconv.ParseUint(s, 10, 32); err == nil {
				cred.Groups = append(cred.Groups, uint32(g))
			}
		}
	}
	who.cred = cred
	return who, ""
}

// createLog creates a sandbox log file (stdout, stderr) for who.
func (e *ProcessExecutor) createLog(path string, who runAs) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND|syscall.O_NOFOLLOW, logFileMode)
	if err != nil {
		return nil, err
	}
	if who.chown {
		if err := f.Chown(who.uid, who.gid); err != nil {
			f.Close()
			return nil, err
		}
	}
	return f, nil
}

// errnoText is the strerror text of err's errno ("Operation not
// permitted"), as Mesos' ErrnoError words it; else err's own text.
func errnoText(err error) string {
	var errno syscall.Errno
	if !errors.As(err, &errno) || errno.Error() == "" {
		return err.Error()
	}
	msg := errno.Error()
	return strings.ToUpper(msg[:1]) + msg[1:]
}

// isExecutable reports whether p is a regular file with an execute bit.
func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}
