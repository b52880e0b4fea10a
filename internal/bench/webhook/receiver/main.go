// Command receiver is the far end for bench/webhook/run.sh: a webhook
// receiver that never answers (-mode hang: it reads each request and waits
// until the client gives up) or answers 204 at once (-mode ok), or the
// upstream app (-mode upstream: 200 with a fixed 96-byte JSON body).
package main

import (
	"flag"
	"io"
	"log"
	"net/http"
	"time"
)

var body = []byte(`{"id":"w1","name":"widget","status":"created","owner":"alice","tags":["a","b"],"size":96}` + "\n")

func main() {
	addr := flag.String("addr", "127.0.0.1:18090", "listen address")
	mode := flag.String("mode", "ok", "hang, ok or upstream")
	flag.Parse()
	var h http.HandlerFunc
	switch *mode {
	case "hang":
		h = func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			<-r.Context().Done()
		}
	case "ok":
		h = func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusNoContent)
		}
	case "upstream":
		h = func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/json")
			w.Write(body)
		}
	default:
		log.Fatalf("-mode %q: want hang, ok or upstream", *mode)
	}
	srv := &http.Server{Addr: *addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
