// Command barehttp is the baseline of the HTTP benchmark: a bare net/http
// handler that writes fixed bytes, read from files, with the same
// Content-Type as the reference service. Whatever the service adds on top
// (routing, the cache, JSON encoding, middleware) shows as the gap between
// its figures and these.
//
//	barehttp -addr 127.0.0.1:8100 /api/v1/users/1=user.json /api/v1/examples/users/1/profile=profile.json
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8100", "listen address")
	flag.Parse()
	mux := http.NewServeMux()
	for _, arg := range flag.Args() {
		path, file, ok := strings.Cut(arg, "=")
		if !ok {
			log.Fatalf("argument %q is not PATH=FILE", arg)
		}
		body, err := os.ReadFile(file)
		if err != nil {
			log.Fatal(err)
		}
		size := strconv.Itoa(len(body))
		mux.HandleFunc("GET "+path, func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h.Set("Content-Type", "application/json")
			h.Set("Content-Length", size)
			_, _ = w.Write(body)
		})
	}
	fmt.Fprintln(os.Stderr, "barehttp listening on", *addr)
	log.Fatal(http.ListenAndServe(*addr, mux))
}
