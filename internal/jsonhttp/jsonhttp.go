// Package jsonhttp writes the JSON answers of trailcar's routes: a value,
// or an error as {"error": "..."} (docs/admin-api.md "Routes").
package jsonhttp

import (
	"encoding/json"
	"net/http"
)

// Write answers status with v as JSON.
func Write(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	h["X-Content-Type-Options"] = []string{"nosniff"}
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v) // the status is sent: a failure here is the client's connection
}

// Error answers status with {"error": msg}.
func Error(w http.ResponseWriter, status int, msg string) {
	Write(w, status, map[string]string{"error": msg})
}
