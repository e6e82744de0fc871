//go:build !(linux || freebsd || openbsd || netbsd || dragonfly)

package account

// sessionBusAvailable is true where the keyring is not reached over D-Bus (macOS Keychain,
// Windows Credential Manager).
func sessionBusAvailable() bool { return true }
