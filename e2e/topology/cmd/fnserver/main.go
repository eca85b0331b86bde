// Command fnserver serves one Strata function the way a deployed Cloud Run function does: it
// is the main the Go functions buildpack generates (functions/internal/deploy's template),
// blank-importing package functions and serving the function named by FUNCTION_TARGET at
// every path on PORT. The topology e2e suite builds it once and starts one process per
// function. Unlike the buildpack's main it listens on 127.0.0.1 only.
package main

import (
	"log"
	"net/http"
	"os"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"

	_ "github.com/stratastore/strata/functions"
)

func main() {
	http.HandleFunc("/robots.txt", http.NotFound)
	http.HandleFunc("/favicon.ico", http.NotFound)

	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	if err := funcframework.StartHostPort("127.0.0.1", port); err != nil {
		log.Fatalf("Function failed to start: %v\n", err)
	}
}
