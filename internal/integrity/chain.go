// Package integrity makes the audit trail show tampering (README
// "Integrity"): a hash chain over every line written in the log dir,
// sealed by checkpoint events, optionally signed with Ed25519; the check
// of it (Verify); and the re-sealing of files an audited delete rewrote.
//
//	chain = SHA-256(previous chain ‖ line)      (32 zero bytes before the first line)
//
// where line is the line's bytes with its newline. A checkpoint, an event
// of type system.audit.checkpoint, records the chain after the last line
// before it; its own line is chained too, so files link across rotation.
package integrity

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
)

// Digest is a chain value.
type Digest [32]byte

// String is the digest in lowercase hex, as checkpoints write it.
func (d Digest) String() string { return hex.EncodeToString(d[:]) }

// ParseDigest reads 64 hex digits.
func ParseDigest(s string) (Digest, error) {
	var d Digest
	if len(s) != 64 {
		return d, errors.New("want 64 hex digits")
	}
	if _, err := hex.Decode(d[:], []byte(s)); err != nil {
		return d, errors.New("want 64 hex digits")
	}
	return d, nil
}

// Hasher advances chains without allocating.
type Hasher struct {
	h hash.Hash
}

// Next returns SHA-256(d ‖ line).
func (hs *Hasher) Next(d Digest, line []byte) Digest {
	if hs.h == nil {
		hs.h = sha256.New()
	}
	hs.h.Reset()
	hs.h.Write(d[:])
	hs.h.Write(line)
	var out Digest
	hs.h.Sum(out[:0])
	return out
}

// NextLine is Next for a line given without its newline.
func (hs *Hasher) NextLine(d Digest, line []byte) Digest {
	if hs.h == nil {
		hs.h = sha256.New()
	}
	hs.h.Reset()
	hs.h.Write(d[:])
	hs.h.Write(line)
	hs.h.Write(newline)
	var out Digest
	hs.h.Sum(out[:0])
	return out
}

var newline = []byte{'\n'}
