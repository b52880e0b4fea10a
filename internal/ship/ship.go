// Package ship sends every line of the log dir to a log store, reading
// the files, never the writer's queue (docs/shipping.md). It follows the
// dir with the store's one follower (internal/store), so every line is
// passed once across rotation, compression and audited deletes; it
// batches the lines, sends them, and after each delivered batch saves its
// position in {dir}/.ship-position, from which a restart resumes.
//
// The files are the buffer: a store that is down costs lag, not lines.
// A request that fails is sent again with backoff, forever; a stop
// finishes the batch in flight and saves the position, so a clean stop
// sends nothing twice.
package ship

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/store"
	"github.com/trailcar/trailcar/rotate"
)

// Options configure a Shipper.
type Options struct {
	Config   Config
	Dir      string // the log dir
	Filename string // the live file's name; "" means audit.log
	// Position is the position file; "" means {Dir}/.ship-position.
	Position string
	// Service and Host name the source (OTLP's resource attributes).
	Service, Host string
	// Wake, if set, is closed when the writer writes (*audit.Writer.Written):
	// lines go out at once rather than at the next poll.
	Wake func() <-chan struct{}
	// Poll is how often the files are checked; 0 means 250ms.
	Poll    time.Duration
	Metrics *Metrics
	// Report is told of rejected and lost lines (the sidecar records a
	// system.ship.rejected or system.ship.lost event; trailcar ship
	// prints JSON on stderr).
	Report func(Report)
	Logger *slog.Logger
	// Client sends the requests; nil means one built from Config (ca_file,
	// tls_verify).
	Client *http.Client
}

// Report is lines the store will never have.
type Report struct {
	Kind   string   `json:"kind"` // "rejected" or "lost"
	Count  int      `json:"count"`
	IDs    []string `json:"ids,omitempty"`    // rejected: the lines the store named
	Reason string   `json:"reason,omitempty"` // rejected: the store's
	// Batch is the first and last id of the batch the rejected lines
	// were in, when the store did not say which (OTLP); From and To are
	// then its first and last eventTime.
	Batch []string `json:"batch,omitempty"`
	// From and To are the eventTimes of the first and last line lost.
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
}

// Shipper ships one log dir. Run it once.
type Shipper struct {
	opts       Options
	cfg        Config
	posPath    string
	client     *http.Client
	auth       string // the Authorization header, or ""
	target     string // the URL requests go to
	proto      protocol
	log        *slog.Logger
	m          *Metrics
	stopOnce   sync.Once
	stop       chan struct{}
	finishOnce sync.Once
	finish     chan struct{}
	// finishPassed: a pass ended after Finish; the next one began after it.
	finishPassed bool

	pos      Position // the last line the store has
	batch    batch
	seenTime string // eventTime of the newest line read
	placeF   string // where the line being added ends
	placeEnd int64
	// lagListed is when the files were last listed for the lag in bytes.
	lagListed time.Time
	// The rotated files not passed yet, for counting lost lines (lost.go).
	inv      inventory
	invTaken time.Time
}

// errStopped ends the follow at Stop.
var errStopped = errors.New("shipper stopped")

