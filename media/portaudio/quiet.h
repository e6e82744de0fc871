#ifndef TP_QUIET_H
#define TP_QUIET_H

// tp_quiet_audio_libs points ALSA's error handler and JACK's error and info functions at ones
// that only count; it returns how many of the three setters it found.
int tp_quiet_audio_libs(void);
// tp_quieted_count is how many messages were silenced.
long tp_quieted_count(void);

#endif
