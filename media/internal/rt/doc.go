// Package rt is the operating system's side of a media session: what makes 20 ms ticks come on
// time and packets leave without cost, kept out of media so that media is the session, the
// jitter buffer, playout, RTCP, DTMF, VAD/CN and G.711.
//
// Its API is small, and each piece has a portable fallback:
//
//   - Pacer: ticks on an absolute grid, from a kernel interval timer (timerfd) on Linux with
//     the real clock, from Go timers otherwise (a fake clock, other systems, a timerfd that
//     failed);
//   - UDPReader and UDPWriter: datagrams read and sent with raw recvfrom/sendto system calls
//     on Linux, through the net package elsewhere;
//   - Acquire, Release and Refresh: real-time scheduling of the process while calls want it
//     (Linux; elsewhere Acquire says it is not supported);
//   - BusyNow, VirtualMachine and MonoOf: what the kernel says about the computer (how busy,
//     whether virtual) and its monotonic clock; elsewhere "not busy", "not virtual" and an error.
//
// Steady send's C timer threads are not here: they are the cgo leaf media/steadysend. rt is pure
// Go and imports nothing of the project but internal/clock.
package rt
