package main

import (
	"fmt"
	"io"

	"trayphone/internal/paths"
)

// linkSchemes are the URL schemes trayphone opens, each with the name Windows shows for it.
var linkSchemes = [][2]string{{"sip", "URL:SIP link"}, {"sips", "URL:SIPS link"}, {"tel", "URL:TEL link"}}

// regValue is one registry value under HKEY_CURRENT_USER: Key\Name = Value ("" names the key's
// default value).
type regValue struct {
	Key, Name, Value string
}

// linkRegistry returns the values that make exe (started with args before the link) the current
// user's handler of sip:, sips: and tel: links: Software\Classes\SCHEME with "URL Protocol", its
// icon and its open command. The link is passed last and alone ("%1"), as checkLinkArgs
// requires (app_link.go).
func linkRegistry(exe string, args []string) []regValue {
	open := runKeyCommand(exe, args) + ` "%1"`
	var out []regValue
	for _, s := range linkSchemes {
		key := `Software\Classes\` + s[0]
		out = append(out,
			regValue{key, "", s[1]},
			regValue{key, "URL Protocol", ""},
			regValue{key + `\DefaultIcon`, "", runKeyCommand(exe, nil) + ",0"},
			regValue{key + `\shell\open\command`, "", open},
		)
	}
	return out
}

// linkArgs are the arguments before the link in a link's open command: the --home directory,
// when one is used, so that a clicked link reaches the phone of that home.
func linkArgs(launch []string) []string {
	for i, a := range launch {
		if a == "--home" && i+1 < len(launch) {
			return []string{"--home", launch[i+1]}
		}
	}
	return nil
}

// runLinks registers (or unregisters) trayphone as the user's login item and link handler and
// returns the exit code. Only Windows keeps these in the registry (links_windows.go); elsewhere
// it says what to use instead.
func runLinks(register bool, p paths.Paths, stdout, stderr io.Writer) int {
	exe, launch, err := launchCommand(p)
	if err != nil {
		fmt.Fprintf(stderr, "trayphone: %v\n", err)
		return 1
	}
	if err := applyLinks(register, exe, launch, stdout); err != nil {
		fmt.Fprintf(stderr, "trayphone: %v\n", err)
		return 1
	}
	return 0
}