// New checks the options and reads the credential files.
func New(opts Options) (*Shipper, error) {
	if opts.Filename == "" {
		opts.Filename = "audit.log"
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Metrics == nil {
		opts.Metrics = NewMetrics(discard{})
	}
	s := &Shipper{
		opts: opts, cfg: opts.Config, log: opts.Logger, m: opts.Metrics,
		posPath: opts.Position, stop: make(chan struct{}), finish: make(chan struct{}),
	}
	if s.posPath == "" {
		s.posPath = filepath.Join(opts.Dir, PositionFile)
	}
	switch s.cfg.Protocol {
	case Elasticsearch, "":
		s.proto = &bulk{index: s.cfg.Index}
	case OTLP:
		s.proto = &otlpLogs{service: opts.Service, host: opts.Host}
	default:
		return nil, fmt.Errorf("ship.protocol %q: want elasticsearch or otlp", s.cfg.Protocol)
	}
	s.target = joinURL(s.cfg.URL, s.proto.path())
	// Read at once, so that a position that cannot be read stops the
	// start rather than shipping quietly.
	pos, err := LoadPosition(s.posPath)
	if err != nil {
		return nil, fmt.Errorf("ship position: %w", err)
	}
	s.pos = pos
	if err := s.loadAuth(); err != nil {
		return nil, err
	}
	s.client = opts.Client
	if s.client == nil {
		c, err := clientFor(s.cfg)
		if err != nil {
			return nil, err
		}
		s.client = c
	}
	return s, nil
}

// joinURL puts path after the URL's path, keeping its query parameters
// (VictoriaLogs takes _msg_field and the like there).
func joinURL(base, path string) string {
	q := ""
	if i := strings.IndexByte(base, '?'); i >= 0 {
		base, q = base[:i], base[i:]
	}
	return strings.TrimRight(base, "/") + path + q
}

func (s *Shipper) loadAuth() error {
	read := func(key, path string) (string, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("ship.%s: %w", key, err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	switch {
	case s.cfg.TokenFile != "":
		tok, err := read("token_file", s.cfg.TokenFile)
		if err != nil {
			return err
		}
		s.auth = "Bearer " + tok
	case s.cfg.User != "":
		pw := ""
		if s.cfg.PasswordFile != "" {
			var err error
			if pw, err = read("password_file", s.cfg.PasswordFile); err != nil {
				return err
			}
		}
		s.auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(s.cfg.User+":"+pw))
	}
	return nil
}

func clientFor(cfg Config) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: !cfg.TLSVerify} //nolint:gosec // ship.tls_verify: false is the operator's choice
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ship.ca_file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ship.ca_file %s: no PEM certificate", cfg.CAFile)
		}
		tc.RootCAs = pool
	}
	tr.TLSClientConfig = tc
	return &http.Client{Transport: tr}, nil
}

// Stop asks Run to finish the batch in flight, save the position and
// return nil. It does not wait.
func (s *Shipper) Stop() { s.stopOnce.Do(func() { close(s.stop) }) }

// Finish asks Run to stop after the pass over the files in progress:
// every line written before Finish is shipped first. The sidecar calls it
// once its writer has closed, so its last records reach the store. It
// does not wait.
func (s *Shipper) Finish() { s.finishOnce.Do(func() { close(s.finish) }) }

func (s *Shipper) finishing() bool {
	select {
	case <-s.finish:
		return true
	default:
		return s.stopping()
	}
}

func (s *Shipper) stopping() bool {
	select {
	case <-s.stop:
		return true
	default:
		return false
	}
}

// Run ships until Stop (nil, the batch in flight delivered and the
// position saved) or until ctx ends (ctx.Err(): a batch still being
// retried is given up and will be sent again at the next start).
func (s *Shipper) Run(ctx context.Context) error {
	pos := s.pos
	s.seenTime = pos.EventTime
	s.batch.lastTime, s.batch.lastID, s.batch.ties = pos.EventTime, pos.ID, append([]string(nil), pos.Ties...)
	s.batch.lastFile, s.batch.lastEnd = pos.File, pos.Offset
	st := store.New(store.Options{Dir: s.opts.Dir, Filename: s.opts.Filename, Logger: s.log})
	var err error
	fo := store.FollowOptions{
		Poll: s.opts.Poll, Wake: s.opts.Wake, Tick: func() error { return s.tick(ctx) },
		Place: func(file string, end int64) { s.placeF, s.placeEnd = file, end },
	}
	if pos.EventTime != "" {
		fo.AfterTime, fo.AfterIDs = pos.EventTime, append([]string{pos.ID}, pos.Ties...)
	} else {
		fo.Since = time.Unix(0, 0).UTC() // no position: from the oldest line in the dir
	}
	s.log.Info("shipping", "dir", s.opts.Dir, "to", redacted(s.target), "protocol", s.cfg.Protocol,
		"from", cmpOr(pos.EventTime, "the oldest line"))
	err = st.Follow(ctx, fo, func(line []byte) error { return s.add(ctx, line) })
	switch {
	case errors.Is(err, errStopped):
	case err == nil && ctx.Err() != nil:
		return ctx.Err()
	case err != nil:
		return err
	}
	// Stopped: the lines read but not yet sent are the batch in flight.
	if err := s.flush(ctx); err != nil {
		return err
	}
	s.log.Info("shipper stopped", "position", s.pos.EventTime, "id", s.pos.ID)
	return nil
}

