// Command bare is the ceiling for the comparison: a plain net/http handler
// that speaks just enough of MCP's Streamable HTTP transport (spec
// 2025-06-18, basic/transports) for the load tool to run: initialize with an
// Mcp-Session-Id, notifications answered 202, tools/call "add", a GET stream
// that stays open, DELETE. It decodes the same JSON-RPC body and writes the
// same tools/call result a real server would, and nothing more, so the
// distance between it and a real server is the cost of that server's
// framework and checks.
package main

import (
	"crypto/rand"
	"encoding/json"
	"flag"
	"io"
	"log"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"remote-mcp-authkit/bench/internal/debugvars"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8790", "listen address")
	debugAddr := flag.String("debug-addr", "", "loopback address for /debug/vars and /debug/gc (empty: off)")
	lifetime := flag.Duration("max-lifetime", 30*time.Minute, "exit after this long, so a forgotten server stops itself")
	flag.Parse()
	if *debugAddr != "" {
		if err := debugvars.Serve(*debugAddr); err != nil {
			log.Fatal(err)
		}
	}
	time.AfterFunc(*lifetime, func() { log.Print("max lifetime reached"); os.Exit(0) })
	s := &server{sessions: make(map[string]struct{})}
	mux := http.NewServeMux()
	mux.Handle("/mcp", s)
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

type server struct {
	mu       sync.RWMutex
	sessions map[string]struct{}
}

// request is a JSON-RPC 2.0 request or notification; params stay raw until
// the method is known.
type request struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id,omitempty"`
	Method  string          `json:"method"`
	Params  json.RawMessage `json:"params,omitempty"`
}

type response struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  any             `json:"result,omitempty"`
	Error   *rpcError       `json:"error,omitempty"`
}

type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

type content struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type callResult struct {
	Content []content `json:"content"`
	IsError bool      `json:"isError,omitempty"`
}

var addTool = json.RawMessage(`{"name":"add","description":"Add two numbers","inputSchema":{"type":"object","properties":{"a":{"type":"number"},"b":{"type":"number"}},"required":["a","b"]}}`)

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodPost:
		s.post(w, r)
	case http.MethodGet:
		if !s.known(r.Header.Get("Mcp-Session-Id")) {
			http.Error(w, "unknown session", http.StatusNotFound)
			return
		}
		// The standalone stream for server messages: this server has none to
		// send, so it holds the stream open until the client leaves.
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		http.NewResponseController(w).Flush()
		<-r.Context().Done()
	case http.MethodDelete:
		id := r.Header.Get("Mcp-Session-Id")
		s.mu.Lock()
		delete(s.sessions, id)
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	default:
		w.Header().Set("Allow", "GET, POST, DELETE")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func (s *server) known(id string) bool {
	s.mu.RLock()
	_, ok := s.sessions[id]
	s.mu.RUnlock()
	return ok
}

func (s *server) post(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(w, r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
		return
	}
	var req request
	if err := json.Unmarshal(body, &req); err != nil || req.JSONRPC != "2.0" {
		writeJSON(w, response{JSONRPC: "2.0", ID: json.RawMessage("null"), Error: &rpcError{-32700, "parse error"}})
		return
	}
	if req.Method != "initialize" && !s.known(r.Header.Get("Mcp-Session-Id")) {
		http.Error(w, "unknown session", http.StatusNotFound)
		return
	}
	if req.ID == nil { // a notification: accepted, no body
		w.WriteHeader(http.StatusAccepted)
		return
	}
	resp := response{JSONRPC: "2.0", ID: req.ID}
	switch req.Method {
	case "initialize":
		var p struct {
			ProtocolVersion string `json:"protocolVersion"`
		}
		json.Unmarshal(req.Params, &p)
		v := p.ProtocolVersion
		if v != "2025-06-18" && v != "2025-03-26" && v != "2024-11-05" && v != "2025-11-25" {
			v = "2025-06-18"
		}
		id := rand.Text()
		s.mu.Lock()
		s.sessions[id] = struct{}{}
		s.mu.Unlock()
		w.Header().Set("Mcp-Session-Id", id)
		resp.Result = map[string]any{
			"protocolVersion": v,
			"capabilities":    map[string]any{"tools": map[string]any{}},
			"serverInfo":      map[string]string{"name": "bare", "version": "1"},
		}
	case "ping":
		resp.Result = struct{}{}
	case "tools/list":
		resp.Result = map[string]any{"tools": []json.RawMessage{addTool}}
	case "tools/call":
		var p struct {
			Name      string `json:"name"`
			Arguments struct {
				A *float64 `json:"a"`
				B *float64 `json:"b"`
			} `json:"arguments"`
		}
		if err := json.Unmarshal(req.Params, &p); err != nil || p.Name != "add" {
			resp.Error = &rpcError{-32602, "unknown tool or bad params"}
			break
		}
		if p.Arguments.A == nil || p.Arguments.B == nil {
			resp.Result = callResult{Content: []content{{"text", "a and b are required numbers"}}, IsError: true}
			break
		}
		sum := *p.Arguments.A + *p.Arguments.B
		resp.Result = callResult{Content: []content{{"text", strconv.FormatFloat(sum, 'f', -1, 64)}}}
	default:
		resp.Error = &rpcError{-32601, "method not found"}
	}
	writeJSON(w, resp)
}

func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	buf := make([]byte, 0, 512)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil {
			if err == io.EOF {
				return buf, nil
			}
			return nil, err
		}
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encoding failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Write(b)
}
