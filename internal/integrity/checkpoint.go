package integrity

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"github.com/trailcar/trailcar/internal/event"
)

// CheckpointType is the type of checkpoint events.
const CheckpointType = "system.audit.checkpoint"

// Checkpoint is the details of a checkpoint event.
type Checkpoint struct {
	Seq     uint64 `json:"seq"`   // counts checkpoints in the dir; never restarts
	File    string `json:"file"`  // the file it was written in (its live name)
	Lines   int    `json:"lines"` // lines since the previous checkpoint, neither counted
	FirstID string `json:"first_id"`
	LastID  string `json:"last_id"`
	Chain   string `json:"chain"` // the chain after the segment's last line
	Prev    string `json:"prev"`  // the previous checkpoint's chain; 64 zeros for the first
	Sig     string `json:"sig,omitempty"`
	// ResealedBy is the id of the system.events.deleted event whose
	// delete rewrote the file and re-sealed this checkpoint.
	ResealedBy string `json:"resealed_by,omitempty"`
}

// Message is what a checkpoint's signature signs.
func (c *Checkpoint) Message() []byte {
	return fmt.Appendf(nil, "trailcar-checkpoint v1 %d %s %s", c.Seq, c.Prev, c.Chain)
}

// Details encodes c as a details object, keys in their documented order.
func (c *Checkpoint) Details() json.RawMessage {
	d := (&event.Details{}).Int("seq", int64(c.Seq)).String("file", c.File).Int("lines", int64(c.Lines)).
		String("first_id", c.FirstID).String("last_id", c.LastID).String("chain", c.Chain).String("prev", c.Prev)
	if c.Sig != "" {
		d.String("sig", c.Sig)
	}
	if c.ResealedBy != "" {
		d.String("resealed_by", c.ResealedBy)
	}
	return d.Object()
}

// Sign sets c.Sig with key; a nil key leaves it unsigned.
func (c *Checkpoint) Sign(key ed25519.PrivateKey) {
	c.Sig = ""
	if key != nil {
		c.Sig = base64.StdEncoding.EncodeToString(ed25519.Sign(key, c.Message()))
	}
}

// VerifySig reports whether c's signature is pub's.
func (c *Checkpoint) VerifySig(pub ed25519.PublicKey) bool {
	sig, err := base64.StdEncoding.DecodeString(c.Sig)
	return err == nil && ed25519.Verify(pub, c.Message(), sig)
}

// checkpointPrefix is where the encoder puts the type of a checkpoint.
var checkpointTypeText = []byte(`","type":"` + CheckpointType + `"`)

// IsCheckpoint reports whether line (an encoded event) is a checkpoint,
// by the type the encoder writes at its fixed place.
func IsCheckpoint(line []byte) bool { return hasType(line, checkpointTypeText) }

// hasType reports whether line has the type text at the place the encoder
// writes it (after the fixed-width id and eventTime).
func hasType(line, typeText []byte) bool {
	at := event.TimeOffset + event.TimeLen
	return len(line) > at+len(typeText) && bytes.Equal(line[at:at+len(typeText)], typeText)
}

// ParseCheckpoint reads a checkpoint line (without its newline).
func ParseCheckpoint(line []byte) (*Checkpoint, *event.Event, error) {
	var e event.Event
	if err := event.Decode(line, &e); err != nil {
		return nil, nil, err
	}
	if e.Type != CheckpointType {
		return nil, nil, errors.New("not a checkpoint")
	}
	var c Checkpoint
	if err := json.Unmarshal(e.Details, &c); err != nil {
		return nil, nil, fmt.Errorf("checkpoint details: %w", err)
	}
	if _, err := ParseDigest(c.Chain); err != nil {
		return nil, nil, fmt.Errorf("checkpoint chain: %w", err)
	}
	if _, err := ParseDigest(c.Prev); err != nil {
		return nil, nil, fmt.Errorf("checkpoint prev: %w", err)
	}
	return &c, &e, nil
}

// LoadPrivateKey reads an Ed25519 private key (PEM, PKCS #8).
func LoadPrivateKey(path string) (ed25519.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("not a PEM file")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("not a PKCS #8 private key: %w", err)
	}
	ed, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("a %T, not an Ed25519 private key (make one: trailcar keygen, or openssl genpkey -algorithm ed25519)", key)
	}
	return ed, nil
}

// LoadPublicKey reads an Ed25519 public key (PEM, PKIX), or takes the
// public half of a private key file.
func LoadPublicKey(path string) (ed25519.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("not a PEM file")
	}
	if key, err := x509.ParsePKIXPublicKey(block.Bytes); err == nil {
		if ed, ok := key.(ed25519.PublicKey); ok {
			return ed, nil
		}
		return nil, fmt.Errorf("a %T, not an Ed25519 public key", key)
	}
	priv, err := LoadPrivateKey(path)
	if err != nil {
		return nil, errors.New("not an Ed25519 public (PKIX) or private (PKCS #8) key")
	}
	return priv.Public().(ed25519.PublicKey), nil
}

// EncodeKeys returns a key pair as PEM: the private key as PKCS #8, the
// public one as PKIX.
func EncodeKeys(priv ed25519.PrivateKey) (private, public []byte, err error) {
	p8, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, nil, err
	}
	pk, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8}),
		pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pk}), nil
}

// KeyID is a short fingerprint of a public key, for reports: the first
// 16 hex digits of its SHA-256.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}
