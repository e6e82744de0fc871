package main

// Steady send's timer threads are a leaf package that registers itself with media (the phone's
// main does the same, in leaves.go): -steady needs it.
import _ "trayphone/media/steadysend"
