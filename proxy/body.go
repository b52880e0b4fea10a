package proxy

import (
	"cmp"
	"errors"
	"io"
	"net/http"
	"time"
)

// Default bounds on how slowly a client may send a request body (see
// Options.BodyGrace). A body must come at BodyMinRate bytes a second on
// average, after a grace of BodyGrace:
// a client trickling a byte every few seconds would otherwise hold a
// connection here and one to the app for as long as it likes. Real
// uploads, even over a poor link, are far above the rate.
const (
	BodyGrace   = 10 * time.Second
	BodyMinRate = 1024 // bytes per second
)

// errBodyTooSlow ends a body that came slower than BodyMinRate.
var errBodyTooSlow = errors.New("request body sent too slowly")

// slowBody bounds the time a request body may take (see BodyMinRate), by
// moving the connection's read deadline as bytes arrive. It lives in the
// exchange: no allocation per request.
type slowBody struct {
	rc       io.ReadCloser
	ctl      *http.ResponseController
	start    time.Time
	grace    time.Duration
	rate     int64
	read     int64
	deadline time.Time
	timedOut bool
	done     bool
}

func (b *slowBody) Read(p []byte) (int, error) {
	if b.done {
		return b.rc.Read(p)
	}
	n, err := b.rc.Read(p)
	b.read += int64(n)
	switch {
	case err == io.EOF:
		b.done = true
		b.ctl.SetReadDeadline(time.Time{}) // the body is in: no bound on what follows
	case err != nil:
		if isTimeout(err) {
			b.timedOut = true
			return n, errBodyTooSlow
		}
	default:
		// Push the deadline back as bytes arrive, but not on every read.
		if d := b.start.Add(b.grace + time.Duration(b.read)*time.Second/time.Duration(b.rate)); d.Sub(b.deadline) >= b.grace/10 {
			b.deadline = d
			b.ctl.SetReadDeadline(d)
		}
	}
	return n, err
}

func (b *slowBody) Close() error { return b.rc.Close() }

func isTimeout(err error) bool {
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}

// boundBody starts bounding r's body, if it has one.
func (x *exchange) boundBody(r *http.Request) {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return
	}
	o := &x.p.opts
	x.reqBody = slowBody{rc: r.Body, ctl: http.NewResponseController(x.rw), start: x.start,
		grace: cmp.Or(o.BodyGrace, BodyGrace), rate: int64(cmp.Or(o.BodyMinRate, BodyMinRate))}
	x.reqBody.deadline = x.start.Add(x.reqBody.grace)
	if x.reqBody.ctl.SetReadDeadline(x.reqBody.deadline) != nil {
		return // not supported (HTTP/2's own flow control bounds it)
	}
	r.Body = &x.reqBody
}
