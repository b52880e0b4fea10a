package proxy_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/sidecartest"
)

// The differential conformance suite: apps that break HTTP's framing, each
// answered through trailcar and through a stock httputil.ReverseProxy with
// an http.Transport built here. After each misbehaviour two clients, alice
// and bob, take turns asking for their own page (GET on trailcar's own
// transport, POST on http.Transport): every client must get exactly what
// the stock proxy gives it, and only its own page. Where trailcar differs
// on purpose the case says so, with what each gives (docs/proxy.md
// "Where trailcar answers differently" says why).

// appOK is the start of the apps' answers: an answer without X-App was
// made by the proxy itself. (With a Content-Type: without one, net/http
// sniffs one for a chunked answer or not depending on whether
// ReverseProxy's first flush or first write comes first, a race in the
// stock proxy as much as in trailcar.)
const appOK = "HTTP/1.1 200 OK\r\nX-App: yes\r\nContent-Type: text/plain\r\n"

// fakeAnswer is a whole second answer an app slips in: a proxy that reads
// it as the next request's answer gives one client another's page.
const fakeAnswer = appOK + "Content-Length: 7\r\n\r\nPWNED!!"

// whoami answers the follow-up requests: the caller's own page.
func whoami(c *appConn, r *http.Request) {
	body := "secret page of " + r.Header.Get("Authorization")
	c.send(appOK + fmt.Sprintf("Content-Length: %d\r\n\r\n", len(body)) + body)
}

// A conformanceCase is one misbehaviour: answer handles the request to
// /bad (method method); whoami requests follow.
type conformanceCase struct {
	name   string
	method string // of the request to /bad; "" is GET
	answer func(c *appConn, r *http.Request) bool
	pause  time.Duration // before the follow-ups (for what the app does on an idle connection)
	// differs, when set, is why trailcar answers /bad otherwise than the
	// stock proxy; trailcarGot and stockGot are then what each must give.
	differs, trailcarGot, stockGot string
}

// infoHint is one 103 Early Hints answer.
const infoHint = "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"

