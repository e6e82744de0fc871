//go:build !unix

package main

import "time"

// cpuTime is not measured here (no getrusage): the report's CPU share reads 0.
func cpuTime() time.Duration { return 0 }
