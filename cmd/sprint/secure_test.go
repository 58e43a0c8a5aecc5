package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPrepareDataDir(t *testing.T) {
	mode := func(t *testing.T, p string) os.FileMode {
		t.Helper()
		fi, err := os.Stat(p)
		require.NoError(t, err)
		return fi.Mode().Perm()
	}
	tests := map[string]struct {
		setup func(dir string) // prepares dir; nil: it does not exist
		err   string           // "" means accepted
		warn  bool             // a warning says the mode was tightened
	}{
		"created 0700": {},
		"already 0700": {setup: func(d string) { require.NoError(t, os.Mkdir(d, 0o700)) }},
		"empty and loose": {setup: func(d string) {
			require.NoError(t, os.Mkdir(d, 0o755))
		}, warn: true},
		"sprint's own and loose": {setup: func(d string) {
			require.NoError(t, os.MkdirAll(filepath.Join(d, "raft"), 0o700))
			require.NoError(t, os.Chmod(d, 0o775))
		}, warn: true},
		"someone else's and loose": {setup: func(d string) {
			require.NoError(t, os.Mkdir(d, 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(d, "notes.txt"), nil, 0o644))
		}, err: "mode 0755 lets other users read it, and it holds other files, so sprint leaves it as it is: choose a directory of sprint's own, or run: chmod 700 "},
		"shared like /tmp": {setup: func(d string) {
			require.NoError(t, os.Mkdir(d, 0o777))
			require.NoError(t, os.Chmod(d, os.ModeSticky|0o777))
		}, err: "a directory shared by all users (mode 0777 with the sticky bit); choose a directory of sprint's own"},
		"a file": {setup: func(d string) { require.NoError(t, os.WriteFile(d, nil, 0o600)) }, err: "not a directory"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			if tc.setup != nil {
				tc.setup(dir)
			}
			var logs bytes.Buffer
			err := prepareDataDir(dir, slog.New(slog.NewTextHandler(&logs, nil)))
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				assert.NotContains(t, err.Error(), "\n")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, os.FileMode(0o700), mode(t, dir))
			assert.Equal(t, tc.warn, strings.Contains(logs.String(), "tightened the data dir's permissions"), logs.String())
		})
	}
}

func TestSandboxRoot(t *testing.T) {
	data := t.TempDir()
	root, err := sandboxRoot("", data)
	require.NoError(t, err)
	assert.Equal(t, os.TempDir(), root)
	_, err = sandboxRoot(filepath.Join(data, "sandboxes"), data)
	assert.ErrorContains(t, err, "must be outside --data-dir")
	_, err = sandboxRoot(data, data)
	assert.ErrorContains(t, err, "must be outside --data-dir")
	link := filepath.Join(t.TempDir(), "link")
	require.NoError(t, os.Symlink(data, link))
	_, err = sandboxRoot(link, data)
	assert.ErrorContains(t, err, "must be outside --data-dir", "through a symlink too")
	other := t.TempDir()
	root, err = sandboxRoot(other, data)
	require.NoError(t, err)
	assert.Equal(t, other, root)
}

func TestNewEmbeddedSecret(t *testing.T) {
	a, err := newEmbeddedSecret()
	require.NoError(t, err)
	b, err := newEmbeddedSecret()
	require.NoError(t, err)
	assert.Len(t, a, 64, "256 bits, hex")
	assert.NotEqual(t, a, b)
}

// A node refuses to start with a token file or a Mesos secret file other
// users may read, naming the file and the fix in one line, before it
// opens any port or touches the data dir.
func TestRun_RefusesSecretFilesOthersCanRead(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, perm os.FileMode) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte("token-1\n"), 0o600))
		require.NoError(t, os.Chmod(p, perm))
		return p
	}
	loose := write("tokens", 0o644)
	groupOnly := write("group-tokens", 0o640)
	secret := write("mesos-secret", 0o604)
	tests := map[string]struct {
		args []string
		err  string
	}{
		"token file world readable": {args: []string{"--token-file", loose},
			err: "--token-file: " + loose + ": permissions 0644 are too open (its group or other users may read it); run: chmod 600 " + loose},
		"token file group readable": {args: []string{"--token-file", groupOnly}, err: "permissions 0640 are too open"},
		"mesos secret file": {args: []string{"--mesos-master", "http://127.0.0.1:1", "--mesos-secret-file", secret, "--mesos-principal", "p"},
			err: "--mesos-secret-file: " + secret + ": permissions 0604 are too open"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "data")
			args := append([]string{"--data-dir", data, "--listen", "127.0.0.1:0", "--raft-addr", "127.0.0.1:0"}, tc.args...)
			cfg, err := ParseFlags(args, envMap(nil), io.Discard)
			require.NoError(t, err)
			m := NewMain(cfg, io.Discard)
			err = m.Run(context.Background())
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.err)
			assert.NotContains(t, err.Error(), "\n")
			require.NoError(t, m.Close())
		})
	}
}

// Tokens on an address other machines reach, without TLS, are worth a
// warning: they cross the network in clear text.
func TestWarnCleartextTokens(t *testing.T) {
	tests := []struct {
		listen           string
		hasTokens, https bool
		warn             bool
	}{
		{listen: "198.51.100.11:9090", hasTokens: true, warn: true},
		{listen: "0.0.0.0:9090", hasTokens: true, warn: true},
		{listen: ":9090", hasTokens: true, warn: true},
		{listen: "198.51.100.11:9090", hasTokens: true, https: true},
		{listen: "127.0.0.1:9090", hasTokens: true},
		{listen: "localhost:9090", hasTokens: true},
		{listen: "[::1]:9090", hasTokens: true},
		{listen: "198.51.100.11:9090"}, // --insecure without tokens: nothing to leak
	}
	for _, tc := range tests {
		var logs bytes.Buffer
		warnCleartextTokens(slog.New(slog.NewTextHandler(&logs, nil)), tc.listen, tc.hasTokens, tc.https)
		if tc.warn {
			assert.Contains(t, logs.String(), `level=WARN msg="serving the API beyond loopback without TLS: bearer tokens travel in clear text; give --tls-cert and --tls-key" listen=`+tc.listen, "%+v", tc)
		} else {
			assert.Empty(t, logs.String(), "%+v", tc)
		}
	}
}
