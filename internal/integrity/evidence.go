package integrity

import "bytes"

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
