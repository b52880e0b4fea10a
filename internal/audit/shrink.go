package audit

import (
	"encoding/json"
	"fmt"

	"github.com/trailcar/trailcar/internal/event"
)

// maxLine bounds one encoded event. Lines are written whole and never split
// across files, so a line must fit well inside the smallest file (1 MiB);
// oversized values (a huge path, details or message) are cut instead.
const maxLine = 256 << 10

// maxField is what shrink keeps of each long string.
const maxField = 8 << 10

// shrink re-encodes e into buf with long strings cut to maxField bytes and
// the free objects replaced by a note of their size, recording that it did.
func shrink(buf []byte, e *event.Event) []byte {
	cut := func(s *string) {
		if len(*s) > maxField {
			*s = (*s)[:maxField] // the encoder replaces a split rune with U+FFFD
		}
	}
	c := *e
	cut(&c.Action)
	cut(&c.Message)
	cut(&c.Address)
	cut(&c.Req.Path)
	cut(&c.Req.Query)
	cut(&c.Req.Method)
	cut(&c.Creds.Name)
	cut(&c.Creds.UUID)
	cut(&c.Creds.Type)
	cut(&c.Resource.Type)
	cut(&c.Resource.ID)
	c.Res.ClientDetails = nil
	if n := len(e.Res.ClientDetails); n > 0 {
		c.Res.ClientDetails = json.RawMessage(fmt.Sprintf(`{"truncated":true,"bytes":%d}`, n))
	}
	c.Details = json.RawMessage(fmt.Sprintf(`{"truncated":true,"original_details_bytes":%d}`, len(e.Details)))
	out, err := event.AppendJSON(buf, &c)
	if err != nil {
		panic("audit: shrink of a valid event failed: " + err.Error()) // the id was valid a moment ago
	}
	return out
}
