package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/zalando/go-keyring"

	"trayphone/account"
	"trayphone/internal/paths"
)

func TestAccountPasswordCommand(t *testing.T) {
	keyring.MockInit()
	home := t.TempDir()
	p := paths.Resolve(home)
	cfg := "[[account]]\nid = \"work\"\naor = \"sip:alice@example.org\"\n"
	if err := os.WriteFile(p.Config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := runAccountCommand(context.Background(), p, []string{"password", "work"}, strings.NewReader("s3cret\n"), &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if got := out.String(); got != "password for alice@example.org stored\n" {
		t.Errorf("output %q", got)
	}
	pw, err := account.NewSecrets(secretsDir(p), nil).Password("work")
	if err != nil || pw != "s3cret" {
		t.Errorf("stored password: got %q, %v", pw, err)
	}
	if strings.Contains(out.String()+errb.String(), "s3cret") {
		t.Error("the password was echoed")
	}
	if b, _ := os.ReadFile(p.Config); strings.Contains(string(b), "s3cret") {
		t.Error("the password went into the config file")
	}

	for _, tc := range []struct {
		args  []string
		stdin string
		code  int
		msg   string
	}{
		{[]string{"password", "home"}, "x\n", 2, `no account "home"`},
		{[]string{"password", "work"}, "", 1, "no password given"},
		{[]string{"password"}, "", 2, "usage"},
		{[]string{"trust", "work"}, "", 2, "does not use TLS"},
	} {
		errb.Reset()
		if code := runAccountCommand(context.Background(), p, tc.args, strings.NewReader(tc.stdin), &out, &errb); code != tc.code || !strings.Contains(errb.String(), tc.msg) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d mentioning %q", tc.args, code, errb.String(), tc.code, tc.msg)
		}
	}
}
