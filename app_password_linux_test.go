package main

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY returns a new pseudo-terminal's controlling side and its terminal.
func openPTY(t *testing.T) (ctl, tty *os.File) {
	t.Helper()
	ctl, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { ctl.Close() })
	if err := unix.IoctlSetPointerInt(int(ctl.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(ctl.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	tty, err = os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tty.Close() })
	return ctl, tty
}

// TestReadPasswordTerminal: `account password` typed at a terminal is read without echo, and
// the terminal echoes again afterwards. It used to run stty, which Windows does not have.
func TestReadPasswordTerminal(t *testing.T) {
	ctl, tty := openPTY(t)
	got := make(chan string, 1)
	var prompt bytes.Buffer
	go func() {
		pw, err := readPassword(tty, &prompt, "Password: ")
		if err != nil {
			got <- "error: " + err.Error()
			return
		}
		got <- pw
	}()
	// Wait until echo is off, then type.
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
		if err != nil {
			t.Fatal(err)
		}
		if st.Lflag&unix.ECHO == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("echo was never turned off")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := ctl.WriteString("s3cret pass\n"); err != nil {
		t.Fatal(err)
	}
	select {
	case pw := <-got:
		if pw != "s3cret pass" {
			t.Fatalf("read %q, want %q", pw, "s3cret pass")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("readPassword did not return")
	}
	// What the terminal showed: no password.
	var shown []byte
	for {
		fds := []unix.PollFd{{Fd: int32(ctl.Fd()), Events: unix.POLLIN}}
		if n, _ := unix.Poll(fds, 200); n <= 0 {
			break
		}
		buf := make([]byte, 256)
		n, err := unix.Read(int(ctl.Fd()), buf)
		if n <= 0 || err != nil {
			break
		}
		shown = append(shown, buf[:n]...)
	}
	if strings.Contains(string(shown), "s3cret") {
		t.Errorf("the terminal echoed the password: %q", shown)
	}
	st, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if st.Lflag&unix.ECHO == 0 {
		t.Error("echo is still off after the password was read")
	}
	if !strings.Contains(prompt.String(), "Password: ") {
		t.Errorf("prompt %q", prompt.String())
	}
}
