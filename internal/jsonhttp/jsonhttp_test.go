package jsonhttp_test

import (
	"net/http/httptest"
	"testing"

	"github.com/trailcar/trailcar/internal/jsonhttp"
)

func TestError(t *testing.T) {
	rec := httptest.NewRecorder()
	jsonhttp.Error(rec, 400, `limit: "0": want 1 to 1000`)
	if rec.Code != 400 || rec.Header().Get("Content-Type") != "application/json" ||
		rec.Body.String() != `{"error":"limit: \"0\": want 1 to 1000"}`+"\n" {
		t.Fatalf("%d %v %q", rec.Code, rec.Header(), rec.Body.String())
	}
}
