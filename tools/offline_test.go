package tools

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"testing"
)

func TestOfflineRenderer(t *testing.T) {
	render := func(prompt string, steps int) []byte {
		t.Helper()
		img, err := OfflineRenderer{}.Generate(context.Background(), ImageRequest{Prompt: prompt, Steps: steps})
		if err != nil {
			t.Fatal(err)
		}
		if img.MimeType != "image/png" {
			t.Fatalf("mime type %q", img.MimeType)
		}
		if mt, err := detectImage(img.Data); err != nil || mt != "image/png" {
			t.Fatalf("advertised image/png but detected %q, %v", mt, err)
		}
		decoded, err := png.Decode(bytes.NewReader(img.Data))
		if err != nil {
			t.Fatalf("PNG does not decode: %v", err)
		}
		if b := decoded.Bounds(); b.Dx() != OfflineImageSize || b.Dy() != OfflineImageSize {
			t.Fatalf("size %v, want %dx%d", b, OfflineImageSize, OfflineImageSize)
		}
		return img.Data
	}
	fox4 := render("a red fox", 4)
	if !bytes.Equal(fox4, render("a red fox", 4)) {
		t.Error("the same prompt and steps gave different images")
	}
	if bytes.Equal(fox4, render("a red fox.", 4)) {
		t.Error("different prompts gave the same image")
	}
	if bytes.Equal(fox4, render("a red fox", 8)) {
		t.Error("different steps gave the same image")
	}
	// Prompt and steps are separated in the hash, so "a1"+4 and "a"+14
	// cannot collide by concatenation.
	if bytes.Equal(render("a1", 4), render("a", 14)) {
		t.Error("prompt and steps run together in the seed")
	}
}

func TestOfflineRendererHonoursCancellation(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := OfflineRenderer{}.Generate(ctx, ImageRequest{Prompt: "x", Steps: 4})
	if !errors.Is(err, ErrUpstreamCanceled) {
		t.Fatalf("got %v, want ErrUpstreamCanceled", err)
	}
}

func TestDetectImage(t *testing.T) {
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"png", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), "image/png"},
		{"jpeg", []byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00"), "image/jpeg"},
		{"webp", []byte("RIFF\x00\x00\x00\x00WEBPVP8 "), "image/webp"},
		{"gif refused", []byte("GIF89a......"), ""},
		{"html refused", []byte("<html><body>oops</body></html>"), ""},
		{"text refused", []byte("hello"), ""},
		{"empty refused", nil, ""},
	}
	for _, c := range cases {
		got, err := detectImage(c.data)
		if c.want == "" {
			if err == nil {
				t.Errorf("%s: detected %q, want an error", c.name, got)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s: got %q, %v; want %q", c.name, got, err, c.want)
		}
	}
}
