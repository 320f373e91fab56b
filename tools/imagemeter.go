package tools

// A hook around an image generator, for the operator's metrics: each call
// to the image service reported with its outcome and duration, the
// generator otherwise unchanged (its description in tools/list included).

import (
	"context"
	"errors"
	"time"
)

// ImageCallObserver is told of each call to an image service: how it
// ended ("ok", "rate_limited", "timeout", "cancelled", "client_error" for
// refused credentials or a rejected request, "server_error" for a failure
// or a malformed answer, "error" otherwise) and how long it took.
type ImageCallObserver func(outcome string, d time.Duration)

// ObserveImages returns gen with every Generate reported to observe.
func ObserveImages(gen ImageGenerator, observe ImageCallObserver) ImageGenerator {
	return &observedImages{gen: gen, observe: observe}
}

type observedImages struct {
	gen     ImageGenerator
	observe ImageCallObserver
}

var _ toolDescriber = (*observedImages)(nil)

func (o *observedImages) Name() string { return o.gen.Name() }

// describe forwards the generator's own description (toolDescriber).
func (o *observedImages) describe() (string, string) {
	if d, ok := o.gen.(toolDescriber); ok {
		return d.describe()
	}
	return "with " + o.gen.Name(), "Services without such a parameter ignore it."
}

func (o *observedImages) Generate(ctx context.Context, req ImageRequest) (*Image, error) {
	start := time.Now()
	img, err := o.gen.Generate(ctx, req)
	outcome := "ok"
	switch {
	case err == nil:
	case errors.Is(err, ErrUpstreamRateLimited):
		outcome = "rate_limited"
	case errors.Is(err, ErrUpstreamTimeout):
		outcome = "timeout"
	case errors.Is(err, ErrUpstreamCanceled):
		outcome = "cancelled"
	case errors.Is(err, ErrUpstreamCredentials), errors.Is(err, ErrUpstreamRejected):
		outcome = "client_error"
	case errors.Is(err, ErrUpstreamFailed), errors.Is(err, ErrUpstreamMalformed):
		outcome = "server_error"
	default:
		outcome = "error"
	}
	o.observe(outcome, time.Since(start))
	return img, err
}
