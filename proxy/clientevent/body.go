package clientevent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/trailcar/trailcar/internal/event"
)

// input is a validated client event body.
type input struct {
	actionVerb    string
	httpCode      int
	clientDetails json.RawMessage // compact object, or nil
}

// readBody reads at most MaxBody bytes of r's body.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, fmt.Errorf("body: larger than %d bytes", MaxBody)
	case err != nil:
		return nil, fmt.Errorf("body: %w", err)
	}
	return body, nil
}

// parse validates a body: {"action_verb":"create","http_code":200,
// "client_details":{…}}. action_verb and http_code are required;
// client_details is optional (null is absent). Other keys are ignored, so
// that browser code may send more than trailcar records. Errors name the
// field.
func parse(body []byte) (input, error) {
	var raw struct {
		ActionVerb    json.RawMessage `json:"action_verb"`
		HTTPCode      json.RawMessage `json:"http_code"`
		ClientDetails json.RawMessage `json:"client_details"`
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return input{}, errors.New("body: want a JSON object, got nothing")
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field == "" {
			return input{}, fmt.Errorf("body: want a JSON object, got %s", typeErr.Value)
		}
		return input{}, fmt.Errorf("body: invalid JSON: %w", err)
	}
	var in input
	var err error
	if in.actionVerb, err = actionVerb(raw.ActionVerb); err != nil {
		return input{}, err
	}
	if in.httpCode, err = httpCode(raw.HTTPCode); err != nil {
		return input{}, err
	}
	if in.clientDetails, err = clientDetails(raw.ClientDetails); err != nil {
		return input{}, err
	}
	return in, nil
}

// actionVerb: a word of [a-z0-9_-], 1 to 64 long, the last part of the
// action.
func actionVerb(raw json.RawMessage) (string, error) {
	if isNull(raw) {
		return "", errors.New("action_verb: required")
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", errors.New("action_verb: want a string")
	}
	if len(s) == 0 || len(s) > 64 {
		return "", fmt.Errorf("action_verb: %s: want 1 to 64 characters of a-z, 0-9, _ and -", quote(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return "", fmt.Errorf("action_verb: %s: want 1 to 64 characters of a-z, 0-9, _ and -", quote(s))
		}
	}
	return s, nil
}

// httpCode: the status the browser's own request got, 100 to 599.
func httpCode(raw json.RawMessage) (int, error) {
	if isNull(raw) {
		return 0, errors.New("http_code: required")
	}
	var n int
	if err := json.Unmarshal(raw, &n); err != nil || n < 100 || n > 599 {
		return 0, fmt.Errorf("http_code: %s: want an HTTP status code, 100 to 599", short(string(raw)))
	}
	return n, nil
}

func clientDetails(raw json.RawMessage) (json.RawMessage, error) {
	if isNull(raw) {
		return nil, nil
	}
	obj, err := event.CompactObject(raw)
	if err != nil {
		return nil, errors.New("client_details: want a JSON object")
	}
	return obj, nil
}

// quote quotes s for an error message, cut to a readable length.
func quote(s string) string { return fmt.Sprintf("%q", short(s)) }

// short cuts what a client sent to a length fit for an error message.
func short(s string) string {
	const max = 40
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}
