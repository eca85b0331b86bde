package topology

import (
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// This file is objectstore's reading of stored data, written for the cutover rehearsal from
// the storage-internals reference (objectstore's bigtable.rs RowData::from_cells, gcs.rs
// metadata parsing, metadata.rs to-headers, humantime), and deliberately not from Strata's
// code: it imports nothing of Strata. TestObjectstoreReader_MatchesFixtures holds it to
// every reading objectstore itself recorded in the golden fixtures before the rehearsal
// trusts it with what Strata wrote.

// osCell is one Bigtable cell.
type osCell struct {
	family, qualifier string
	micros            int64
	value             []byte
}

// osResource is the part of a GCS object resource objectstore reads.
type osResource struct {
	contentType, contentEncoding string
	customTime, timeCreated      string // RFC 3339, "" when absent
	metadata                     map[string]string
}

// osReading is what objectstore makes of a stored row or object.
type osReading struct {
	kind    string      // object, tombstone, notfound, error
	headers [][2]string // object: in objectstore's order; nil when they cannot be rendered
	target  string      // tombstone: the long-term storage path
	err     string
}

// osMeta is objectstore's Metadata after reading.
type osMeta struct {
	policyKind               string // "", "ttl", "tti"
	policySecs               uint64
	policyNanos              uint32
	timeCreated, timeExpires *time.Time
	contentType              string
	compression              string
	origin, filename         *string
	custom                   map[string]string
}

// osTimeHeader is objectstore's RFC 3339 rendering: UTC, microseconds.
func osTimeHeader(t time.Time) string {
	return t.UTC().Truncate(time.Microsecond).Format("2006-01-02T15:04:05.000000Z")
}

// osFormatDuration is humantime::format_duration.
func osFormatDuration(secs uint64, nanos uint32) string {
	if secs == 0 && nanos == 0 {
		return "0s"
	}
	years, ydays := secs/31_557_600, secs%31_557_600
	months, mdays := ydays/2_630_016, ydays%2_630_016
	days, daySecs := mdays/86400, mdays%86400
	var parts []string
	plural := func(n uint64, name string) {
		if n > 0 {
			s := strconv.FormatUint(n, 10) + name
			if n > 1 {
				s += "s"
			}
			parts = append(parts, s)
		}
	}
	item := func(n uint64, unit string) {
		if n > 0 {
			parts = append(parts, strconv.FormatUint(n, 10)+unit)
		}
	}
	plural(years, "year")
	plural(months, "month")
	plural(days, "day")
	item(daySecs/3600, "h")
	item(daySecs%3600/60, "m")
	item(daySecs%60, "s")
	item(uint64(nanos/1_000_000), "ms")
	item(uint64(nanos/1000%1000), "us")
	item(uint64(nanos%1000), "ns")
	return strings.Join(parts, " ")
}

// osParseDuration is humantime::parse_duration: numbers (with an optional fraction) each
// followed by a unit, optionally separated by spaces; a lone "0" is zero; the total must fit
// 2^64-1 seconds and whole nanoseconds.
func osParseDuration(s string) (secs uint64, nanos uint32, err error) {
	units := map[string]int64{ // unit → nanoseconds (fits int64 up to a year)
		"nanos": 1, "nsec": 1, "ns": 1, "usec": 1e3, "us": 1e3, "µs": 1e3, "millis": 1e6, "msec": 1e6, "ms": 1e6,
		"seconds": 1e9, "second": 1e9, "secs": 1e9, "sec": 1e9, "s": 1e9,
		"minutes": 60e9, "minute": 60e9, "mins": 60e9, "min": 60e9, "m": 60e9,
		"hours": 3600e9, "hour": 3600e9, "hrs": 3600e9, "hr": 3600e9, "h": 3600e9,
		"days": 86400e9, "day": 86400e9, "d": 86400e9,
		"weeks": 604800e9, "week": 604800e9, "w": 604800e9,
		"months": 2_630_016e9, "month": 2_630_016e9, "M": 2_630_016e9,
		"years": 31_557_600e9, "year": 31_557_600e9, "y": 31_557_600e9,
	}
	rest := strings.Trim(s, " ")
	if rest == "" {
		return 0, 0, fmt.Errorf("value was empty")
	}
	if rest == "0" {
		return 0, 0, nil
	}
	total := new(big.Int)
	digits := func(r string) int {
		i := 0
		for i < len(r) && r[i] >= '0' && r[i] <= '9' {
			i++
		}
		return i
	}
	for rest != "" {
		pos := len(strings.TrimRight(s, " ")) - len(rest)
		i := digits(rest)
		if i == 0 {
			return 0, 0, fmt.Errorf("expected number at %d", pos)
		}
		whole, _ := new(big.Int).SetString(rest[:i], 10)
		rest = rest[i:]
		frac, scale := new(big.Int), new(big.Int).SetInt64(1)
		if strings.HasPrefix(rest, ".") {
			j := digits(rest[1:])
			if j == 0 {
				return 0, 0, fmt.Errorf("invalid character at %d", pos+i)
			}
			frac.SetString(rest[1:1+j], 10)
			scale.Exp(big.NewInt(10), big.NewInt(int64(j)), nil)
			rest = rest[1+j:]
		}
		rest = strings.TrimLeft(rest, " ")
		j := 0
		for j < len(rest) && rest[j] != ' ' && !(rest[j] >= '0' && rest[j] <= '9') {
			j++
		}
		if j == 0 {
			return 0, 0, fmt.Errorf("time unit needed")
		}
		u, ok := units[rest[:j]]
		if !ok {
			return 0, 0, fmt.Errorf("unknown time unit %q", rest[:j])
		}
		unit := big.NewInt(u)
		total.Add(total, new(big.Int).Mul(whole, unit))
		f := new(big.Int).Mul(frac, unit)
		if new(big.Int).Mod(f, scale).Sign() != 0 {
			return 0, 0, fmt.Errorf("number is too large or cannot be represented without a lack of precision")
		}
		total.Add(total, f.Div(f, scale))
		rest = strings.TrimLeft(rest[j:], " ")
	}
	sec, ns := new(big.Int).DivMod(total, big.NewInt(1e9), new(big.Int))
	if !sec.IsUint64() {
		return 0, 0, fmt.Errorf("number is too large or cannot be represented without a lack of precision")
	}
	return sec.Uint64(), uint32(ns.Uint64()), nil
}

// osParsePolicy parses an x-sn-expiration value: "manual", "ttl:<d>" or "tti:<d>".
func osParsePolicy(v string, m *osMeta) error {
	if v == "manual" {
		return nil
	}
	kind, d, ok := strings.Cut(v, ":")
	if !ok || kind != "ttl" && kind != "tti" {
		return fmt.Errorf("invalid expiration policy value")
	}
	secs, nanos, err := osParseDuration(d)
	if err != nil {
		return fmt.Errorf("invalid expiration policy value: %v", err)
	}
	m.policyKind, m.policySecs, m.policyNanos = kind, secs, nanos
	return nil
}

// validHeaderToken is http::HeaderName's byte set (RFC 7230 tchar), which objectstore's
// header map needs.
func validHeaderToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// headers renders objectstore's response headers for m; nil when a custom key cannot be a
// header name (objectstore then answers 400).
func (m osMeta) headers() [][2]string {
	ct := m.contentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	h := [][2]string{{"content-type", ct}}
	if m.compression != "" {
		h = append(h, [2]string{"content-encoding", m.compression})
	}
	if m.policyKind != "" {
		h = append(h, [2]string{"x-sn-expiration", m.policyKind + ":" + osFormatDuration(m.policySecs, m.policyNanos)})
	}
	if m.timeCreated != nil {
		h = append(h, [2]string{"x-sn-time-created", osTimeHeader(*m.timeCreated)})
	}
	if m.timeExpires != nil {
		h = append(h, [2]string{"x-sn-time-expires", osTimeHeader(*m.timeExpires)})
	}
	if m.origin != nil {
		h = append(h, [2]string{"x-sn-origin", *m.origin})
	}
	if m.filename != nil {
		h = append(h, [2]string{"x-sn-filename", *m.filename})
	}
	keys := make([]string, 0, len(m.custom))
	for k := range m.custom {
		keys = append(keys, k)
	}
	sort.Strings(keys) // a BTreeMap: byte order of the stored key
	for _, k := range keys {
		name := "x-snme-" + k
		if !validHeaderToken(name) {
			return nil
		}
		h = append(h, [2]string{strings.ToLower(name), m.custom[k]})
	}
	// An http::HeaderMap keeps a name's values together, at the name's first position.
	var grouped [][2]string
	for i, kv := range h {
		if slices.ContainsFunc(h[:i], func(p [2]string) bool { return p[0] == kv[0] }) {
			continue
		}
		for _, p := range h[i:] {
			if p[0] == kv[0] {
				grouped = append(grouped, p)
			}
		}
	}
	return grouped
}

// expired reports whether a timeout policy's deadline lies before now.
func (m osMeta) expired(now time.Time) bool {
	return m.policyKind != "" && m.timeExpires != nil && m.timeExpires.Before(now)
}

// osPolicyJSON decodes serde's ExpirationPolicy: "Manual" or {"TimeToLive"|"TimeToIdle":{secs,nanos}}.
func osPolicyJSON(raw json.RawMessage, m *osMeta) error {
	if len(raw) == 0 || string(raw) == `"Manual"` {
		return nil
	}
	var p map[string]struct {
		Secs  uint64 `json:"secs"`
		Nanos uint32 `json:"nanos"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return err
	}
	for k, d := range p {
		switch k {
		case "TimeToLive":
			m.policyKind = "ttl"
		case "TimeToIdle":
			m.policyKind = "tti"
		default:
			return fmt.Errorf("unknown policy %q", k)
		}
		m.policySecs, m.policyNanos = d.Secs, d.Nanos
	}
	return nil
}

// osReadRow is RowData::from_cells plus the read path's expiry check, at now.
func osReadRow(rowKey string, cells []osCell, now time.Time) osReading {
	byQ := map[string]osCell{}
	var deadline *time.Time
	for _, c := range cells {
		byQ[c.qualifier] = c
		if c.family == "fg" {
			t := time.UnixMicro(c.micros).UTC()
			deadline = &t
		}
	}
	if r, ok := byQ["r"]; ok {
		var t struct {
			Policy json.RawMessage `json:"expiration_policy"`
		}
		var m osMeta
		if err := json.Unmarshal(byQ["t"].value, &t); err != nil {
			return osReading{kind: "error", err: err.Error()}
		}
		if err := osPolicyJSON(t.Policy, &m); err != nil {
			return osReading{kind: "error", err: err.Error()}
		}
		m.timeExpires = deadline
		if m.expired(now) {
			return osReading{kind: "notfound"}
		}
		target := string(r.value)
		if target == "" {
			target = rowKey
		}
		return osReading{kind: "tombstone", target: target}
	}
	mc, ok := byQ["m"]
	if !ok {
		return osReading{kind: "notfound"}
	}
	var raw struct {
		Redirect    bool            `json:"is_redirect_tombstone"`
		Policy      json.RawMessage `json:"expiration_policy"`
		TimeCreated *struct {
			Secs  int64 `json:"secs_since_epoch"`
			Nanos int64 `json:"nanos_since_epoch"`
		} `json:"time_created"`
		ContentType *string           `json:"content_type"`
		Compression *string           `json:"compression"`
		Origin      *string           `json:"origin"`
		Filename    *string           `json:"filename"`
		Custom      map[string]string `json:"custom"`
	}
	if err := json.Unmarshal(mc.value, &raw); err != nil {
		return osReading{kind: "error", err: err.Error()}
	}
	m := osMeta{origin: raw.Origin, filename: raw.Filename, custom: raw.Custom}
	if err := osPolicyJSON(raw.Policy, &m); err != nil {
		return osReading{kind: "error", err: err.Error()}
	}
	m.timeExpires = deadline // the stored time_expires is ignored
	if m.expired(now) {
		return osReading{kind: "notfound"}
	}
	if raw.Redirect {
		return osReading{kind: "tombstone", target: rowKey}
	}
	if raw.TimeCreated != nil {
		t := time.Unix(raw.TimeCreated.Secs, raw.TimeCreated.Nanos).UTC()
		m.timeCreated = &t
	}
	if raw.ContentType != nil {
		m.contentType = *raw.ContentType
	}
	if raw.Compression != nil {
		m.compression = strings.ToLower(*raw.Compression)
	}
	return osReading{kind: "object", headers: m.headers()}
}

// osReadGCS is gcs.rs's strict metadata parse plus get_object's expiry filter, at now.
func osReadGCS(res osResource, now time.Time) osReading {
	m := osMeta{contentType: res.contentType, compression: res.contentEncoding, custom: map[string]string{}}
	for k, v := range res.metadata {
		switch {
		case k == "x_emulator_upload" || k == "x_testbench_upload":
		case strings.HasPrefix(k, "x-snme-"):
			m.custom[strings.TrimPrefix(k, "x-snme-")] = v
		case k == "x-sn-expiration":
			if err := osParsePolicy(v, &m); err != nil {
				return osReading{kind: "error", err: err.Error()}
			}
		case k == "x-sn-origin":
			m.origin = &v
		case k == "x-sn-filename":
			m.filename = &v
		case strings.HasPrefix(k, "x-sn-"):
			return osReading{kind: "error", err: "unknown builtin metadata key: " + strings.TrimPrefix(k, "x-sn-")}
		default:
			return osReading{kind: "error", err: "invalid GCS metadata key format: " + k}
		}
	}
	for _, f := range []struct {
		s   string
		dst **time.Time
	}{{res.timeCreated, &m.timeCreated}, {res.customTime, &m.timeExpires}} {
		if f.s != "" {
			t, err := time.Parse(time.RFC3339Nano, f.s)
			if err != nil {
				return osReading{kind: "error", err: err.Error()}
			}
			*f.dst = &t
		}
	}
	if m.expired(now) {
		return osReading{kind: "notfound"}
	}
	return osReading{kind: "object", headers: m.headers()}
}

// headerMultiset turns headers into sorted "name: value" lines, for comparisons that do not
// depend on order (Strata sends net/http's order, API.md §15).
func headerMultiset(h [][2]string) []string {
	out := make([]string, 0, len(h))
	for _, kv := range h {
		out = append(out, kv[0]+": "+kv[1])
	}
	slices.Sort(out)
	return out
}
