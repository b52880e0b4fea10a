package ship

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/trailcar/trailcar/internal/durable"
	"github.com/trailcar/trailcar/internal/event"
)

// PositionFile is the shipper's position in the log dir
// (docs/shipping.md "Position and resume"); the name starts with a dot,
// as everything the sidecar keeps in the dir besides the audit files.
const PositionFile = ".ship-position"

// LockFile is what trailcar ship locks so that one shipper works a dir
// at a time.
const LockFile = ".ship-lock"

// Position is the last line the store has: its eventTime and id (what a
// resume goes by), and the file and byte offset just after it (the live
// file's name, or a rotated file's without .gz; uncompressed bytes), for
// people and for the lag in bytes. Lines written in the same microsecond
// share an eventTime: Ties holds the ids of the others shipped at that
// time, so a resume skips them too.
type Position struct {
	EventTime string   `json:"eventTime"`
	ID        string   `json:"id"`
	Ties      []string `json:"ties,omitempty"`
	File      string   `json:"file"`
	Offset    int64    `json:"offset"`
}

// LoadPosition reads a position file; a missing one is the zero Position
// (start at the oldest line).
func LoadPosition(path string) (Position, error) {
	var p Position
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return p, err
	}
	err = json.Unmarshal(b, &p)
	if err == nil && p.EventTime != "" && !event.ValidTimeText([]byte(p.EventTime)) {
		err = fmt.Errorf("eventTime %q", p.EventTime)
	}
	if err != nil {
		// Never torn (it is renamed into place): edited or damaged. Not
		// guessed at: removing it ships the dir again from its oldest line.
		return Position{}, fmt.Errorf("%s is not a ship position (remove it to ship the dir from its oldest line): %w", path, err)
	}
	return p, nil
}

// SavePosition writes p to path so that a crash leaves the old position
// or the new one, never a torn file: a temporary file beside it, fsynced,
// renamed over it, and the directory fsynced.
func SavePosition(path string, p Position) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	// A failed save is logged by the caller: the store has the lines, and
	// a restart before the next save sends them again.
	return durable.WriteFile(path, append(b, '\n'), 0o600)
}
