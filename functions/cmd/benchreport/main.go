// Command benchreport turns `go test -bench` output into a markdown table that compares each
// Strata benchmark with the floor measured in the same run.
//
// Benchmarks pair up by name: a sub-benchmark whose last element is "raw" (or "floor") is
// the floor for its sibling named "strata". For every pair the table gives both rates and
// the ratio strata/raw (1.0 = as fast as the floor), and the extra metrics of both sides
// (b.ReportMetric: p50-us, peak-rss-MiB, …). Unpaired results are listed as they are. The
// report starts with the machine it ran on (CPU model, cores, memory, Go version, kernel,
// read from /proc on Linux) and a short note on how to read it.
//
//	go test -run '^$' -bench . ./... | benchreport -o results.md
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

type result struct {
	name    string
	nsPerOp float64
	mbPerS  float64
	extra   map[string]float64
}

func main() {
	out := flag.String("o", "", "write the markdown here as well as to stdout")
	flag.Parse()
	results, echo := parse(os.Stdin)
	md := render(results, echo)
	fmt.Print(md)
	if *out != "" {
		if err := os.WriteFile(*out, []byte(md), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "benchreport:", err)
			os.Exit(1)
		}
	}
}

// parse reads benchmark lines; it also returns the goos/goarch/cpu header lines.
func parse(r io.Reader) ([]result, []string) {
	var rs []result
	var hdr []string
	pkg := ""
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg:"); ok {
			// Packages may define benchmarks of the same name (every backend has a
			// BenchmarkSmallPut): qualify names by the package's last path element.
			p = strings.TrimSpace(p)
			pkg = p[strings.LastIndexByte(p, '/')+1:]
			continue
		}
		if strings.HasPrefix(line, "cpu:") || strings.HasPrefix(line, "goos:") || strings.HasPrefix(line, "goarch:") {
			if !contains(hdr, line) {
				hdr = append(hdr, line)
			}
			continue
		}
		if !strings.HasPrefix(line, "Benchmark") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		name := trimProcs(f[0])
		if pkg != "" {
			name = pkg + "." + name
		}
		res := result{name: name, extra: map[string]float64{}}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			switch f[i+1] {
			case "ns/op":
				res.nsPerOp = v
			case "MB/s":
				res.mbPerS = v
			default:
				res.extra[f[i+1]] = v
			}
		}
		rs = append(rs, res)
	}
	return rs, hdr
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

// trimProcs drops the -N GOMAXPROCS suffix.
func trimProcs(name string) string {
	if i := strings.LastIndexByte(name, '-'); i > 0 {
		if _, err := strconv.Atoi(name[i+1:]); err == nil {
			return name[:i]
		}
	}
	return name
}

func rate(r result) (float64, string) {
	if r.mbPerS > 0 {
		return r.mbPerS, "MB/s"
	}
	if r.nsPerOp > 0 {
		return 1e9 / r.nsPerOp, "ops/s"
	}
	return 0, ""
}

// machine describes where the benchmarks ran. Empty fields are left out of the report.
type machine struct {
	CPU       string // model name
	Cores     int    // logical CPUs
	MemTotal  int64  // bytes
	GoVersion string
	Kernel    string // release
}

// readMachine describes this machine from /proc (Linux); elsewhere only cores and the Go
// version are known. benchreport is built by scripts/bench.sh with the toolchain that runs
// the benchmarks, so its own Go version is theirs.
func readMachine() machine {
	m := machine{Cores: runtime.NumCPU(), GoVersion: runtime.Version()}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		m.CPU = parseCPUModel(f)
		f.Close()
	}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		m.MemTotal = parseMemTotal(f)
		f.Close()
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