// add puts one line in the batch, sending the batch first when the line
// would overfill it.
func (s *Shipper) add(ctx context.Context, line []byte) error {
	if s.stopping() {
		return errStopped // this line and the rest wait for the next start
	}
	if s.batch.n > 0 && (s.batch.n >= s.cfg.Batch.MaxLines || len(s.batch.data)+len(line)+1 > int(s.cfg.Batch.MaxBytes)) {
		if err := s.flush(ctx); err != nil {
			return err
		}
	}
	s.batch.add(line, s.placeF, s.placeEnd)
	if t, ok := event.LineTime(line); ok && string(t) > s.seenTime {
		s.seenTime = string(t)
	}
	if s.batch.n >= s.cfg.Batch.MaxLines || len(s.batch.data) >= int(s.cfg.Batch.MaxBytes) {
		return s.flush(ctx)
	}
	return nil
}

// tick runs after each pass over the files: it sends a batch older than
// max_wait, and updates the lag.
func (s *Shipper) tick(ctx context.Context) error {
	if s.stopping() {
		return errStopped // Run sends the batch
	}
	if s.finishing() {
		// The pass that just ended may have begun before Finish: one more,
		// begun after it, reads every line written before it.
		if s.finishPassed {
			return errStopped
		}
		s.finishPassed = true
	}
	if s.batch.n > 0 && time.Since(s.batch.first) >= s.cfg.Batch.MaxWait {
		if err := s.flush(ctx); err != nil {
			return err
		}
	}
	if s.batch.n == 0 {
		// A pass read every line written; all of them are shipped.
		s.m.LagSeconds.Set(0)
		s.m.LagBytes.Set(0)
		return nil
	}
	s.setLag(s.seenTime)
	return nil
}

// setLag sets the lag gauges against newest, the eventTime of the newest
// line written.
func (s *Shipper) setLag(newest string) {
	if newest == "" || newest <= s.pos.EventTime {
		s.m.LagSeconds.Set(0)
		s.m.LagBytes.Set(0)
		s.lagListed = time.Time{} // the next lag is listed at once, not up to a second later
		return
	}
	a, err1 := time.Parse(time.RFC3339Nano, newest)
	b, err2 := time.Parse(time.RFC3339Nano, s.pos.EventTime)
	if err1 == nil && err2 == nil {
		s.m.LagSeconds.Set(a.Sub(b).Seconds())
	}
	if time.Since(s.lagListed) >= time.Second { // a directory read; not once per batch during a catch-up
		s.lagListed = time.Now()
		s.m.LagBytes.Set(float64(s.lagBytes()))
	}
}

// lagBytes is the size of the files after the position: the files
// rotated after its line was written, whole (compressed ones at their
// size on disk), and the live file, from the position's offset when the
// position is in it, else whole. Near enough for an alert on a store
// that has been away: a rotated file is counted from its start.
func (s *Shipper) lagBytes() int64 {
	infos, err := rotate.List(s.opts.Dir, s.opts.Filename)
	if err != nil {
		return 0
	}
	at, err := time.Parse(time.RFC3339Nano, s.pos.EventTime)
	if err != nil {
		at = time.Time{} // no position: everything is to ship
	}
	var n int64
	newer := false
	for _, in := range infos {
		if !in.Live && in.Rotated.After(at) {
			n += in.Size
			newer = true
		}
	}
	for _, in := range infos {
		if in.Live {
			if !newer && s.pos.File == s.opts.Filename && in.Size >= s.pos.Offset {
				n += in.Size - s.pos.Offset
			} else {
				n += in.Size
			}
		}
	}
	return n
}

