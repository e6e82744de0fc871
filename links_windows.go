//go:build windows

package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/sys/windows/registry"
)

// applyLinks writes (or removes) the Run-key login item and the link handler registration under
// HKEY_CURRENT_USER. Unregistering removes only the schemes whose open command is this exe's:
// another program that took a scheme over keeps it.
func applyLinks(register bool, exe string, launch []string, stdout io.Writer) error {
	if register {
		where, err := autostartOn(exe, launch)
		if err != nil {
			return fmt.Errorf("autostart: %w", err)
		}
		fmt.Fprintf(stdout, "trayphone will start at login (%s)\n", where)
		for _, v := range linkRegistry(exe, linkArgs(launch)) {
			if err := setValue(v); err != nil {
				return err
			}
		}
		fmt.Fprintf(stdout, "trayphone opens sip:, sips: and tel: links (HKEY_CURRENT_USER\\Software\\Classes)\n")
		return nil
	}
	where, existed, err := autostartOff()
	if err != nil {
		return fmt.Errorf("autostart: %w", err)
	}
	if existed {
		fmt.Fprintf(stdout, "trayphone will no longer start at login (removed %s)\n", where)
	}
	for _, s := range linkSchemes {
		key := `Software\Classes\` + s[0]
		cmd, err := readDefault(key + `\shell\open\command`)
		switch {
		case errors.Is(err, registry.ErrNotExist):
			continue
		case err != nil:
			return err
		case !strings.Contains(strings.ToLower(cmd), strings.ToLower(exe)):
			fmt.Fprintf(stdout, "%s: links are opened by another program (%s): left alone\n", s[0], cmd)
			continue
		}
		// A key with subkeys cannot be deleted: the deepest first.
		for _, sub := range []string{`\shell\open\command`, `\shell\open`, `\shell`, `\DefaultIcon`, ""} {
			if err := registry.DeleteKey(registry.CURRENT_USER, key+sub); err != nil && !errors.Is(err, registry.ErrNotExist) {
				return fmt.Errorf("delete HKEY_CURRENT_USER\\%s%s: %w", key, sub, err)
			}
		}
		fmt.Fprintf(stdout, "%s: links are no longer opened by trayphone\n", s[0])
	}
	return nil
}

// setValue writes one string value, creating its key.
func setValue(v regValue) error {
	k, _, err := registry.CreateKey(registry.CURRENT_USER, v.Key, registry.SET_VALUE)
	if err != nil {
		return fmt.Errorf("open HKEY_CURRENT_USER\\%s: %w", v.Key, err)
	}
	defer k.Close()
	if err := k.SetStringValue(v.Name, v.Value); err != nil {
		return fmt.Errorf("write HKEY_CURRENT_USER\\%s: %w", v.Key, err)
	}
	return nil
}

// readDefault reads a key's default value.
func readDefault(key string) (string, error) {
	k, err := registry.OpenKey(registry.CURRENT_USER, key, registry.QUERY_VALUE)
	if err != nil {
		return "", err
	}
	defer k.Close()
	v, _, err := k.GetStringValue("")
	return v, err
}
