//go:build linux && !noportaudio

// Silences the messages ALSA and JACK print on stderr while PortAudio probes them: every
// Pa_Initialize on a machine without a JACK server or a hardware card prints dozens of lines
// ("ALSA lib confmisc.c:855:(parse_card) cannot find card '0'", "jack server is not running or
// cannot be started") that say nothing about trayphone's devices. PortAudio reports real failures
// through its own error codes, which trayphone turns into words.
//
// The setters are looked up at run time in the libraries PortAudio already loaded, so neither
// library's headers are needed to build and a PortAudio built without one still works.

#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <stdatomic.h>
#include "quiet.h"

static atomic_long tp_quieted;

static void tp_alsa_quiet(const char *file, int line, const char *function, int err, const char *fmt, ...) {
	(void)file; (void)line; (void)function; (void)err; (void)fmt;
	atomic_fetch_add(&tp_quieted, 1);
}

static void tp_jack_quiet(const char *msg) {
	(void)msg;
	atomic_fetch_add(&tp_quieted, 1);
}

typedef void (*tp_alsa_handler)(const char *, int, const char *, int, const char *, ...);
typedef int (*tp_alsa_set)(tp_alsa_handler);
typedef void (*tp_jack_set)(void (*)(const char *));

int tp_quiet_audio_libs(void) {
	int n = 0;
	tp_alsa_set alsa = (tp_alsa_set)dlsym(RTLD_DEFAULT, "snd_lib_error_set_handler");
	if (alsa != NULL && alsa(tp_alsa_quiet) == 0) {
		n++;
	}
	const char *jack[] = {"jack_set_error_function", "jack_set_info_function"};
	for (int i = 0; i < 2; i++) {
		tp_jack_set set = (tp_jack_set)dlsym(RTLD_DEFAULT, jack[i]);
		if (set != NULL) {
			set(tp_jack_quiet);
			n++;
		}
	}
	return n;
}

long tp_quieted_count(void) { return atomic_load(&tp_quieted); }
