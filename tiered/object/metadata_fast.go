package object

import (
	"bytes"
	"strconv"
	"time"
)

// decodeCanonical decodes b when it is exactly what AppendJSON writes for metadata without
// an expiration policy, custom metadata or escaped strings (the common small object), with
// the result UnmarshalJSON would give; ok is false for anything else, which UnmarshalJSON
// then decodes in full. It exists because a read from an embedded store decodes the
// metadata of every GET: encoding/json's reflection was most of a small local GET's
// decoding. To be sure it agrees with the full decoder, the result is encoded again and
// must give back b byte for byte.
func decodeCanonical(b []byte) (m Metadata, ok bool) {
	p := canonParser{b: b}
	m.Size = -1
	p.lit(`{`)
	if p.peek(`"time_created":`) {
		m.TimeCreated = p.time(`"time_created":`)
		p.lit(`,`)
	}
	if p.peek(`"time_expires":`) {
		m.TimeExpires = p.time(`"time_expires":`)
		p.lit(`,`)
	}
	p.lit(`"content_type":`)
	m.ContentType = p.str()
	if p.peek(`,"compression":"Zstd"`) {
		p.lit(`,"compression":"Zstd"`)
		m.Compression = CompressionZstd
	}
	if p.peek(`,"origin":`) {
		p.lit(`,"origin":`)
		m.Origin, m.OriginSet = p.str(), true
	}
	if p.peek(`,"filename":`) {
		p.lit(`,"filename":`)
		m.Filename, m.FilenameSet = p.str(), true
	}
	if p.peek(`,"size":`) {
		p.lit(`,"size":`)
		m.Size = p.int()
	}
	p.lit(`}`)
	if p.bad || p.i != len(b) {
		return Metadata{}, false
	}
	var scratch [512]byte
	if !bytes.Equal(m.AppendJSON(scratch[:0]), b) {
		return Metadata{}, false
	}
	return m, true
}

// canonParser reads the canonical form; any surprise sets bad.
type canonParser struct {
	b   []byte
	i   int
	bad bool
}

func (p *canonParser) peek(s string) bool {
	return !p.bad && len(p.b)-p.i >= len(s) && string(p.b[p.i:p.i+len(s)]) == s
}

func (p *canonParser) lit(s string) {
	if !p.peek(s) {
		p.bad = true
		return
	}
	p.i += len(s)
}

// str reads a string without escapes (one with any falls back to the full decoder).
func (p *canonParser) str() string {
	p.lit(`"`)
	if p.bad {
		return ""
	}
	j := bytes.IndexByte(p.b[p.i:], '"')
	if j < 0 || bytes.IndexByte(p.b[p.i:p.i+j], '\\') >= 0 {
		p.bad = true
		return ""
	}
	s := string(p.b[p.i : p.i+j])
	p.i += j + 1
	return s
}

func (p *canonParser) int() int64 {
	if p.bad {
		return 0
	}
	j := p.i
	if j < len(p.b) && p.b[j] == '-' {
		j++
	}
	for j < len(p.b) && '0' <= p.b[j] && p.b[j] <= '9' {
		j++
	}
	n, err := strconv.ParseInt(string(p.b[p.i:j]), 10, 64)
	if err != nil {
		p.bad = true
		return 0
	}
	p.i = j
	return n
}

func (p *canonParser) time(key string) time.Time {
	p.lit(key)
	p.lit(`{"secs_since_epoch":`)
	secs := p.int()
	p.lit(`,"nanos_since_epoch":`)
	nanos := p.int()
	p.lit(`}`)
	return time.Unix(secs, nanos).UTC()
}
