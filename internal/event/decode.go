package event

import (
	"encoding/json"
	"fmt"
)

// Decode parses one encoded line (with or without its newline) into e.
func Decode(line []byte, e *Event) error {
	*e = Event{}
	if err := json.Unmarshal(line, e); err != nil {
		return fmt.Errorf("decode event: %w", err)
	}
	if !ValidID(e.ID) {
		return fmt.Errorf("decode event: %w", ErrBadID)
	}
	return nil
}
