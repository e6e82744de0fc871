//go:build race

package media

// sessRace reports whether the race detector is on: it slows the scheduler enough that the
// timing test only reports its figures.
const sessRace = true
