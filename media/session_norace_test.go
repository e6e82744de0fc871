//go:build !race

package media

// sessRace reports whether the race detector is on.
const sessRace = false
