package media_test

// The codecs that wrap C libraries live in leaf packages that register themselves with media;
// importing them here puts them in media's test binary, for the tests of either package.
import (
	_ "trayphone/media/codec/g722"
	_ "trayphone/media/codec/opus"
	_ "trayphone/media/dsp/speex"
	_ "trayphone/media/steadysend"
)
