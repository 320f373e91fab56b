//go:build unix

package mcp

import (
	"net"
	"syscall"
)

// peerGone reports, without waiting, whether the client closed or reset a
// hijacked connection; ok is false when the connection cannot be asked this
// way. Go's sockets are non-blocking, so one read(2) answers at once: 0
// (EOF) or an error when the client left, EAGAIN while it is there and
// silent. Whatever it reads is dropped: a client sends nothing on a stream.
// Under TLS the TCP connection is asked: a client leaving closes it too.
func peerGone(conn net.Conn) (gone, ok bool) {
	if tc, isTLS := conn.(interface{ NetConn() net.Conn }); isTLS {
		conn = tc.NetConn()
	}
	sc, isSC := conn.(syscall.Conn)
	if !isSC {
		return false, false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false, false
	}
	var (
		n    int
		rerr error
		b    [64]byte
	)
	if err := raw.Read(func(fd uintptr) bool {
		n, rerr = syscall.Read(int(fd), b[:])
		return true // never wait for the socket to become readable
	}); err != nil {
		return true, true // closed on this side
	}
	switch {
	case rerr == syscall.EAGAIN || rerr == syscall.EWOULDBLOCK || rerr == syscall.EINTR:
		return false, true
	case rerr != nil || n == 0:
		return true, true
	}
	return false, true
}
