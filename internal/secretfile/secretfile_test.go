package secretfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	tests := map[string]struct {
		name    string
		mode    os.FileMode
		content string
		err     string // "" means accepted
	}{
		"0600":           {name: "tokens", mode: 0o600, content: "abc\n"},
		"0400":           {name: "tokens", mode: 0o400, content: "abc\n"},
		"world readable": {name: "tokens", mode: 0o644, err: "/tokens: permissions 0644 are too open (its group or other users may read it); run: chmod 600 " + dir + "/tokens"},
		"group readable": {name: "tokens", mode: 0o640, err: "permissions 0640 are too open"},
		"group writable": {name: "tokens", mode: 0o620, err: "permissions 0620 are too open"},
		"quoted path":    {name: "my tokens", mode: 0o604, err: "run: chmod 600 '" + dir + "/my tokens'"},
		"too large":      {name: "big", mode: 0o600, content: strings.Repeat("x", MaxSize+1), err: "larger than 1048576 bytes"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name)
			require.NoError(t, os.WriteFile(p, []byte(tc.content), 0o600))
			require.NoError(t, os.Chmod(p, tc.mode))
			t.Cleanup(func() { os.Remove(p) })
			data, err := Read(p)
			if tc.err == "" {
				require.NoError(t, err)
				assert.Equal(t, tc.content, string(data))
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.err)
			assert.Nil(t, data)
			if strings.Contains(tc.err, "too open") {
				assert.True(t, errors.Is(err, ErrTooOpen))
				assert.NotContains(t, err.Error(), "\n", "one line")
			}
		})
	}
	_, err := Read(dir)
	assert.ErrorContains(t, err, "is a directory")
	_, err = Read(filepath.Join(dir, "missing"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}

// ReadIn reads only regular files inside the root, with Read's checks; ".."
// and symlinks that lead out of the root are refused by os.Root.
func TestReadIn(t *testing.T) {
	outside := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(outside, "n1.key"), []byte("PRIVATE KEY"), 0o600))
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o700))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		require.NoError(t, os.Chmod(p, mode))
	}
	write("hook.secret", "s3cret\n", 0o600)
	write("team/pd.key", "routing", 0o400)
	write("open.secret", "x", 0o644)
	require.NoError(t, os.Symlink(filepath.Join(outside, "n1.key"), filepath.Join(dir, "escape")))
	require.NoError(t, os.Symlink("hook.secret", filepath.Join(dir, "inside-link")))
	require.NoError(t, syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o600))
	root, err := os.OpenRoot(dir)
	require.NoError(t, err)
	defer root.Close()

	tests := []struct {
		name string
		want string // content when accepted
		err  string
	}{
		{name: "hook.secret", want: "s3cret\n"},
		{name: "team/pd.key", want: "routing"},
		{name: "inside-link", want: "s3cret\n"},
		{name: "open.secret", err: "permissions 0644 are too open"},
		{name: "escape", err: "path escapes from parent"},
		{name: "../" + filepath.Base(outside) + "/n1.key", err: "path escapes from parent"},
		{name: "team", err: "is not a regular file"},
		{name: "fifo", err: "is not a regular file"},
		{name: "missing", err: "no such file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data, err := ReadIn(root, tc.name, "/secrets/"+tc.name)
			if tc.err == "" {
				require.NoError(t, err)
				assert.Equal(t, tc.want, string(data))
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.err)
			assert.NotContains(t, string(data), "PRIVATE KEY")
		})
	}
}
