package webhook

import (
	"cmp"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/glob"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/metrics"
)

// TypeDeliveryFailed is the type of the event reported when a delivery is
// given up.
const TypeDeliveryFailed = "system.webhook.delivery_failed"

// workers is how many deliveries may be in flight at once, so that one
// hanging receiver connection does not stall every delivery.
const workers = 4

// Options are the dependencies of a Dispatcher.
type Options struct {
	// Metrics receives trailcar_webhook_deliveries_total and
	// trailcar_webhook_queue_length. Required. New registers the gauge on
	// it, so New may be called once per Metrics.
	Metrics *metrics.Metrics

	// Report, if not nil, is called for each delivery given up on with a
	// system.webhook.delivery_failed event to record; the caller fills in
	// id, time, service and host. It is called from delivery goroutines,
	// possibly concurrently, and until Close returns. It may call Publish
	// (the event is not sent back to the endpoint that failed) but not
	// Close.
	Report func(e *event.Event)

	// Transport sends the requests. If nil, a clone of
	// http.DefaultTransport is used, with certificate verification as the
	// endpoint's TLSVerify says.
	Transport http.RoundTripper

	// Logger logs deliveries given up on and the start of each episode of
	// drops. If nil, slog.Default() is used.
	Logger *slog.Logger

	// Backoff returns the wait before retry number retry (1 for the
	// first retry). If nil, the schedule of docs/webhooks.md "Retries" is used: 250 ms doubling
	// to 5 s, each ±20% at random. Tests shorten it.
	Backoff func(retry int) time.Duration
}

// Dispatcher delivers published events to the configured endpoint. Its
// methods are safe for concurrent use.
//
// Order: events leave the queue in the order they were published. One
// event per POST, up to 4 are delivered at once and an event being retried
// does not hold back the ones behind it, so a receiver may see events out
// of order (by a few places when it is healthy, more around retries);
// receivers that care should order by eventTime or id, which are
// time-ordered. In batches, one batch is in flight at a time, so batches
// arrive in order and a batch being retried holds back the next
// (docs/webhooks.md "Batches").
type Dispatcher struct {
	enabled  bool
	levels   []string
	types    []*glob.Pattern
	endpoint string // event_log or general: metric label, details.endpoint

	url      string      // substituted; may carry user info
	cleanURL string      // without user info, for logs and reports
	header   http.Header // sent with every request
	client   *http.Client
	timeout  time.Duration
	retryFor time.Duration
	batch    Batch
	backoff  func(int) time.Duration
	report   func(*event.Event)
	log      *slog.Logger

	delivered, retried, failed, dropped prometheus.Counter

	mu     sync.RWMutex // guards closed and the closing of queue against Publish
	closed bool
	queue  chan []byte

	full      atomic.Bool  // dropping for a full queue; logged once per episode
	abandoned atomic.Int64 // deliveries cut short by Close's deadline

	ctx     context.Context // ends when Close gives up waiting
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	stopped chan struct{} // closed when every worker has returned
}

