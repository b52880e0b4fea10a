package proxy

import (
	"net"
	"syscall"
	"unsafe"
)

// peeker looks at an idle connection's socket without taking anything
// from it and without waiting: one recv(MSG_PEEK|MSG_DONTWAIT) through the
// connection's RawConn, both made once per connection so that a check costs
// a system call and no allocation.
type peeker struct {
	rc    syscall.RawConn
	check func(fd uintptr) bool
	clean bool
	buf   [1]byte
}

func (p *peeker) init(conn net.Conn) {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	p.rc = rc
	p.check = func(fd uintptr) bool {
		_, _, errno := syscall.RawSyscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&p.buf[0])), 1,
			syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
		// Nothing to read yet (EAGAIN) is the one clean answer; a byte
		// (n 1) is the app talking out of turn, 0 its close, anything
		// else an error on the socket.
		p.clean = errno == syscall.EAGAIN
		return true // never wait for readability
	}
}

// idle reports whether the socket holds no byte and is not closed.
// A connection it cannot look at is never reused.
func (p *peeker) idle() bool {
	if p.rc == nil {
		return false
	}
	p.clean = false
	if err := p.rc.Read(p.check); err != nil {
		return false
	}
	return p.clean
}
