package load

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// event is one Server-Sent Event (HTML Living Standard, "Server-sent events",
// section 9.2.6 "Interpreting an event stream"): the event type and the data
// lines joined by "\n".
type event struct {
	Name string
	Data []byte
}

// maxEventBytes bounds one event, so a broken server cannot make the load
// tool grow without limit.
const maxEventBytes = 1 << 20

var errEventTooLarge = errors.New("SSE event larger than 1 MiB")

// readEvent reads the next event with a non-empty data field. Comment lines
// (": keep-alive") and fields other than event and data are skipped; a
// stream that ends mid-event returns io.ErrUnexpectedEOF.
func readEvent(br *bufio.Reader) (event, error) {
	var ev event
	var data []byte
	hasData := false
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A line longer than the buffer: gather it piecewise.
			long := append([]byte(nil), line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = br.ReadSlice('\n')
				long = append(long, line...)
				if len(long) > maxEventBytes {
					return ev, errEventTooLarge
				}
			}
			line = long
		}
		if err != nil {
			if err == io.EOF && (len(line) > 0 || hasData) {
				return ev, io.ErrUnexpectedEOF
			}
			return ev, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 { // blank line: dispatch
			if hasData {
				ev.Data = data
				return ev, nil
			}
			ev = event{}
			continue
		}
		if line[0] == ':' {
			continue
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "event":
			ev.Name = string(value)
		case "data":
			if hasData {
				data = append(data, '\n')
			}
			data = append(data, value...)
			hasData = true
			if len(data) > maxEventBytes {
				return ev, errEventTooLarge
			}
		}
	}
}
