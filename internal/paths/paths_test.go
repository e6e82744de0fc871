package paths

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestResolveHome(t *testing.T) {
	t.Parallel()
	got := Resolve("/h")
	want := Paths{Home: "/h", Config: "/h/config.toml", State: "/h/state", Socket: "/h/control.sock"}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestResolveXDG(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", "/x/config")
	t.Setenv("XDG_STATE_HOME", "/x/state")
	t.Setenv("XDG_RUNTIME_DIR", "/run/user/1000")
	got := Resolve("")
	want := Paths{
		Config: "/x/config/trayphone/config.toml",
		State:  "/x/state/trayphone",
		Socket: "/run/user/1000/trayphone/control.sock",
	}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestResolveNoRuntimeDir(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", "")
	t.Setenv("TMPDIR", "/tmpx")
	got := Resolve("").Socket
	want := "/tmpx/trayphone-" + strconv.Itoa(os.Getuid()) + "/control.sock"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestEnsurePrivateDir(t *testing.T) {
	t.Parallel()
	base := t.TempDir()

	dir := filepath.Join(base, "new")
	if err := EnsurePrivateDir(dir); err != nil {
		t.Fatalf("new dir: %v", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o700 {
		t.Errorf("got mode %v, want 0700", got)
	}
	if err := EnsurePrivateDir(dir); err != nil {
		t.Errorf("existing private dir: %v", err)
	}

	open := filepath.Join(base, "open")
	if err := os.Mkdir(open, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o755); err != nil {
		t.Fatal(err)
	}
	err = EnsurePrivateDir(open)
	if !errors.Is(err, errNotPrivate) || !strings.Contains(err.Error(), "chmod 700") {
		t.Errorf("open dir: got %v, want a not-private error", err)
	}

	link := filepath.Join(base, "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	if err := EnsurePrivateDir(link); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("symlink: got %v, want a symlink error", err)
	}

	file := filepath.Join(base, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := EnsurePrivateDir(file); err == nil {
		t.Error("file: got nil error, want one")
	}
}

func TestEnsurePrivateDirOtherOwner(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to create a directory owned by another user")
	}
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "theirs")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if err := EnsurePrivateDir(dir); err == nil || !strings.Contains(err.Error(), "owned by uid 65534") {
		t.Errorf("got %v, want an owner error", err)
	}
}

func TestEnsureSocketDir(t *testing.T) {
	base := t.TempDir()
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	// A readable --home directory is fine; a group-writable one is not.
	if err := EnsureSocketDir(base); err != nil {
		t.Errorf("0755 dir: got %v, want nil", err)
	}
	if err := os.Chmod(base, 0o775); err != nil {
		t.Fatal(err)
	}
	if err := EnsureSocketDir(base); !errors.Is(err, errNotPrivate) {
		t.Errorf("0775 dir: got %v, want a not-private error", err)
	}
	// A missing directory is created 0700.
	dir := filepath.Join(t.TempDir(), "run")
	if err := EnsureSocketDir(dir); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("new dir: got %v, %v; want mode 0700", fi.Mode().Perm(), err)
	}
	// The fallback under TMPDIR must be private.
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	t.Setenv("XDG_RUNTIME_DIR", "")
	fallback := filepath.Dir(Resolve("").Socket)
	if err := os.Mkdir(fallback, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(fallback, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := EnsureSocketDir(fallback); !errors.Is(err, errNotPrivate) {
		t.Errorf("0755 fallback dir: got %v, want a not-private error", err)
	}
}
