// Package media is trayphone's audio engine: codecs, the RTP session that paces 20 ms frames onto
// the network and plays what arrives, and the audio devices (WAV files, null, and sound cards
// through the SoundCard main registers: media/portaudio) behind one Device interface. It knows
// nothing about SIP: the call manager gives it a socket, a remote address and a negotiated codec.
package media

// FrameDuration is the length of one audio frame in milliseconds: one frame per RTP packet.
const FrameDuration = 20

// Device is an audio endpoint: a microphone and a speaker. Open is called when a call needs audio
// and the returned Stream is closed when the call no longer does, so a sound card is held only
// during calls.
type Device interface {
	// Name is what the user calls the device, e.g. "default", "file:in.wav", "null".
	Name() string
	// Open starts capture and playback of mono 16-bit PCM at rate samples per second, in frames
	// of frameSamples samples.
	Open(rate, frameSamples int) (Stream, error)
}

// Stream is an open Device. Read and Write are called by the media session once per frame, on its
// own 20 ms schedule; neither blocks on the device (audio devices jitter, the network clock
// must not).
type Stream interface {
	// Read fills p (one frame) with the next captured audio. Audio the device has not delivered
	// yet is returned as silence. It returns io.EOF never: a file source turns into silence.
	Read(p []int16) error
	// Write hands one frame to the speaker. If the device has fallen behind, the oldest queued
	// audio is dropped rather than blocking.
	Write(p []int16) error
	// Close stops the device and releases it. It is safe to call more than once.
	Close() error
}

// Encoder turns one frame of PCM into one RTP payload. It is owned by one session.
type Encoder interface {
	// Encode appends the payload for pcm to dst and returns it.
	Encode(dst []byte, pcm []int16) ([]byte, error)
}

// Decoder turns one RTP payload into PCM. It is owned by one session.
type Decoder interface {
	// Decode appends the samples of payload to dst and returns them.
	Decode(dst []int16, payload []byte) ([]int16, error)
}

// Codec describes an audio codec and makes its per-session encoder and decoder.
type Codec struct {
	// Name is the SDP encoding name, e.g. "PCMU".
	Name string
	// PayloadType is the static or negotiated RTP payload type.
	PayloadType uint8
	// ClockRate is the RTP clock rate (8000 for G.711).
	ClockRate int
	// SampleRate is the PCM rate the encoder takes and the decoder gives.
	SampleRate int
	// Channels is the channel count the SDP rtpmap names (Opus says 2, RFC 7587 §7); 0 or 1
	// leaves it out. trayphone's PCM is always mono.
	Channels int
	// Fmtp is the SDP format parameters trayphone offers for the codec, e.g. "useinbandfec=1".
	Fmtp string
	// NewEncoder and NewDecoder make fresh per-session state.
	NewEncoder func() Encoder
	NewDecoder func() Decoder
}

// FrameSamples is the number of PCM samples in one 20 ms frame.
func (c Codec) FrameSamples() int { return c.SampleRate * FrameDuration / 1000 }

// TimestampStep is how far the RTP timestamp advances per frame. It follows ClockRate, not
// SampleRate: G.722 samples at 16 kHz but its RTP clock runs at 8 kHz (RFC 3551 §4.5.2).
func (c Codec) TimestampStep() uint32 { return uint32(c.ClockRate * FrameDuration / 1000) }
