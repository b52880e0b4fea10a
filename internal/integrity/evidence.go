package integrity

import (
	"bytes"
	"encoding/json"
)

// The types of the lines a delete never removes (docs/integrity.md
// "Audited deletes"): checkpoints seal what stays, a delete record says
// who deleted what, a reopen record explains a gap in the chain. Were any
// of them deletable, a second delete could erase the record of the first
// and verify would still say intact.
const (
	DeletedType  = "system.events.deleted"
	ReopenedType = "system.audit.reopened"
)

// IsEvidenceType reports whether an event of type typ is one a delete
// never removes.
func IsEvidenceType(typ string) bool {
	return typ == CheckpointType || typ == DeletedType || typ == ReopenedType
}

var (
	deletedTypeText  = []byte(`","type":"` + DeletedType + `"`)
	reopenedTypeText = []byte(`","type":"` + ReopenedType + `"`)
	// systemTypeText is in every line whose type may be an evidence type,
	// wherever an encoder other than ours put it.
	systemTypeText = []byte(`"system.`)
)

// IsEvidence reports whether line (an encoded event, without its newline)
// is of a type a delete never removes, judging by the type at the place
// the encoder writes it.
func IsEvidence(line []byte) bool {
	return hasType(line, checkpointTypeText) || hasType(line, deletedTypeText) || hasType(line, reopenedTypeText)
}

// MayBeEvidence reports whether line may be of an evidence type though
// IsEvidence says no (the type is not where the encoder writes it): the
// caller then decodes the line to know. Only system events (and a rare
// value holding the text) match, so the decode is rare.
func MayBeEvidence(line []byte) bool { return bytes.Contains(line, systemTypeText) }

// ReplacedType is the writer's record of a live file deleted, truncated or
// replaced from outside: what the file held is gone (verify: missing).
const ReplacedType = "system.audit.file_replaced"

var replacedTypeText = []byte(`","type":"` + ReplacedType + `"`)

// Reopen is what a system.audit.reopened line of a sealed log says
// (docs/integrity.md "Outside rotation"): the file before it was sealed
// by checkpoint Seq, whose chain is Chain, and the chain stood at From
// right after that checkpoint's line, which is where this line and the
// ones after it are chained from.
type Reopen struct {
	Seq         uint64
	Chain, From Digest
	Reason      string // "moved" (the file before went elsewhere) or "reopened" (in place)
	MovedTo     string
	// Since, with HasSince, is the last checkpoint in a file that stays
	// in the dir: the files moved away hold Since+1 to Seq.
	Since    uint64
	HasSince bool
}

// ParseReopen reads a system.audit.reopened line (with or without its
// newline); ok is false for any other line, and for a reopen record
// without the chain (written with integrity off).
func ParseReopen(line []byte) (Reopen, bool) {
	if !hasType(line, reopenedTypeText) {
		return Reopen{}, false
	}
	var e struct {
		Details struct {
			Seq     *uint64 `json:"seq"`
			Since   *uint64 `json:"since"`
			Chain   string  `json:"chain"`
			From    string  `json:"from"`
			Reason  string  `json:"reason"`
			MovedTo string  `json:"moved_to"`
		} `json:"details"`
	}
	if json.Unmarshal(line, &e) != nil || e.Details.Seq == nil {
		return Reopen{}, false
	}
	chain, err1 := ParseDigest(e.Details.Chain)
	from, err2 := ParseDigest(e.Details.From)
	if err1 != nil || err2 != nil {
		return Reopen{}, false
	}
	r := Reopen{Seq: *e.Details.Seq, Chain: chain, From: from, Reason: e.Details.Reason, MovedTo: e.Details.MovedTo}
	if e.Details.Since != nil && *e.Details.Since <= r.Seq {
		r.Since, r.HasSince = *e.Details.Since, true
	}
	return r, true
}

// Follow moves st over a reopen record that starts after a gap (its
// checkpoint is past st's last one: the file it sealed was moved away),
// to where the record says the chain stood; it reports whether it did.
// A record in sequence changes nothing: it is an ordinary line.
func (st *State) Follow(r Reopen) bool {
	if r.Seq <= st.Seq {
		return false
	}
	*st = State{Chain: r.From, Seq: r.Seq, LastCP: r.Chain, Kept: st.Kept}
	return true
}
