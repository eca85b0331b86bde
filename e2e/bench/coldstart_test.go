package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/stratastore/strata/e2e/internal/harness"
)

// coldStarts is how many process starts one iteration of BenchmarkColdStart measures.
const coldStarts = 5

// BenchmarkColdStart measures process start to the first successful response: exec of the
// binary, then a PUT retried every millisecond until it succeeds, then a GET of the same
// object. strata is the real binary as `make run` starts it (auth on, local durable backend
// on a fresh data directory each time); the floor is testdata/floorserver, a trivial Go
// HTTP server storing into a map. Each iteration starts the process coldStarts times; ns/op
// is the mean of one start, p50-ms and max-ms are over every start. Build time is excluded
// (both binaries are built before the timer).
func BenchmarkColdStart(b *testing.B) {
	b.Run("floor", func(b *testing.B) {
		bin := binary(b, "./e2e/bench/testdata/floorserver")
		coldStart(b, func(b *testing.B) (*proc, string) {
			addr := harness.FreeAddr(b)
			p := start(b, bin, append(os.Environ(), "FLOOR_ADDR="+addr))
			p.URL = "http://" + addr
			return p, ""
		})
	})
	b.Run("strata", func(b *testing.B) {
		bin := binary(b, "./functions/cmd/strata")
		key := harness.NewKeyPair(b)
		tok := token(b, key)
		coldStart(b, func(b *testing.B) (*proc, string) {
			addr := harness.FreeAddr(b)
			env := harness.ServerEnv(addr, filepath.Join(b.TempDir(), "data"), "STRATA_AUTH_ENFORCE=true", "STRATA_AUTH_KEYS="+key.KeysEnv)
			p := start(b, bin, env)
			p.URL = "http://" + addr
			return p, tok
		})
	})
}

// coldStart times launch (which starts the process and sets its URL) to the first
// successful PUT and GET.
func coldStart(b *testing.B, launch func(*testing.B) (*proc, string)) {
	var all []time.Duration
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, DisableCompression: true}}
	body := []byte("cold start")
	for b.Loop() {
		for range coldStarts {
			begin := time.Now()
			p, tok := launch(b)
			if err := firstResponse(c, p, tok, body); err != nil {
				b.Fatalf("%v: %v\n%s", p, err, p.Logs)
			}
			all = append(all, time.Since(begin))
			b.StopTimer()
			p.stop(b, syscall.SIGKILL)
			b.StartTimer()
		}
	}
	var sum time.Duration
	for _, d := range all {
		sum += d
	}
	slices.Sort(all)
	b.ReportMetric(float64(sum.Nanoseconds())/float64(len(all)), "ns/op")
	b.ReportMetric(float64(all[(len(all)-1)/2].Microseconds())/1e3, "p50-ms")
	b.ReportMetric(float64(all[len(all)-1].Microseconds())/1e3, "max-ms")
}

// firstResponse retries a PUT every millisecond until the server answers it with 200, then
// GETs the object back and checks it.
func firstResponse(c *http.Client, p *proc, tok string, body []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	url := p.URL + objectPath + "cold"
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPut, url, bytes.NewReader(body))
		if tok != "" {
			req.Header.Set("X-Os-Auth", "Bearer "+tok)
		}
		res, err := c.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
			return fmt.Errorf("PUT: %s", res.Status)
		}
		select {
		case <-p.done:
			return errors.New("the process exited")
		case <-ctx.Done():
			return fmt.Errorf("no response: %w", err)
		case <-time.After(time.Millisecond):
		}
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if tok != "" {
		req.Header.Set("X-Os-Auth", "Bearer "+tok)
	}
	res, err := c.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	got, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK || !bytes.Equal(got, body) {
		return fmt.Errorf("GET: %s, %q", res.Status, got)
	}
	return nil
}
