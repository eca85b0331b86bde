package main

import (
	"runtime"
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

func TestRenderFor_PrintsMachineAndHowToRead(t *testing.T) {
	rs, hdr := parse(strings.NewReader(sample + "BenchmarkHTTP/c16/floor-2 \t 100 \t 1000 ns/op \t 12 p50-us\nBenchmarkHTTP/c16/strata-2 \t 100 \t 2000 ns/op \t 30 p50-us\n"))
	md := renderFor(rs, hdr, machine{CPU: "AMD EPYC 7B13", Cores: 2, MemTotal: 24 << 30, GoVersion: "go1.26.8", Kernel: "6.1.0"})
	for _, want := range []string{
		"- CPU: AMD EPYC 7B13\n",
		"- cores (logical CPUs): 2\n",
		"- memory: 24.0 GiB\n",
		"- Go: go1.26.8\n",
		"- kernel: " + runtime.GOOS + " 6.1.0\n",
		"How to read this:",
		"| benchmark | floor | strata | strata / floor | extra | floor extra |",
		"| BenchmarkHTTP/c16 | 1000000.0 ops/s | 500000.0 ops/s | **0.50×** | 30 p50-us | 12 p50-us |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("missing %q in\n%s", want, md)
		}
	}
	// Unknown fields are left out rather than printed empty.
	md = renderFor(rs, hdr, machine{Cores: 1})
	for _, absent := range []string{"- CPU:", "- memory:", "- Go:", "- kernel:"} {
		if strings.Contains(md, absent) {
			t.Errorf("%q printed for an unknown value", absent)
		}
	}
}

func TestParseProcFiles(t *testing.T) {
	cpuinfo := "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\nprocessor\t: 1\nmodel name\t: AMD EPYC 7B13\n"
	if got := parseCPUModel(strings.NewReader(cpuinfo)); got != "AMD EPYC 7B13" {
		t.Errorf("parseCPUModel = %q", got)
	}
	if got := parseCPUModel(strings.NewReader("processor\t: 0\n")); got != "" {
		t.Errorf("parseCPUModel without a model = %q", got)
	}
	meminfo := "MemTotal:       24567890 kB\nMemFree:        20000000 kB\n"
	if got := parseMemTotal(strings.NewReader(meminfo)); got != 24567890<<10 {
		t.Errorf("parseMemTotal = %d", got)
	}
	for _, bad := range []string{"", "MemTotal: lots kB\n", "MemTotal: 12 MB\n"} {
		if got := parseMemTotal(strings.NewReader(bad)); got != 0 {
			t.Errorf("parseMemTotal(%q) = %d, want 0", bad, got)
		}
	}
}

func TestReadMachine_KnowsCoresAndGo(t *testing.T) {
	m := readMachine()
	if m.Cores < 1 || !strings.HasPrefix(m.GoVersion, "go") {
		t.Errorf("readMachine() = %+v", m)
	}
	if runtime.GOOS == "linux" && (m.CPU == "" && m.MemTotal == 0 || m.Kernel == "") {
		t.Errorf("readMachine() on linux = %+v, want CPU or memory and the kernel", m)
	}
}

func TestParse_QualifiesNamesByPackage(t *testing.T) {
	in := `pkg: github.com/stratastore/strata/tiered/localbackend
BenchmarkSmallPut/raw-2 	 10 	 100 ns/op
BenchmarkSmallPut/strata-2 	 10 	 200 ns/op
pkg: github.com/stratastore/strata/tiered/bigtablebackend
BenchmarkSmallPut/raw-2 	 10 	 100 ns/op
BenchmarkSmallPut/strata-2 	 10 	 400 ns/op
`
	rs, hdr := parse(strings.NewReader(in))
	md := renderFor(rs, hdr, machine{Cores: 2})
	for _, want := range []string{
		"| localbackend.BenchmarkSmallPut | 10000000.0 ops/s | 5000000.0 ops/s | **0.50×** |",
		"| bigtablebackend.BenchmarkSmallPut | 10000000.0 ops/s | 2500000.0 ops/s | **0.25×** |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("missing %q in\n%s", want, md)
		}
	}
}

// TestRender_CrossTableComparesLocalStrataWithInMemoryFloor: the extra table divides the
// rate of each local (durable) Strata benchmark by the in-memory floor of the same
// operation, size and concurrency, and leaves out what has no such floor.
func TestRender_CrossTableComparesLocalStrataWithInMemoryFloor(t *testing.T) {
	in := `pkg: github.com/stratastore/strata/functions/internal/httpapi
BenchmarkHTTPSmall/mem/get/4KiB/c16/floor-2   	 100	  100000 ns/op
BenchmarkHTTPSmall/mem/get/4KiB/c16/strata-2  	 100	  125000 ns/op
BenchmarkHTTPSmall/local/get/4KiB/c16/floor-2 	 100	  110000 ns/op
BenchmarkHTTPSmall/local/get/4KiB/c16/strata-2	 100	  160000 ns/op
BenchmarkHTTPSmall/local/get/4KiB/c64/strata-2	 100	  160000 ns/op
BenchmarkHTTPSmall/local/put/4KiB/c16/strata-2	 100	  400000 ns/op
BenchmarkHTTPSmall/mem/put/4KiB/c16/floor-2   	 100	  100000 ns/op
`
	rs, hdr := parse(strings.NewReader(in))
	md := render(rs, hdr)
	for _, want := range []string{
		"### Durable Strata against the in-memory floor",
		"| httpapi.BenchmarkHTTPSmall/local/get/4KiB/c16 | 10000.0 ops/s | 6250.0 ops/s | **0.62×** |",
		"| httpapi.BenchmarkHTTPSmall/local/put/4KiB/c16 | 10000.0 ops/s | 2500.0 ops/s | **0.25×** |",
		// The ordinary pairing is still there, against the local floor.
		"| httpapi.BenchmarkHTTPSmall/local/get/4KiB/c16 | 9090.9 ops/s | 6250.0 ops/s | **0.69×** |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("missing %q in\n%s", want, md)
		}
	}
	if strings.Contains(md, "local/get/4KiB/c64 | ") {
		t.Errorf("c64 has no in-memory floor but got a cross row:\n%s", md)
	}
	if !strings.Contains(md, "| httpapi.BenchmarkHTTPSmall/mem/get/4KiB/c16 | 10000.0 ops/s | 8000.0 ops/s | **0.80×** |") {
		t.Errorf("the mem pair is missing:\n%s", md)
	}
	rs, hdr = parse(strings.NewReader(sample))
	if md := render(rs, hdr); strings.Contains(md, "in-memory floor") {
		t.Errorf("a cross table without local benchmarks:\n%s", md)
	}
}
