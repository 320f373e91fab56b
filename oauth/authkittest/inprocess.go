package authkittest

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
)

// Client returns an HTTP client whose requests to the emulator's URL are
// served in-process by Handler, without a network round trip; requests to
// any other URL fail. Give it to the provider (authkit.Config.HTTPClient)
// when the emulator is mounted in the same process: the server then does
// not need to reach its own public URL, which behind a proxy or tunnel it
// often cannot.
func (s *Server) Client() *http.Client {
	return &http.Client{Transport: inProcess{s}}
}

type inProcess struct{ s *Server }

func (t inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		defer req.Body.Close()
	}
	base, err := url.Parse(t.s.URL)
	if err != nil {
		return nil, err
	}
	prefix := strings.TrimSuffix(base.Path, "/")
	u := req.URL
	if u.Scheme != base.Scheme || u.Host != base.Host || (prefix != "" && u.Path != prefix && !strings.HasPrefix(u.Path, prefix+"/")) {
		return nil, fmt.Errorf("authkittest: in-process client serves only %s, not %s://%s%s", t.s.URL, u.Scheme, u.Host, u.Path)
	}
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	inner := req.Clone(req.Context())
	inner.URL.Path = strings.TrimPrefix(u.Path, prefix)
	inner.URL.RawPath = ""
	inner.RequestURI = inner.URL.RequestURI()
	inner.RemoteAddr = "127.0.0.1:0"
	if inner.Body == nil {
		inner.Body = http.NoBody
	}
	rec := httptest.NewRecorder()
	t.s.handler.ServeHTTP(rec, inner)
	// A Fault delay that the caller abandoned ends without an answer;
	// report it as the network would.
	if err := req.Context().Err(); err != nil {
		return nil, errors.Join(err, errors.New("authkittest: request abandoned"))
	}
	res := rec.Result()
	res.Request = req
	return res, nil
}
