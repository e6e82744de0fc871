// Package deptest enforces ../shared/ARCHITECTURE.md's "must not import" column: each package's
// deps_test.go lists what it must never depend on, directly or not.
package deptest

import (
	"os/exec"
	"strings"
	"testing"
)

// Forbid fails t if the package in the current directory depends, directly or through others, on
// any of forbidden (an import path or a prefix ending in "/"). With onlyStd it also fails on any
// non-standard-library dependency.
func Forbid(t *testing.T, onlyStd bool, forbidden ...string) {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{.Standard}}", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	self, err := exec.Command("go", "list", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	me := strings.TrimSpace(string(self))
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		path, std, _ := strings.Cut(line, " ")
		if path == me {
			continue
		}
		if onlyStd && std != "true" {
			t.Errorf("%s depends on %s; it may use only the standard library", me, path)
		}
		for _, bad := range forbidden {
			if path == strings.TrimSuffix(bad, "/") || (strings.HasSuffix(bad, "/") && strings.HasPrefix(path, bad)) {
				t.Errorf("%s depends on %s, which ARCHITECTURE.md forbids", me, path)
			}
		}
	}
}
