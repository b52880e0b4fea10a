// Package integrity makes the audit trail show tampering (docs/integrity.md): a hash chain over every line written in the log dir,
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

// Hasher advances chains without allocating: what it hashes goes through
// buffers of its own (a Digest passed to the hash.Hash interface would
// escape to the heap).
type Hasher struct {
	h       hash.Hash
	in, out Digest
}

// Next returns SHA-256(d ‖ line).
func (hs *Hasher) Next(d Digest, line []byte) Digest {
	return hs.sum(d, line, nil)
}

// NextLine is Next for a line given without its newline.
func (hs *Hasher) NextLine(d Digest, line []byte) Digest {
	return hs.sum(d, line, newline)
}

func (hs *Hasher) sum(d Digest, line, tail []byte) Digest {
	if hs.h == nil {
		hs.h = sha256.New()
	}
	hs.h.Reset()
	hs.in = d
	hs.h.Write(hs.in[:])
	hs.h.Write(line)
	if tail != nil {
		hs.h.Write(tail)
	}
	hs.h.Sum(hs.out[:0])
	return hs.out
}

var newline = []byte{'\n'}