// flush sends the batch until the store has it (or ctx ends), then
// saves the position after its last line.
func (s *Shipper) flush(ctx context.Context) error {
	if s.batch.n == 0 {
		return nil
	}
	body, ctype, err := s.proto.encode(&s.batch)
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		s.takeInventory()
		v, err := s.send(ctx, body, ctype)
		if err == nil {
			s.m.Requests.WithLabelValues("ok").Inc()
			s.m.Up.Set(1)
			if attempt > 0 {
				s.log.Info("log store reachable again", "after_attempts", attempt)
			}
			s.delivered(v)
			return nil
		}
		s.m.Requests.WithLabelValues("error").Inc()
		s.m.Up.Set(0)
		wait := backoff(attempt)
		if rl := (*retryLater)(nil); errors.As(err, &rl) {
			// The store said when (OTLP/HTTP's throttling); not longer
			// than the backoff's ceiling.
			wait = max(wait, min(rl.after, maxBackoff))
		}
		if attempt == 0 || attempt%10 == 0 {
			s.log.Warn("log store request failed; sending the batch again", "err", err, "lines", s.batch.n, "attempt", attempt+1, "retry_in", wait.Round(time.Millisecond))
		}
		s.setLag(s.newestWritten())
		if err := s.wait(ctx, wait); err != nil {
			return err
		}
	}
}

// wait waits d before the batch is sent again, taking the inventory of
// the files rotated meanwhile (lost.go) as it goes: retention may prune
// them before the store is back.
func (s *Shipper) wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	tick := time.NewTicker(inventoryEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			return nil
		case <-tick.C:
			s.takeInventory()
		}
	}
}

// delivered records a batch the store is done with: metrics, rejects,
// position.
func (s *Shipper) delivered(v verdict) {
	n := s.batch.n
	rejected := v.lines
	if v.note != "" {
		s.log.Warn("the log store took the batch with a note", "lines", n, "note", v.note)
	}
	if v.count > 0 {
		// The store did not say which lines: the report names the batch
		// they were in, by its first and last line.
		all := make([]int, n)
		for i := range all {
			all[i] = i
		}
		first, last := s.batch.line(0), s.batch.line(n-1)
		r := Report{Kind: "rejected", Count: v.count, Reason: v.reason}
		for _, l := range [][]byte{first, last} {
			if id, ok := event.LineID(l); ok {
				r.Batch = append(r.Batch, string(id))
			}
		}
		if t, ok := event.LineTime(first); ok {
			r.From = string(t)
		}
		if t, ok := event.LineTime(last); ok {
			r.To = string(t)
		}
		s.m.Lines.WithLabelValues("rejected").Add(float64(v.count))
		s.log.Error("the log store rejected lines of a batch without naming them; they are not sent again",
			"count", r.Count, "of", n, "batch", r.Batch, "reason", r.Reason)
		s.report(r, all)
		n -= v.count
	}
	if len(rejected) > 0 {
		r := Report{Kind: "rejected", Count: len(rejected), Reason: rejected[0].reason}
		for _, x := range rejected {
			if id, ok := event.LineID(s.batch.line(x.index)); ok {
				r.IDs = append(r.IDs, string(id))
			}
		}
		s.m.Lines.WithLabelValues("rejected").Add(float64(len(rejected)))
		s.log.Error("the log store rejected lines; they are not sent again", "count", r.Count, "ids", r.IDs, "reason", r.Reason)
		idx := make([]int, len(rejected))
		for i, x := range rejected {
			idx[i] = x.index
		}
		s.report(r, idx)
		n -= len(rejected)
	}
	s.m.Lines.WithLabelValues("shipped").Add(float64(n))
	if s.batch.lastTime != "" {
		s.pos = Position{EventTime: s.batch.lastTime, ID: s.batch.lastID, Ties: append([]string(nil), s.batch.ties...),
			File: s.batch.lastFile, Offset: s.batch.lastEnd}
		if err := SavePosition(s.posPath, s.pos); err != nil {
			// The store has the lines; a restart before the next save
			// sends them again (a store that keeps _id keeps one copy).
			s.log.Error("save ship position", "path", s.posPath, "err", err)
		}
	}
	if len(s.inv) > 0 {
		ids := make(map[string]bool, s.batch.n)
		for i := range s.batch.n {
			if id, ok := event.LineID(s.batch.line(i)); ok {
				ids[string(id)] = true
			}
		}
		s.settleInventory(ids)
	}
	s.batch.reset()
	s.setLag(s.seenTime)
}

