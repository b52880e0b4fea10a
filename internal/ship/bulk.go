package ship

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/trailcar/trailcar/internal/event"
)

// protocol is how a batch is put to the store.
type protocol interface {
	path() string
	encode(b *batch) (body []byte, contentType string, err error)
	// judge reads the store's answer (any status) to a batch of n lines:
	// a verdict when the store is done with it, or an error to send the
	// whole batch again.
	judge(resp *http.Response, answer []byte, n int) (verdict, error)
}

// verdict is a batch the store is done with: delivered, but for the
// lines it refused for good.
type verdict struct {
	lines []rejection // refused, each named (the bulk API's item errors)
	// count lines refused without the store saying which (OTLP's partial
	// success; the whole batch for OTLP's 400), for reason.
	count  int
	reason string
	// note is what the store said of a batch it took whole (an OTLP
	// partial success that rejects nothing), to log.
	note string
}

// rejection is a line the store refused for good.
type rejection struct {
	index  int
	reason string
}

// bulk is the Elasticsearch _bulk API (docs/shipping.md "Elasticsearch
// bulk"): one create action per line, with the event's id as _id, then
// the line's own bytes.
type bulk struct {
	index string
	buf   []byte
}

func (*bulk) path() string { return "/_bulk" }

func (p *bulk) encode(b *batch) ([]byte, string, error) {
	buf := p.buf[:0]
	for i := range b.n {
		line := b.line(i)
		buf = append(buf, `{"create":{"_index":`...)
		buf = strconv.AppendQuote(buf, p.index)
		if id, ok := event.LineID(line); ok {
			buf = append(buf, `,"_id":"`...)
			buf = append(buf, id...)
			buf = append(buf, '"')
		}
		buf = append(buf, "}}\n"...)
		buf = append(buf, line...)
		buf = append(buf, '\n')
	}
	p.buf = buf
	return buf, "application/x-ndjson", nil
}

type bulkAnswer struct {
	Errors bool                  `json:"errors"`
	Items  []map[string]bulkItem `json:"items"`
}

type bulkItem struct {
	Status int             `json:"status"`
	Error  json.RawMessage `json:"error"`
}

// judge: a status that is not 2xx sends the batch again, whatever it
// is: 429 and 5xx are the store's to recover from, and any other (a bad
// URL, a refused credential) is the operator's, where sending again keeps
// the lines until it is fixed rather than dropping them. Inside a 2xx,
// each item is judged (docs/shipping.md "Failures and retries").
func (*bulk) judge(resp *http.Response, answer []byte, n int) (verdict, error) {
	if resp.StatusCode/100 != 2 {
		return verdict{}, fmt.Errorf("%s: %s", resp.Status, snippet(answer))
	}
	var a bulkAnswer
	if err := json.Unmarshal(answer, &a); err != nil {
		return verdict{}, fmt.Errorf("bulk answer: %w", err)
	}
	if !a.Errors {
		return verdict{}, nil
	}
	if len(a.Items) != n {
		return verdict{}, fmt.Errorf("bulk answer: errors, and %d items for %d lines", len(a.Items), n)
	}
	var rej []rejection
	for i, item := range a.Items {
		for _, it := range item {
			switch st := it.Status; {
			case st/100 == 2, st == 409: // 409: already there (a store that keeps _id)
			case st == 429, st >= 500:
				return verdict{}, fmt.Errorf("bulk item %d: status %d: %s", i, st, snippet(it.Error))
			default:
				rej = append(rej, rejection{index: i, reason: fmt.Sprintf("status %d: %s", st, snippet(it.Error))})
			}
		}
	}
	return verdict{lines: rej}, nil
}
