// Package secretfile reads files that hold secrets — sprint's API tokens,
// a Mesos principal's secret, mesos-sim's credentials, Notifiers' keys —
// and refuses one
// that other users may read, as ssh refuses an unprotected private key: a
// secret every local user can read protects nothing, and saying so at start
// beats finding out after a leak.
package secretfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
)

// ErrTooOpen is wrapped by Read's error for a file whose permissions let
// its group or other users access it.
var ErrTooOpen = errors.New("permissions too open")

// MaxSize bounds what Read accepts: secret files are small.
const MaxSize = 1 << 20

// Read returns the content of the secret file at path. A regular file must
// have no permission bits for group or others (chmod 600 or 400); the
// check and the read use the same open file. Pipes and devices
// (/dev/stdin, process substitution) are read as they are. A file larger
// than MaxSize is refused.
func Read(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readOpen(f, path, false)
}

// ReadIn is Read of the file name inside root (os.Root: name is relative
// to the root's directory, and neither ".." nor a symlink may lead out of
// it). Only a regular file is read, so that a FIFO or a device left in the
// directory cannot block or flood the reader. what names the file in
// errors (the path the caller was given).
func ReadIn(root *os.Root, name, what string) ([]byte, error) {
	// Stat first: opening a FIFO would block until a writer came.
	fi, err := root.Stat(name)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", what)
	}
	f, err := root.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readOpen(f, what, true)
}

// readOpen checks and reads the open file f, named path in errors; with
// regularOnly it refuses anything but a regular file (the file may have
// been replaced since a caller's Stat).
func readOpen(f *os.File, path string, regularOnly bool) ([]byte, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("%s is a directory, not a file", path)
	}
	if regularOnly && !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); fi.Mode().IsRegular() && perm&0o077 != 0 {
		return nil, &tooOpenError{path: path, perm: perm}
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%s: larger than %d bytes; not a secret file", path, MaxSize)
	}
	return data, nil
}

// tooOpenError is Read's refusal of a file others may read; it is
// ErrTooOpen for errors.Is.
type tooOpenError struct {
	path string
	perm fs.FileMode
}

func (e *tooOpenError) Error() string {
	return fmt.Sprintf("%s: permissions %#o are too open (its group or other users may read it); run: chmod 600 %s", e.path, e.perm, shellQuote(e.path))
}

func (e *tooOpenError) Is(target error) bool { return target == ErrTooOpen }

// shellQuote quotes p for a shell command line when it needs quoting.
func shellQuote(p string) string {
	if p != "" && strings.Trim(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+:@%,=") == "" {
		return p
	}
	return "'" + strings.ReplaceAll(p, "'", `'\''`) + "'"
}
