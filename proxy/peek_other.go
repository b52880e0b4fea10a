//go:build !linux

package proxy

import "net"

// peeker on systems other than Linux cannot look at a socket without
// reading from it: an idle connection is never reused there (trailcar's
// target is Linux; this keeps it correct elsewhere, and slower).
type peeker struct{}

func (p *peeker) init(net.Conn) {}

func (p *peeker) idle() bool { return false }
