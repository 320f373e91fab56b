package tools

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// failing is a generator that fails as told.
type failing struct{ err error }

func (f failing) Name() string { return "failing" }
func (f failing) Generate(context.Context, ImageRequest) (*Image, error) {
	return nil, f.err
}

// ObserveImages reports each call's outcome and keeps the generator's own
// description in the tool.
func TestObserveImages(t *testing.T) {
	var got []string
	obs := func(outcome string, d time.Duration) { got = append(got, outcome) }
	gen := ObserveImages(OfflineRenderer{}, obs)
	if _, err := gen.Generate(context.Background(), ImageRequest{Prompt: "a lighthouse", Steps: 4}); err != nil {
		t.Fatal(err)
	}
	for _, e := range []error{ErrUpstreamRateLimited, ErrUpstreamTimeout, ErrUpstreamCredentials, ErrUpstreamFailed, fmt.Errorf("other")} {
		ObserveImages(failing{&UpstreamError{Kind: e}}, obs).Generate(context.Background(), ImageRequest{Prompt: "x"})
	}
	if s := strings.Join(got, " "); s != "ok rate_limited timeout client_error server_error error" {
		t.Fatalf("outcomes %s", s)
	}
	want := GenerateImage(OfflineRenderer{}).Description
	if d := GenerateImage(gen).Description; d != want {
		t.Fatalf("description %q, want the generator's own %q", d, want)
	}
}
