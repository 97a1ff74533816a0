package transport

import (
	"context"
	"errors"
)

// Unreachable reports whether err means the server could not be reached at
// all (the connect stage failed, or it sent no greeting because nothing
// listens), so that another server of the same account is worth trying.
func Unreachable(err error) bool {
	var te *Error
	return errors.As(err, &te) && te.Stage == StageConnect && te.Kind != KindCanceled
}

// WithFallbacks calls try with cfg and then, while the server tried last
// was unreachable, with each fallback in order (each inherits cfg's
// transcript). before, when not nil, is told of each switch. It returns what
// the last try returned and the configuration it used. This is the one
// fallback loop of Herald: one-shot sends and the outbox both use it.
func WithFallbacks[T any](ctx context.Context, cfg Config, fallbacks []Config, try func(Config) (T, error), before func(from, to Config, err error)) (T, Config, error) {
	v, err := try(cfg)
	for _, fb := range fallbacks {
		if err == nil || !Unreachable(err) || ctx.Err() != nil {
			break
		}
		fb.Transcript = cfg.Transcript
		if before != nil {
			before(cfg, fb, err)
		}
		cfg = fb
		v, err = try(cfg)
	}
	return v, cfg, err
}
