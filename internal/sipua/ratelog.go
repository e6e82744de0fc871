package sipua

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// rateLimited is a slog.Handler for sipgo's transport and transaction layers: each distinct
// message passes at most once per interval, with the number left out since (issue 14: a scanner
// flood wrote one ERROR line per unparsable datagram, thousands of them, through the default
// logger). Records below Warn go out at Debug.
type rateLimited struct {
	h        slog.Handler
	every    time.Duration
	mu       *sync.Mutex
	last     map[string]time.Time
	suppress map[string]int
}

func newRateLimited(h slog.Handler, every time.Duration) *rateLimited {
	return &rateLimited{h: h, every: every, mu: &sync.Mutex{}, last: map[string]time.Time{}, suppress: map[string]int{}}
}

func (r *rateLimited) Enabled(ctx context.Context, l slog.Level) bool {
	if l < slog.LevelWarn {
		l = slog.LevelDebug
	}
	return r.h.Enabled(ctx, l)
}

func (r *rateLimited) Handle(ctx context.Context, rec slog.Record) error {
	if rec.Level < slog.LevelWarn {
		rec.Level = slog.LevelDebug
	}
	r.mu.Lock()
	if len(r.last) > 1000 { // bounded however many distinct messages arrive
		clear(r.last)
		clear(r.suppress)
	}
	if t, ok := r.last[rec.Message]; ok && rec.Time.Sub(t) < r.every {
		r.suppress[rec.Message]++
		r.mu.Unlock()
		return nil
	}
	n := r.suppress[rec.Message]
	r.last[rec.Message] = rec.Time
	delete(r.suppress, rec.Message)
	r.mu.Unlock()
	if n > 0 {
		rec.AddAttrs(slog.Int("similar_left_out", n))
	}
	return r.h.Handle(ctx, rec)
}

func (r *rateLimited) WithAttrs(as []slog.Attr) slog.Handler {
	c := *r
	c.h = r.h.WithAttrs(as)
	return &c
}

func (r *rateLimited) WithGroup(name string) slog.Handler {
	c := *r
	c.h = r.h.WithGroup(name)
	return &c
}
