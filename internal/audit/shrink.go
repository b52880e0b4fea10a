package audit

import (
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
		c.Res.ClientDetails = (&event.Details{}).Bool("truncated", true).Int("bytes", int64(n)).Object()
	}
	c.Details = (&event.Details{}).Bool("truncated", true).Int("original_details_bytes", int64(len(e.Details))).Object()
	out, err := event.AppendJSON(buf, &c)
	if err != nil {
		panic("audit: shrink of a valid event failed: " + err.Error()) // the id was valid a moment ago
	}
	return out
}
