package tools

// The offline renderer: an image generator that needs no service, so that the
// product works on a laptop and in tests. It draws an abstract picture that
// depends only on the prompt and the steps.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"strconv"
)

// OfflineImageSize is the width and height of the offline renderer's images.
const OfflineImageSize = 256

// OfflineRenderer draws a deterministic PNG from the prompt and the steps:
// the same request always gives the same picture, and different requests
// almost surely differ. More steps draw more shapes.
type OfflineRenderer struct{}

// Name implements ImageGenerator.
func (OfflineRenderer) Name() string { return "the offline renderer" }

// describe implements toolDescriber.
func (OfflineRenderer) describe() (string, string) {
	return "with this server's offline renderer (no image model is configured: it draws an abstract pattern from the prompt)",
		"The offline renderer draws more shapes for more steps."
}

// offlineNotice is shown beside every offline image, so that nobody mistakes
// the picture for a model's work.
const offlineNotice = "This image was drawn by the server's offline renderer, not by an image model: " +
	"it is an abstract pattern derived from a hash of the prompt and the steps. " +
	"To generate real images, the server's operator sets CLOUDFLARE_ACCOUNT_ID and CLOUDFLARE_API_TOKEN " +
	"(Workers AI, flux-1-schnell, optionally through AI Gateway with WORKERS_AI_BASE_URL), or OPENAI_API_KEY " +
	"with optional OPENAI_BASE_URL and OPENAI_IMAGE_MODEL (an OpenAI-compatible images endpoint, gpt-image-2 by default)."

// Generate implements ImageGenerator.
func (OfflineRenderer) Generate(ctx context.Context, req ImageRequest) (*Image, error) {
	if err := ctx.Err(); err != nil {
		return nil, &UpstreamError{Service: OfflineRenderer{}.Name(), Kind: ErrUpstreamCanceled}
	}
	steps := max(req.Steps, 1)
	seed := sha256.Sum256([]byte(req.Prompt + "\x00" + strconv.Itoa(req.Steps)))
	rng := rand.New(rand.NewChaCha8(seed))

	const n = OfflineImageSize
	img := image.NewNRGBA(image.Rect(0, 0, n, n))
	randColor := func(alpha uint8) color.NRGBA {
		return color.NRGBA{uint8(rng.IntN(256)), uint8(rng.IntN(256)), uint8(rng.IntN(256)), alpha}
	}
	// A diagonal gradient between two colours of the hash.
	c0, c1 := randColor(255), randColor(255)
	mix := func(a, b uint8, t, max int) uint8 { return uint8((int(a)*(max-t) + int(b)*t) / max) }
	for y := range n {
		for x := range n {
			t := x + y
			img.SetNRGBA(x, y, color.NRGBA{mix(c0.R, c1.R, t, 2*n-2), mix(c0.G, c1.G, t, 2*n-2), mix(c0.B, c1.B, t, 2*n-2), 255})
		}
	}
	// Translucent discs and rectangles, three per step: the "detail".
	for range 3 * steps {
		c := randColor(uint8(96 + rng.IntN(128)))
		cx, cy := rng.IntN(n), rng.IntN(n)
		r := 8 + rng.IntN(n/4)
		disc := rng.IntN(2) == 0
		for y := max(cy-r, 0); y < min(cy+r, n); y++ {
			for x := max(cx-r, 0); x < min(cx+r, n); x++ {
				if disc && (x-cx)*(x-cx)+(y-cy)*(y-cy) > r*r {
					continue
				}
				blend(img, x, y, c)
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return &Image{Data: buf.Bytes(), MimeType: "image/png", Notice: offlineNotice}, nil
}

// blend paints c over the pixel at x, y ("source over" compositing).
func blend(img *image.NRGBA, x, y int, c color.NRGBA) {
	p := img.NRGBAAt(x, y)
	a := int(c.A)
	f := func(dst, src uint8) uint8 { return uint8((int(src)*a + int(dst)*(255-a)) / 255) }
	img.SetNRGBA(x, y, color.NRGBA{f(p.R, c.R), f(p.G, c.G), f(p.B, c.B), 255})
}