// report tells Options.Report of rejected lines (the batch's lines at
// idx, or among them) unless they are all the sidecar's own reports of
// earlier rejections: a store that refuses everything would otherwise
// make each report the cause of the next, one a batch, forever. They are
// counted and logged all the same.
func (s *Shipper) report(r Report, idx []int) {
	if s.opts.Report == nil {
		return
	}
	for _, i := range idx {
		if !isRejectedReport(s.batch.line(i)) {
			s.opts.Report(r)
			return
		}
	}
	s.log.Warn("not reported again: the rejected lines are reports of earlier rejections", "count", r.Count)
}

// isRejectedReport: the line is a system.ship.rejected record (its type
// follows its eventTime in the line's fixed layout).
func isRejectedReport(line []byte) bool {
	if _, ok := event.LineTime(line); !ok {
		return false
	}
	return bytes.HasPrefix(line[event.TimeOffset+event.TimeLen:], []byte(`","type":"system.ship.rejected"`))
}

// send makes one request. An error means the whole batch is sent again.
func (s *Shipper) send(ctx context.Context, body []byte, ctype string) (verdict, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.target, bytes.NewReader(body))
	if err != nil {
		return verdict{}, err
	}
	req.Header.Set("Content-Type", ctype)
	for k, v := range s.cfg.Headers {
		req.Header.Set(k, v)
	}
	if s.auth != "" {
		req.Header.Set("Authorization", s.auth)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return verdict{}, err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return verdict{}, err
	}
	return s.proto.judge(resp, answer, s.batch.n)
}

func snippet(b []byte) string {
	const max = 300
	if len(b) > max {
		b = b[:max]
	}
	return strings.TrimSpace(string(b))
}

// maxBackoff is the longest wait before a batch is sent again.
const maxBackoff = 30 * time.Second

// backoff is 250 ms doubling to at most 30 s, ±20% jitter.
func backoff(attempt int) time.Duration {
	d := 250 * time.Millisecond
	for i := 0; i < attempt && d < maxBackoff; i++ {
		d *= 2
	}
	d = min(d, maxBackoff)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// newestWritten is the eventTime of the live file's last complete line,
// read from its tail, for the lag while the shipper is not reading.
func (s *Shipper) newestWritten() string {
	f, err := os.Open(filepath.Join(s.opts.Dir, s.opts.Filename))
	if err != nil {
		return s.seenTime
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return s.seenTime
	}
	const tail = 64 << 10
	off := max(fi.Size()-tail, 0)
	buf := make([]byte, fi.Size()-off)
	n, _ := f.ReadAt(buf, off)
	buf = bytes.TrimRight(buf[:n], "\n")
	line := buf[bytes.LastIndexByte(buf, '\n')+1:]
	if t, ok := event.LineTime(line); ok && string(t) > s.seenTime {
		return string(t)
	}
	return s.seenTime
}

func redacted(u string) string {
	if i := strings.Index(u, "@"); i >= 0 {
		if j := strings.Index(u, "://"); j >= 0 && j < i {
			return u[:j+3] + "xxxxx" + u[i:]
		}
	}
	return u
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
