package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/sprint-project/sprint/internal/secretfile"
	"github.com/sprint-project/sprint/server"
)

// dataDirMode is the data dir's mode: the Raft log and the state machine
// hold every Run spec (commands, environment values), readable by sprint's
// user only.
const dataDirMode = 0o700

// prepareDataDir creates the data dir 0700, or makes sure an existing one
// is 0700. An existing looser one is tightened (with a warning) when it is
// clearly sprint's own — empty, or holding sprint's raft/ directory —
// because then nothing else depends on its mode and refusing to start would
// only break upgrades and pre-created volumes. Any other directory (a home
// directory, /var/lib, /tmp) is refused: changing its mode could break
// whatever else lives there, and sprint should not share it anyway.
func prepareDataDir(dir string, log *slog.Logger) error {
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, dataDirMode); err != nil {
			return fmt.Errorf("--data-dir: %w", err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("--data-dir: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("--data-dir %s: not a directory", dir)
	}
	perm := fi.Mode().Perm()
	if perm&0o077 == 0 {
		return nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("--data-dir: %w", err)
	}
	ours := len(entries) == 0
	for _, e := range entries {
		if e.Name() == "raft" && e.IsDir() {
			ours = true
		}
	}
	if fi.Mode()&fs.ModeSticky != 0 {
		return fmt.Errorf("--data-dir %s: a directory shared by all users (mode %#o with the sticky bit); choose a directory of sprint's own", dir, perm)
	}
	if !ours {
		return fmt.Errorf("--data-dir %s: mode %#o lets other users read it, and it holds other files, so sprint leaves it as it is: choose a directory of sprint's own, or run: chmod 700 %s", dir, perm, dir)
	}
	if err := os.Chmod(dir, dataDirMode); err != nil {
		return fmt.Errorf("--data-dir %s: mode %#o lets other users read it and sprint cannot change it (%w): run: chmod 700 %s", dir, perm, err, dir)
	}
	log.Warn("tightened the data dir's permissions: other users could read the Raft log and Run specs", "data_dir", dir, "was", fmt.Sprintf("%#o", perm), "now", fmt.Sprintf("%#o", dataDirMode))
	return nil
}

// readSecretFile reads a secret file named by a flag (--token-file,
// --mesos-secret-file), refusing one other users may read.
func readSecretFile(flagName, path string) ([]byte, error) {
	b, err := secretfile.Read(path)
	if err != nil {
		return nil, fmt.Errorf("--%s: %w", flagName, err)
	}
	return b, nil
}

// embeddedPrincipal is the principal sprint authenticates to its embedded
// simulator as, unless --mesos-principal names another.
const embeddedPrincipal = "sprint"

// newEmbeddedSecret returns the random secret of the embedded simulator's
// one credential: 256 bits from crypto/rand, kept in this process's memory
// only (never on disk, in the environment or in a log), so no other local
// user can act as the framework, read sandboxes or use the fault controls.
func newEmbeddedSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("embedded mesos simulator credential: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// sandboxRoot returns the directory the embedded agent's sandboxes go
// under: --sandbox-dir, default the OS temp dir. It must lie outside the
// data dir, so a task cannot reach sprint's data through a relative path
// and the data dir never fills with task output.
func sandboxRoot(sandboxDir, dataDir string) (string, error) {
	root := sandboxDir
	if root == "" {
		root = os.TempDir()
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return "", fmt.Errorf("--sandbox-dir: %w", err)
	}
	data, err := filepath.Abs(dataDir)
	if err != nil {
		return "", fmt.Errorf("--data-dir: %w", err)
	}
	resolve := func(p string) string {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return r
		}
		return p
	}
	if r, d := resolve(abs), resolve(data); r == d || strings.HasPrefix(r, d+string(filepath.Separator)) {
		return "", fmt.Errorf("--sandbox-dir %s: must be outside --data-dir %s", root, dataDir)
	}
	return abs, nil
}

// warnCleartextTokens warns when the API takes bearer tokens on an address
// other machines reach without TLS: every request, and every request a
// follower forwards, then carries a token in clear text. sprint starts
// anyway (a private network may be trusted), as mesos-sim does with HTTP
// Basic credentials beyond loopback.
func warnCleartextTokens(log *slog.Logger, listen string, hasTokens, https bool) {
	if !hasTokens || https || server.CheckListenSecurity(listen, false, false) == nil {
		return
	}
	log.Warn("serving the API beyond loopback without TLS: bearer tokens travel in clear text; give --tls-cert and --tls-key", "listen", listen)
}
