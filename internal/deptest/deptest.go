// Package deptest enforces docs/ARCHITECTURE.md's "must not import" column: each package's
// deps_test.go lists what it must never depend on, directly or not.
package deptest

import (
	"os"
	"os/exec"
	"slices"
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

// ForbidCgo fails t if the package in the current directory, or any non-standard package it
// depends on, has cgo files when built with cgo for linux, windows or darwin: ARCHITECTURE.md's
// pure-Go core. A C library belongs in a leaf package that main imports. allow lists exceptions as
// "GOOS:import/path" (the macOS menu bar is fyne.io/systray's Cocoa code).
func ForbidCgo(t *testing.T, allow ...string) {
	t.Helper()
	for _, goos := range []string{"linux", "windows", "darwin"} {
		cmd := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{if .CgoFiles}}{{.ImportPath}}{{end}}{{end}}", ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1", "GOOS="+goos)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list -deps (GOOS=%s): %v", goos, err)
		}
		for _, path := range strings.Fields(string(out)) {
			if !slices.Contains(allow, goos+":"+path) {
				t.Errorf("built for %s with cgo, this package depends on the cgo package %s: the core must be pure Go (a C library goes in a leaf package that main registers)", goos, path)
			}
		}
	}
}

// ForbidImports fails t if the package in the current directory itself imports any of forbidden
// (an import path or a prefix ending in "/") when built for linux, windows or darwin. Unlike
// Forbid it looks at the package's own imports only: what a package below it uses is that
// package's business (media leaves system calls to media/internal/rt, which may make them).
func ForbidImports(t *testing.T, forbidden ...string) {
	t.Helper()
	for _, goos := range []string{"linux", "windows", "darwin"} {
		cmd := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, ".")
		cmd.Env = append(os.Environ(), "GOOS="+goos)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list (GOOS=%s): %v", goos, err)
		}
		for _, path := range strings.Fields(string(out)) {
			for _, bad := range forbidden {
				if path == strings.TrimSuffix(bad, "/") || (strings.HasSuffix(bad, "/") && strings.HasPrefix(path, bad)) {
					t.Errorf("built for %s, this package imports %s, which ARCHITECTURE.md keeps out of it", goos, path)
				}
			}
		}
	}
}
