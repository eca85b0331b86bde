// Package bench holds the end-to-end benchmarks of issue 6 that need the real strata
// binary: 256 MiB and 1 GiB PUT/GET through `strata serve` (local durable backend, auth on)
// against a raw file copy, with the peak RSS of the strata process, and cold start to the
// first successful response against a trivial Go HTTP server. The small-object HTTP
// benchmarks live in functions/internal/httpapi, which may import the internal packages they
// need. Run them with `make bench`; `go test` runs only the fast tests here (the RSS bound
// and the helpers).
package bench