// procField returns the value of the first "name : value" line of a /proc file.
func procField(r io.Reader, name string) string {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == name {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// parseCPUModel returns the first "model name" of /proc/cpuinfo.
func parseCPUModel(r io.Reader) string { return procField(r, "model name") }

// parseMemTotal returns MemTotal of /proc/meminfo in bytes, or 0.
func parseMemTotal(r io.Reader) int64 {
	v, ok := strings.CutSuffix(procField(r, "MemTotal"), " kB")
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return 0
	}
	return n << 10
}

// howToRead is printed under the machine details.
const howToRead = `How to read this: each row pairs a Strata benchmark with its floor, the same work done
the simplest way, measured in the same run on the same machine (a bare net/http handler
over a map or over bbolt with group commit, a raw file copy, a trivial Go server).
Rates are MB/s when the benchmark counts bytes, otherwise operations per second.
"strata / floor" is the ratio of the rates: 1.00× is as fast as the floor, higher is better.
The extra columns are the metrics each side reports: p50-us/p99-us are per-request
latencies in microseconds, peak-rss-MiB the strata process's peak resident memory
(VmHWM) after the transfer, start-rss-MiB the same when it became ready. Absolute numbers
depend on the machine; compare ratios, and rerun before trusting a small difference.
`

func render(rs []result, hdr []string) string { return renderFor(rs, hdr, readMachine()) }

func renderFor(rs []result, hdr []string, m machine) string {
	var b strings.Builder
	host, _ := os.Hostname()
	fmt.Fprintf(&b, "# Strata benchmark results\n\n%s, %s/%s, %d CPUs, host %s\n\n", time.Now().UTC().Format(time.RFC3339), runtime.GOOS, runtime.GOARCH, m.Cores, host)
	b.WriteString("## Machine\n\n")
	if m.CPU != "" {
		fmt.Fprintf(&b, "- CPU: %s\n", m.CPU)
	}
	fmt.Fprintf(&b, "- cores (logical CPUs): %d\n", m.Cores)
	if m.MemTotal > 0 {
		fmt.Fprintf(&b, "- memory: %.1f GiB\n", float64(m.MemTotal)/(1<<30))
	}
	if m.GoVersion != "" {
		fmt.Fprintf(&b, "- Go: %s\n", m.GoVersion)
	}
	if m.Kernel != "" {
		fmt.Fprintf(&b, "- kernel: %s %s\n", runtime.GOOS, m.Kernel)
	}
	for _, h := range hdr {
		fmt.Fprintf(&b, "- %s\n", h)
	}
	b.WriteString("\n" + howToRead)
	byName := map[string]result{}
	for _, r := range rs {
		byName[r.name] = r
	}
	var pairs []string
	used := map[string]bool{}
	for _, r := range rs {
		base, leaf := split(r.name)
		if leaf != "strata" {
			continue
		}
		for _, floor := range []string{"raw", "floor"} {
			if _, ok := byName[base+"/"+floor]; ok {
				pairs = append(pairs, base+"\x00"+floor)
				used[r.name], used[base+"/"+floor] = true, true
				break
			}
		}
	}
	sort.Strings(pairs)
	b.WriteString("\n| benchmark | floor | strata | strata / floor | extra | floor extra |\n|---|---|---|---|---|---|\n")
	for _, p := range pairs {
		base, floor, _ := strings.Cut(p, "\x00")
		f, s := byName[base+"/"+floor], byName[base+"/strata"]
		fr, unit := rate(f)
		sr, _ := rate(s)
		ratio := 0.0
		if fr > 0 {
			ratio = sr / fr
		}
		fmt.Fprintf(&b, "| %s | %.1f %s | %.1f %s | **%.2f×** | %s | %s |\n", base, fr, unit, sr, unit, ratio, extras(s), extras(f))
	}
	if cross := crossRows(rs, byName); len(cross) > 0 {
		b.WriteString("\n" + crossHowToRead)
		b.WriteString("\n| benchmark (local, durable) | in-memory floor | local strata | local strata / in-memory floor |\n|---|---|---|---|\n")
		for _, row := range cross {
			b.WriteString(row)
		}
	}
	var rest []string
	for _, r := range rs {
		if !used[r.name] {
			rest = append(rest, r.name)
		}
	}
	if len(rest) > 0 {
		b.WriteString("\n| benchmark | rate | extra |\n|---|---|---|\n")
		for _, n := range rest {
			r := byName[n]
			v, unit := rate(r)
			fmt.Fprintf(&b, "| %s | %.1f %s | %s |\n", n, v, unit, extras(r))
		}
	}
	return b.String()
}

// crossHowToRead introduces the cross table.
const crossHowToRead = `### Durable Strata against the in-memory floor

Each row compares a local (durable, bbolt) Strata benchmark with the in-memory floor of the
same operation, size and concurrency (the bare handler over a map), from the same run: how
close durable Strata comes to serving from memory. 1.00× is as fast as the in-memory floor.
`

// crossRows returns the rows of the cross table: every .../local/.../strata result whose
// .../mem/.../floor counterpart was measured, in name order.
func crossRows(rs []result, byName map[string]result) []string {
	var rows []string
	for _, r := range rs {
		base, leaf := split(r.name)
		if leaf != "strata" || !strings.Contains(base+"/", "/local/") {
			continue
		}
		memBase := strings.Replace(base+"/", "/local/", "/mem/", 1)
		f, ok := byName[memBase+"floor"]
		if !ok {
			continue
		}
		fr, unit := rate(f)
		sr, _ := rate(r)
		ratio := 0.0
		if fr > 0 {
			ratio = sr / fr
		}
		rows = append(rows, fmt.Sprintf("| %s | %.1f %s | %.1f %s | **%.2f×** |\n", base, fr, unit, sr, unit, ratio))
	}
	sort.Strings(rows)
	return slices.Compact(rows)
}

func extras(r result) string {
	keys := make([]string, 0, len(r.extra))
	for k := range r.extra {
		if k != "B/op" && k != "allocs/op" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%.3g %s", r.extra[k], k))
	}
	return strings.Join(parts, ", ")
}

func split(name string) (string, string) {
	i := strings.LastIndexByte(name, '/')
	if i < 0 {
		return name, ""
	}
	return name[:i], name[i+1:]
}