func conformanceCases() []conformanceCase {
	send := func(s string) func(c *appConn, r *http.Request) bool {
		return func(c *appConn, r *http.Request) bool { c.send(s); return true }
	}
	sendClose := func(s string) func(c *appConn, r *http.Request) bool {
		return func(c *appConn, r *http.Request) bool { c.send(s); return false }
	}
	later := func(first, after string, hold time.Duration) func(c *appConn, r *http.Request) bool {
		return func(c *appConn, r *http.Request) bool {
			c.send(first)
			go func() {
				time.Sleep(100 * time.Millisecond)
				c.send(after) // on the idle connection, asked by nobody
				time.Sleep(hold)
				c.Close()
			}()
			return true
		}
	}
	trickle := func(head string, every time.Duration) func(c *appConn, r *http.Request) bool {
		return func(c *appConn, r *http.Request) bool {
			for i := 0; i < len(head); i += 4 {
				if _, err := c.Write([]byte(head[i:min(i+4, len(head))])); err != nil {
					return false
				}
				time.Sleep(every)
			}
			return true
		}
	}
	ok5 := appOK + "Content-Length: 5\r\n\r\nHELLO"
	return []conformanceCase{
		{name: "a second answer after the body", answer: send(ok5 + fakeAnswer)},
		{name: "a second answer after a POST's body", method: "POST", answer: send(ok5 + fakeAnswer)},
		{name: "a body on a HEAD answer", method: "HEAD", answer: send(ok5 + fakeAnswer)},
		{name: "a body on a 204", answer: send("HTTP/1.1 204 No Content\r\nX-App: yes\r\n\r\n" + fakeAnswer)},
		{name: "a body on a 304", answer: send("HTTP/1.1 304 Not Modified\r\nX-App: yes\r\n\r\n" + fakeAnswer)},
		{name: "a body longer than its Content-Length", answer: send(appOK + "Content-Length: 3\r\n\r\nHELLOWORLD")},
		{name: "an unsolicited 408 on the idle connection", answer: later(ok5, "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", time.Second), pause: 300 * time.Millisecond},
		{name: "a late unsolicited answer on the idle connection", answer: later(ok5, fakeAnswer, time.Second), pause: 300 * time.Millisecond},
		{name: "the idle connection closed", answer: later(ok5, "", 0), pause: 300 * time.Millisecond},
		{name: "no length, then close", answer: sendClose(appOK + "\r\nHELLO")},
		{name: "a bad chunk size", answer: send(appOK + "Transfer-Encoding: chunked\r\n\r\nzz\r\nHELLO\r\n0\r\n\r\n")},
		{name: "a Content-Length larger than the body, then close", answer: sendClose(appOK + "Content-Length: 100\r\n\r\nHELLO")},
		{name: "two different Content-Lengths", answer: send(appOK + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nHELLO!")},
		{name: "the same Content-Length twice", answer: send(appOK + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nHELLO")},
		{name: "Transfer-Encoding and Content-Length", answer: send(appOK + "Transfer-Encoding: chunked\r\nContent-Length: 100\r\n\r\n5\r\nHELLO\r\n0\r\n\r\n")},
		{name: "an HTTP/1.0 answer, the socket left open", answer: send("HTTP/1.0 200 OK\r\nX-App: yes\r\nContent-Length: 5\r\n\r\nHELLO" + fakeAnswer)},
		{name: "Connection: close, the socket left open", answer: send(appOK + "Connection: close\r\nContent-Length: 5\r\n\r\nHELLO" + fakeAnswer)},
		{name: "half-close after an answer without length", answer: func(c *appConn, r *http.Request) bool {
			c.send(appOK + "\r\nHELLO")
			c.Conn.(*net.TCPConn).CloseWrite()
			return true
		}},
		{name: "half-close without an answer", answer: func(c *appConn, r *http.Request) bool {
			c.Conn.(*net.TCPConn).CloseWrite()
			return true
		}},
		{name: "reset instead of an answer", answer: func(c *appConn, r *http.Request) bool { c.reset(); return false }},
		{name: "reset in the middle of the body", answer: func(c *appConn, r *http.Request) bool {
			c.send(appOK + "Content-Length: 100\r\n\r\nHELLO")
			time.Sleep(50 * time.Millisecond)
			c.reset()
			return false
		}},
		{name: "no answer", answer: func(c *appConn, r *http.Request) bool {
			time.Sleep(conformanceTimeout + 500*time.Millisecond)
			return false
		}, differs: "SPEC: past upstream_timeout trailcar answers 504; the stock ReverseProxy answers 502 to every transport error",
			trailcarGot: "504 (proxy)", stockGot: "502 (proxy)"},
		{name: "a head slower than upstream_timeout", answer: trickle(appOK+"X-Slow: "+strings.Repeat("s", 60)+"\r\nContent-Length: 5\r\n\r\nHELLO", 100*time.Millisecond),
			differs:     "as for no answer: 504 from trailcar, 502 from the stock proxy, both when the head took too long",
			trailcarGot: "504 (proxy)", stockGot: "502 (proxy)"},
		{name: "a slow head within upstream_timeout", answer: trickle(ok5, 10*time.Millisecond)},
		{name: "a 512 KiB head", answer: send(appOK + "X-Big: " + strings.Repeat("z", 512<<10) + "\r\nContent-Length: 5\r\n\r\nHELLO")},
		{name: "a head over 1 MiB", answer: send(appOK + "X-Big: " + strings.Repeat("z", 2<<20) + "\r\nContent-Length: 5\r\n\r\nHELLO"),
			differs:     "trailcar bounds an answer head to 1 MiB (memory per request); http.Transport's default bound is 10 MiB",
			trailcarGot: "502 (proxy)", stockGot: "200 HELLO (head +2048 KiB)"},
		{name: "100 informational answers", answer: send(strings.Repeat(infoHint, 100) + ok5)},
		{name: "2,000 informational answers", answer: send(strings.Repeat(infoHint, 2000) + ok5),
			differs:     "trailcar passes on 1,000 informational answers and then gives up (a flood must not hold a connection forever); the stock proxy passes on any number",
			trailcarGot: "1000x1xx 502 (proxy)", stockGot: "2000x1xx 200 HELLO"},
		{name: "an unasked 101", answer: send("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n" + fakeAnswer)},
		{name: "a malformed status line", answer: send("HTTP/1.1 PWNED!! OK\r\n\r\n")},
		{name: "garbage instead of an answer", answer: send("PWNED!! secret page of Bearer mallory\r\n\r\n")},
		{name: "a header line without colon", answer: send(appOK + "Set-Cookie session=PWNED\r\nContent-Length: 5\r\n\r\nHELLO")},
		{name: "a negative Content-Length", answer: send(appOK + "Content-Length: -5\r\n\r\nHELLO")},
	}
}

// exchangeResult is what one client got for one request.
type exchangeResult struct {
	status int
	body   string
	cut    bool // the body ended in an error
	err    bool // no answer head at all
	infos  int  // informational answers before the final one
	byApp  bool // the answer is the app's (else the proxy's own error)
	header string
}

// summary is the result as the table shows it and the cases compare it.
func (r exchangeResult) summary() string {
	var b strings.Builder
	if r.infos > 0 {
		fmt.Fprintf(&b, "%dx1xx ", r.infos)
	}
	switch {
	case r.err, r.byApp && r.cut && r.body == "":
		// A head and then nothing, or not even the head: which one the
		// client sees depends on whether ReverseProxy's first flush of a
		// chunked answer beat its first read of the body (a race in the
		// stock proxy too), so both read as one.
		b.WriteString("broken answer")
	case !r.byApp:
		fmt.Fprintf(&b, "%d (proxy)", r.status)
	default:
		body := r.body
		if len(body) > 40 {
			body = fmt.Sprintf("(%d bytes)", len(body))
		}
		fmt.Fprintf(&b, "%d %s", r.status, body)
		if i := strings.Index(r.header, "X-Big: "); i >= 0 {
			size, _, _ := strings.Cut(r.header[i+len("X-Big: "):], " ")
			fmt.Fprintf(&b, " (head +%s KiB)", size)
		}
		if r.cut {
			b.WriteString(" +cut")
		}
	}
	return strings.TrimSpace(b.String())
}

// comparableHeader is the answer's header without what differs by nature
// (Date) or what trailcar documents adding (the request id).
func comparableHeader(h http.Header) string {
	var lines []string
	for k, v := range h {
		switch k {
		case "Date", "X-Request-Id":
			continue
		case "X-Big":
			v = []string{fmt.Sprintf("%d KiB", len(v[0])>>10)}
		}
		lines = append(lines, k+": "+strings.Join(v, ", "))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

func doRequest(c *http.Client, method, u, auth string) exchangeResult {
	var res exchangeResult
	var body io.Reader
	if method == "POST" {
		body = strings.NewReader("name=x")
	}
	ctx := withGot1xx(context.Background(), func(int, http.Header) { res.infos++ })
	req, _ := http.NewRequestWithContext(ctx, method, u, body)
	req.Header.Set("Authorization", auth)
	resp, err := c.Do(req)
	if err != nil {
		res.err = true
		return res
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	res.status, res.body, res.cut = resp.StatusCode, string(b), err != nil
	res.byApp = resp.Header.Get("X-App") == "yes"
	res.header = comparableHeader(resp.Header)
	return res
}

// followUps are the requests after the misbehaviour: each client's own page,
// on both of trailcar's ways to the app.
var followUps = []struct{ who, method string }{
	{"alice", "GET"}, {"bob", "GET"}, {"alice", "POST"}, {"bob", "POST"},
	{"alice", "GET"}, {"bob", "GET"}, {"alice", "POST"}, {"bob", "POST"},
}

// run sends the case's requests through p (with a fresh app behind it) and
// returns what /bad got and whether every follow-up got its own page.
func runConformance(t *testing.T, tc conformanceCase, start func(app *rawApp) *proxyUnderTest) (bad exchangeResult, own int, results []exchangeResult, p *proxyUnderTest) {
	app := newRawApp(t, func(c *appConn, r *http.Request) bool {
		if r.URL.Path == "/whoami" {
			whoami(c, r)
			return true
		}
		return tc.answer(c, r)
	})
	p = start(app)
	clients := map[string]*http.Client{}
	for _, who := range []string{"alice", "bob"} {
		tr := &http.Transport{DisableCompression: true}
		t.Cleanup(tr.CloseIdleConnections)
		clients[who] = &http.Client{Transport: tr, Timeout: 20 * time.Second}
	}
	method := tc.method
	if method == "" {
		method = "GET"
	}
	bad = doRequest(clients["alice"], method, p.front.URL+"/bad", "Bearer alice")
	results = append(results, bad)
	time.Sleep(tc.pause)
	for _, f := range followUps {
		r := doRequest(clients[f.who], f.method, p.front.URL+"/whoami", "Bearer "+f.who)
		results = append(results, r)
		if ownPage(r, f.who) {
			own++
		} else if p.rec != nil {
			// trailcar must; the stock proxy's http.Transport can shift an
			// answer when its reader offers the connection before it looks
			// past the answer (docs/proxy.md): counted in the table.
			t.Errorf("%s: %s %s /whoami through %s got %s, want its own page", tc.name, f.who, f.method, p.name, r.summary())
		}
	}
	return bad, own, results, p
}

func TestConformanceWithStockReverseProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("the conformance suite takes ~15 s")
	}
	var table []string
	for _, tc := range conformanceCases() {
		t.Run(tc.name, func(t *testing.T) {
			tBad, tOwn, tResults, tp := runConformance(t, tc, func(app *rawApp) *proxyUnderTest { return startTrailcar(t, app.url(), nil) })
			sBad, sOwn, sResults, _ := runConformance(t, tc, func(app *rawApp) *proxyUnderTest { return startStock(t, app.url()) })
			verdict := "equal"
			switch {
			case tc.differs != "":
				verdict = "documented"
				if got := tBad.summary(); got != tc.trailcarGot {
					t.Errorf("trailcar gave /bad %q, want %q", got, tc.trailcarGot)
				}
				if got := sBad.summary(); got != tc.stockGot {
					t.Errorf("stock gave /bad %q, want %q (the documented difference no longer holds)", got, tc.stockGot)
				}
			case tBad.summary() != sBad.summary():
				t.Errorf("/bad: trailcar gave %q, stock %q", tBad.summary(), sBad.summary())
			case tBad.byApp && sBad.byApp && tBad.header != sBad.header: // both got a head (a broken answer may have none: the flush race above)
				t.Errorf("/bad headers differ:\ntrailcar:\n%s\nstock:\n%s", tBad.header, sBad.header)
			}
			for i := 1; i < len(tResults); i++ {
				if !ownPage(sResults[i], followUps[i-1].who) {
					continue // the stock proxy's own fault, not a standard to meet
				}
				if tResults[i].summary() != sResults[i].summary() || tResults[i].header != sResults[i].header {
					t.Errorf("follow-up %d: trailcar gave %q, stock %q", i, tResults[i].summary(), sResults[i].summary())
				}
			}
			checkConformanceEvents(t, tp, tResults)
			table = append(table, fmt.Sprintf("| %s | %s | %s | %d/%d | %d/%d | %s |", tc.name, tBad.summary(), sBad.summary(),
				tOwn, len(followUps), sOwn, len(followUps), verdict))
		})
	}
	t.Logf("\n| the app's misbehaviour | trailcar gave | stock gave | own pages after (trailcar) | (stock) | |\n|---|---|---|---|---|---|\n%s",
		strings.Join(table, "\n"))
}

// checkConformanceEvents: one well-formed event per request (the recorder
// checks each line), with the status the client got, and nothing the app
// sent in any of them.
func checkConformanceEvents(t *testing.T, p *proxyUnderTest, results []exchangeResult) {
	t.Helper()
	var events []event.Event
	sidecartest.Eventually(t, "one event per request", func() bool {
		events = p.rec.Events()
		return len(events) >= len(results)
	})
	time.Sleep(20 * time.Millisecond)
	if events = p.rec.Events(); len(events) != len(results) {
		t.Fatalf("%d events for %d requests", len(events), len(results))
	}
	byPath := map[string][]int{}
	for _, e := range events {
		byPath[e.Req.Path] = append(byPath[e.Req.Path], e.Res.StatusCode)
		line, _ := event.AppendJSON(nil, &e)
		for _, secret := range []string{"PWNED", "HELLO", "secret page", "WORLD", "zzzz", "session="} {
			if strings.Contains(string(line), secret) {
				t.Errorf("an event holds %q, something the app sent: %s", secret, line)
			}
		}
	}
	if st := byPath["/bad"]; len(st) != 1 || !results[0].err && st[0] != results[0].status {
		t.Errorf("/bad's event says %v, the client got %d", st, results[0].status)
	}
}

// ownPage reports whether a follow-up got who's own page, whole.
func ownPage(r exchangeResult, who string) bool {
	return r.status == 200 && r.byApp && r.body == "secret page of Bearer "+who && !r.cut
}
