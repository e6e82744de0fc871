// Command callsim is one side of a call's media without SIP: a media.Session with file audio
// sending PCMU to a peer and playing what it receives, for as long as asked. Two of them, each
// given the other's RTP port, make a call whose CPU cost and send timing can be profiled in
// isolation from the rest of trayphone (the SIP stack, the control socket, the tray).
//
//	callsim -port 40000 -peer 127.0.0.1:40002 -in a.wav -out a-out.wav -secs 30 -cpuprofile a.prof
//
// It prints its CPU use and the send-interval jitter seen by the session's send observer.
package main

import (
	"flag"
	"fmt"
	"log"
	"log/slog"
	"math"
	"net/netip"
	"os"
	"runtime/pprof"
	"slices"
	"time"

	"trayphone/media"
)

func main() {
	port := flag.Int("port", 0, "local RTP port (RTCP on the next one)")
	peer := flag.String("peer", "", "peer's RTP address, host:port")
	in := flag.String("in", "", "WAV file to send")
	out := flag.String("out", "", "WAV file to record what is played")
	secs := flag.Int("secs", 30, "how long the call lasts")
	prof := flag.String("cpuprofile", "", "write a CPU profile of the call to this file")
	rt := flag.Bool("realtime", false, "real-time scheduling during the call, where permitted (audio.realtime)")
	steady := flag.Bool("steady", false, "send from two timer threads when wake-ups run late (audio.steady_send)")
	flag.Parse()

	remote, err := netip.ParseAddrPort(*peer)
	if err != nil {
		log.Fatalf("-peer: %v", err)
	}
	rtp, rtcp, err := media.ListenRTP(netip.MustParseAddr("127.0.0.1"), *port, *port+1)
	if err != nil {
		log.Fatal(err)
	}
	codec, _ := media.CodecByName("PCMU")
	dev, err := media.NewFile(*in, *out)
	if err != nil {
		log.Fatal(err)
	}
	st, err := dev.Open(codec.SampleRate, codec.FrameSamples())
	if err != nil {
		log.Fatal(err)
	}
	n := *secs * 50
	sends := make([]time.Time, 0, n+100)
	obs := media.WithSendObserver(func(at time.Time, _ uint16, _ uint32) {
		if len(sends) < cap(sends) {
			sends = append(sends, at)
		}
	})
	s, err := media.NewSession(media.SessionConfig{Conn: rtp, RTCPConn: rtcp, Remote: remote, Codec: codec, Stream: st, Realtime: *rt, SteadySend: *steady,
		Log: slog.New(slog.NewTextHandler(os.Stderr, nil))}, obs)
	if err != nil {
		log.Fatal(err)
	}
	if *prof != "" {
		f, err := os.Create(*prof)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
	}
	cpu0, t0 := cpuTime(), time.Now()
	s.Start()
	time.Sleep(time.Duration(*secs) * time.Second)
	cpu, wall := cpuTime()-cpu0, time.Since(t0)
	if *prof != "" {
		pprof.StopCPUProfile()
	}
	stats := s.Stats()
	if err := s.Close(); err != nil {
		log.Print(err)
	}
	var jit []float64
	for i := 1; i < len(sends); i++ {
		jit = append(jit, math.Abs(float64(sends[i].Sub(sends[i-1]))/1e6-20))
	}
	slices.Sort(jit)
	pct := func(q float64) float64 {
		if len(jit) == 0 {
			return math.NaN()
		}
		return jit[min(len(jit)-1, int(q*float64(len(jit))))]
	}
	fmt.Printf("cpu %.3f%% of a core; sent %d received %d lost %d; send jitter p50 %.3f p99 %.3f max %.3f ms\n",
		100*cpu.Seconds()/wall.Seconds(), stats.PacketsSent, stats.PacketsReceived, stats.PacketsLost,
		pct(0.5), pct(0.99), pct(1))
}
