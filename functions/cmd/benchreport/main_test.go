package main

import (
	"strings"
	"testing"
)

const sample = `goos: linux
goarch: amd64
cpu: Test CPU
BenchmarkSmallPut/raw-2         	   10000	    100000 ns/op	  40.96 MB/s
BenchmarkSmallPut/strata-2      	   10000	    200000 ns/op	  20.48 MB/s	  150 p99-us
BenchmarkSmallGet/raw-2         	   10000	     50000 ns/op
BenchmarkSmallGet/strata-2      	   10000	    100000 ns/op
BenchmarkColdStart-2            	       1	 300000000 ns/op
`

func TestParseAndRender_PairsFloorsAndComputesRatios(t *testing.T) {
	rs, hdr := parse(strings.NewReader(sample))
	if len(rs) != 5 || len(hdr) != 3 {
		t.Fatalf("parsed %d results, %d header lines", len(rs), len(hdr))
	}
	md := render(rs, hdr)
	for _, want := range []string{
		"| BenchmarkSmallPut | 41.0 MB/s | 20.5 MB/s | **0.50×** | 150 p99-us |",
		"| BenchmarkSmallGet | 20000.0 ops/s | 10000.0 ops/s | **0.50×** |",
		"| BenchmarkColdStart | 3.3 ops/s |",
		"- cpu: Test CPU",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("missing %q in\n%s", want, md)
		}
	}
}

func TestTrimProcs(t *testing.T) {
	for in, want := range map[string]string{"BenchmarkX-2": "BenchmarkX", "BenchmarkX/a-b": "BenchmarkX/a-b", "BenchmarkX/raw-16": "BenchmarkX/raw"} {
		if got := trimProcs(in); got != want {
			t.Errorf("trimProcs(%q) = %q", in, got)
		}
	}
}
