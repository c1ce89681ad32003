//go:build !linux

package sync

import (
	"errors"
	"syscall"
)

// Outside Linux connections do not park: each keeps a reader goroutine
// blocked on it (see poll_linux.go).
type poller struct{}

type pollHandle struct{}

var errNoPoller = errors.New("sync: no poller on this platform")

func sharedPoller() (*poller, error) { return nil, errNoPoller }

func (p *poller) park(syscall.RawConn, *pollHandle, func()) error { return errNoPoller }

func (p *poller) cancel(*pollHandle) {}