// New validates cfg and starts the delivery workers; Close stops them.
// When cfg is not enabled, the Dispatcher takes nothing: Publish ignores
// every event. The basic auth password is read here.
func New(cfg Config, opts Options) (*Dispatcher, error) {
	if opts.Metrics == nil {
		return nil, errors.New("webhook: Options.Metrics is required")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d := &Dispatcher{
		enabled: cfg.Enabled,
		queue:   make(chan []byte, cfg.Queue),
		stopped: make(chan struct{}),
	}
	if !cfg.Enabled {
		close(d.stopped)
		d.registerGauge(opts.Metrics)
		return d, nil
	}

	name, ep := cfg.target()
	u, _ := parseURL(ep.URL) // Validate checked it
	header, err := requestHeader(name, ep)
	if err != nil {
		return nil, err
	}
	d.levels = slices.Clone(cfg.Levels)
	d.types, _ = compileTypes(cfg.Types)
	d.endpoint = name
	d.url = u.String()
	d.cleanURL = withoutCredentials(u)
	d.header = header
	d.client = &http.Client{
		Transport: transport(opts.Transport, ep),
		// A redirect is answered as a failure, not followed: the event
		// must not go where the configuration did not say.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	d.timeout, d.retryFor, d.batch = cfg.Timeout, cfg.RetryFor, cfg.Batch
	d.backoff = opts.Backoff
	if d.backoff == nil {
		d.backoff = defaultBackoff
	}
	d.report = opts.Report
	d.log = cmp.Or(opts.Logger, slog.Default()).With("endpoint", name, "url", d.cleanURL)
	deliveries := opts.Metrics.WebhookDeliveries
	d.delivered = deliveries.WithLabelValues(name, "delivered")
	d.retried = deliveries.WithLabelValues(name, "retried")
	d.failed = deliveries.WithLabelValues(name, "failed")
	d.dropped = deliveries.WithLabelValues(name, "dropped")
	d.registerGauge(opts.Metrics)
	d.ctx, d.cancel = context.WithCancel(context.Background())
	if d.batch.batched() {
		d.wg.Add(1)
		go d.workBatches()
	} else {
		d.wg.Add(workers)
		for range workers {
			go d.work()
		}
	}
	go func() {
		d.wg.Wait()
		close(d.stopped)
	}()
	return d, nil
}

// registerGauge registers trailcar_webhook_queue_length and
// trailcar_webhook_queue_capacity (so an alert can be relative to the
// configured queue), once nothing can fail any more: registering twice on
// one Metrics panics.
func (d *Dispatcher) registerGauge(m *metrics.Metrics) {
	m.GaugeFunc("webhook_queue_length", "Events waiting to be delivered to the webhook.",
		func() float64 { return float64(len(d.queue)) })
	m.GaugeFunc("webhook_queue_capacity", "Events the webhook queue holds before it drops (webhooks.queue).",
		func() float64 { return float64(cap(d.queue)) })
}

// requestHeader builds the headers every request carries.
func requestHeader(name string, ep Endpoint) (http.Header, error) {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "trailcar")
	if ep.User != "" || ep.PasswordFile != "" {
		var password string
		if ep.PasswordFile != "" {
			b, err := os.ReadFile(ep.PasswordFile)
			if err != nil {
				var pathErr *fs.PathError
				if errors.As(err, &pathErr) {
					err = pathErr.Err // the path is the value
				}
				return nil, &FieldError{Key: "webhooks.endpoints." + name + ".password_file",
					Value: ep.PasswordFile, Err: fmt.Errorf("read: %w", err)}
			}
			password = strings.TrimSpace(string(b))
		}
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(ep.User+":"+password)))
	}
	for k, v := range ep.Headers {
		h.Set(k, v)
	}
	return h, nil
}

// transport returns rt, or when nil a clone of http.DefaultTransport that
// verifies certificates as ep says.
func transport(rt http.RoundTripper, ep Endpoint) http.RoundTripper {
	if rt != nil {
		return rt
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = workers
	if ep.TLSVerify != nil && !*ep.TLSVerify {
		t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the operator asked for it
	}
	return t
}

// Publish queues line for delivery if its level and type are wanted. line is
// one encoded event (event.AppendJSON's output, newline included); it must
// not be modified afterwards, as it is kept without copying. Publish never
// blocks: when the queue is full, or after Close, the event is dropped and
// counted (result="dropped").
func (d *Dispatcher) Publish(line []byte) {
	if !d.enabled || !d.wanted(line) {
		return
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		d.dropped.Inc()
		return
	}
	select {
	case d.queue <- line:
		if d.full.Load() {
			d.full.Store(false)
		}
	default:
		d.dropped.Inc()
		if !d.full.Load() && d.full.CompareAndSwap(false, true) {
			d.log.Warn("webhook queue full: dropping events", "queue", cap(d.queue))
		}
	}
}

// Close stops taking events, keeps delivering the queued ones (retries
// included) until they are done or ctx ends, then cuts the rest short and
// returns once every delivery goroutine has returned. Events not delivered
// because ctx ended are counted as dropped and not reported; Close then
// returns an error wrapping ctx.Err(). Calling Close again waits for the
// first one to finish.
func (d *Dispatcher) Close(ctx context.Context) error {
	d.mu.Lock()
	if !d.closed {
		d.closed = true
		close(d.queue)
	}
	d.mu.Unlock()
	if !d.enabled {
		return nil
	}
	select {
	case <-d.stopped:
	case <-ctx.Done():
		d.cancel()
		<-d.stopped
	}
	d.cancel()
	d.client.CloseIdleConnections()
	if n := d.abandoned.Load(); n > 0 && ctx.Err() != nil {
		d.log.Warn("webhook deliveries abandoned at shutdown", "count", n)
		return fmt.Errorf("webhook: close: %d deliveries abandoned: %w", n, ctx.Err())
	}
	return nil
}
