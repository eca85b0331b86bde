// Command floorserver is the cold-start floor of e2e/bench: the least a Go HTTP object
// server does before it answers. It listens on $FLOOR_ADDR and serves PUT (store the body
// in a map) and GET (answer it) on any path, without auth.
package main

import (
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
)

func main() {
	var mu sync.RWMutex
	objects := map[string][]byte{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodPut:
			b, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			mu.Lock()
			objects[r.URL.Path] = b
			mu.Unlock()
			_, _ = io.WriteString(w, `{"key":"k"}`)
		case http.MethodGet:
			mu.RLock()
			b, ok := objects[r.URL.Path]
			mu.RUnlock()
			if !ok {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Length", strconv.Itoa(len(b)))
			_, _ = w.Write(b)
		default:
			w.WriteHeader(http.StatusMethodNotAllowed)
		}
	})
	if err := http.ListenAndServe(os.Getenv("FLOOR_ADDR"), h); err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(1)
	}
}
