package ship

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/trailcar/trailcar/internal/event"
)

// protocol is how a batch is put to the store.
type protocol interface {
	path() string
	encode(b *batch) (body []byte, contentType string, err error)
	// result reads a 2xx answer: the lines the store refused for good,
	// or an error to send the whole batch again.
	result(answer []byte, n int) ([]rejection, error)
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

func (*bulk) result(answer []byte, n int) ([]rejection, error) {
	var a bulkAnswer
	if err := json.Unmarshal(answer, &a); err != nil {
		return nil, fmt.Errorf("bulk answer: %w", err)
	}
	if !a.Errors {
		return nil, nil
	}
	if len(a.Items) != n {
		return nil, fmt.Errorf("bulk answer: errors, and %d items for %d lines", len(a.Items), n)
	}
	var rej []rejection
	for i, item := range a.Items {
		for _, it := range item {
			switch st := it.Status; {
			case st/100 == 2, st == 409: // 409: already there (a store that keeps _id)
			case st == 429, st >= 500:
				return nil, fmt.Errorf("bulk item %d: status %d: %s", i, st, snippet(it.Error))
			default:
				rej = append(rej, rejection{index: i, reason: fmt.Sprintf("status %d: %s", st, snippet(it.Error))})
			}
		}
	}
	return rej, nil
}
