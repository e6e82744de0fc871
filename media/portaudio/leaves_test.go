package portaudio

// The echo canceller lives in a leaf package that registers itself with media; importing it
// here puts it in this test binary, for the tests that process a sound card's microphone.
import _ "trayphone/media/dsp/speex"
