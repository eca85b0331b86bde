package object

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// DefaultContentType is the content type of objects stored without one.
const DefaultContentType = "application/octet-stream"

// CompressionZstd is the only compression objectstore knows. Compression is done by clients;
// Strata stores and returns the bytes untouched and only records the encoding.
const CompressionZstd = "zstd"

// Limits on metadata, enforced by Metadata.Validate.
const (
	// MaxMetadataBytes bounds the user-supplied fields: content type, origin, filename and
	// custom entries, each custom entry counted with its 7-byte "x-snme-" prefix. GCS allows
	// 8 KiB of custom metadata per object; this leaves room for Strata's own keys.
	MaxMetadataBytes  = 7 << 10
	MaxCustomEntries  = 64
	MaxCustomKeyBytes = 128
)

// Metadata describes an object. Zero values mean "absent".
type Metadata struct {
	// ExpirationPolicy says when the object expires. The zero value is Manual.
	ExpirationPolicy ExpirationPolicy
	// TimeCreated is stamped by the server on every write.
	TimeCreated time.Time
	// TimeExpires is the absolute deadline of a TTL or TTI object. It must be set for those
	// policies and is persisted exactly as given.
	TimeExpires time.Time
	// ContentType is an RFC 6838 media type; empty means DefaultContentType.
	ContentType string
	// Compression is "" or CompressionZstd.
	Compression string
	// Origin is free text, usually the uploader's address.
	Origin string
	// OriginSet marks an empty Origin as present. objectstore tells an absent origin (no
	// x-sn-origin header) from a present, empty one ("x-sn-origin:" with no value): it
	// stores "origin":"" and echoes the empty header. A non-empty Origin is always present;
	// use HasOrigin rather than reading the flag.
	OriginSet bool
	// Filename is the name offered to downloaders in Content-Disposition.
	Filename string
	// FilenameSet marks an empty Filename as present, as OriginSet does for Origin.
	FilenameSet bool
	// Size is the stored (possibly compressed) size in bytes, set by backends; -1 when unknown.
	Size int64
	// Custom is user metadata (x-snme-*).
	Custom map[string]string
}

// Clone returns a copy that shares nothing mutable with m.
func (m Metadata) Clone() Metadata {
	m.Custom = maps.Clone(m.Custom)
	return m
}

// HasOrigin reports whether the origin is present: non-empty, or empty and marked OriginSet.
func (m Metadata) HasOrigin() bool { return m.Origin != "" || m.OriginSet }

// HasFilename reports whether the filename is present: non-empty, or empty and marked
// FilenameSet.
func (m Metadata) HasFilename() bool { return m.Filename != "" || m.FilenameSet }

// EffectiveContentType returns the content type, or DefaultContentType when unset.
func (m Metadata) EffectiveContentType() string {
	if m.ContentType == "" {
		return DefaultContentType
	}
	return m.ContentType
}

// Expired reports whether an object with this metadata is invisible at now.
func (m Metadata) Expired(now time.Time) bool {
	return m.ExpirationPolicy.IsTimeout() && !m.TimeExpires.IsZero() && m.TimeExpires.Before(now)
}

// Validate checks the invariants every write must satisfy: TTL and TTI need TimeExpires,
// compression is known, and the user-controlled fields stay within the size limits.
func (m Metadata) Validate() error {
	if m.ExpirationPolicy.IsTimeout() && m.TimeExpires.IsZero() {
		return Invalidf("expiration policy %s requires time_expires", m.ExpirationPolicy)
	}
	if m.ExpirationPolicy.IsTimeout() && m.ExpirationPolicy.Duration < 0 {
		return Invalidf("negative expiration duration")
	}
	if m.Compression != "" && m.Compression != CompressionZstd {
		return Invalidf("invalid compression value %q", m.Compression)
	}
	if len(m.Custom) > MaxCustomEntries {
		return Invalidf("too many custom metadata entries: %d > %d", len(m.Custom), MaxCustomEntries)
	}
	n := len(m.ContentType) + len(m.Origin) + len(m.Filename)
	for k, v := range m.Custom {
		if k == "" {
			return Invalidf("custom metadata key must be non-empty")
		}
		if len(k) > MaxCustomKeyBytes {
			return Invalidf("custom metadata key %.32q… is longer than %d bytes", k, MaxCustomKeyBytes)
		}
		n += len("x-snme-") + len(k) + len(v)
	}
	if n > MaxMetadataBytes {
		return Invalidf("metadata is %d bytes, more than the limit of %d", n, MaxMetadataBytes)
	}
	return nil
}

// The JSON form is objectstore's serde encoding (Bigtable's "m" column, which both systems
// read and write, and the local backend's records). AppendJSON writes the bytes serde_json
// writes for the same Metadata, so a row Strata writes is byte-identical to objectstore's:
//
//	{"expiration_policy":{"TimeToIdle":{"secs":3600,"nanos":0}},
//	 "time_created":{"secs_since_epoch":1700000000,"nanos_since_epoch":123456789},
//	 "time_expires":{"secs_since_epoch":1700003600,"nanos_since_epoch":0},
//	 "content_type":"text/plain","compression":"Zstd","origin":"10.0.0.1",
//	 "filename":"a.txt","size":12,"custom":{"k":"v"}}
//
// Fields come in declaration order; default and absent fields are left out (a present but
// empty origin or filename is kept as ""); custom keys are sorted by their bytes (a BTreeMap).
// Strings are escaped the way serde_json escapes them: only '"', '\\' and control characters
// below U+0020; '<', '>', '&', U+2028, U+2029 and all non-ASCII text are raw UTF-8. Unknown
// fields are ignored on decode.

type jsonDuration struct {
	Secs  uint64 `json:"secs"`
	Nanos uint64 `json:"nanos"`
}

type jsonTime struct {
	Secs  int64 `json:"secs_since_epoch"`
	Nanos int64 `json:"nanos_since_epoch"`
}

type jsonPolicy struct {
	TimeToLive *jsonDuration `json:"TimeToLive,omitempty"`
	TimeToIdle *jsonDuration `json:"TimeToIdle,omitempty"`
}

type jsonMetadata struct {
	ExpirationPolicy json.RawMessage   `json:"expiration_policy,omitempty"`
	TimeCreated      *jsonTime         `json:"time_created,omitempty"`
	TimeExpires      *jsonTime         `json:"time_expires,omitempty"`
	ContentType      string            `json:"content_type"`
	Compression      string            `json:"compression,omitempty"`
	Origin           *string           `json:"origin,omitempty"`
	Filename         *string           `json:"filename,omitempty"`
	Size             *int64            `json:"size,omitempty"`
	Custom           map[string]string `json:"custom,omitempty"`
}

func fromJSONTime(t *jsonTime) time.Time {
	if t == nil {
		return time.Time{}
	}
	return time.Unix(t.Secs, t.Nanos).UTC()
}

// appendJSONTime appends serde's SystemTime form.
func appendJSONTime(b []byte, t time.Time) []byte {
	b = append(b, `{"secs_since_epoch":`...)
	b = strconv.AppendInt(b, t.Unix(), 10)
	b = append(b, `,"nanos_since_epoch":`...)
	b = strconv.AppendInt(b, int64(t.Nanosecond()), 10)
	return append(b, '}')
}

// appendJSONString appends s as serde_json writes a string: '"' and '\\' escaped, the
// control characters below U+0020 as \b \t \n \f \r or \u00xx (lowercase hex), everything
// else as raw UTF-8. Invalid UTF-8, which a Rust String cannot hold, becomes U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c >= 0x20:
				b = append(b, c)
			case c == '\b':
				b = append(b, '\\', 'b')
			case c == '\t':
				b = append(b, '\\', 't')
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\f':
				b = append(b, '\\', 'f')
			case c == '\r':
				b = append(b, '\\', 'r')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = utf8.AppendRune(b, utf8.RuneError)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// appendPolicyDuration appends serde's Duration form {"secs":S,"nanos":N}.
func appendPolicyDuration(b []byte, d time.Duration) []byte {
	b = append(b, `{"secs":`...)
	b = strconv.AppendInt(b, int64(d/time.Second), 10)
	b = append(b, `,"nanos":`...)
	b = strconv.AppendInt(b, int64(d%time.Second), 10)
	return append(b, '}')
}

// AppendPolicyJSON appends p in objectstore's serde form: "Manual", or
// {"TimeToLive":{"secs":..,"nanos":..}} / {"TimeToIdle":{...}}.
func AppendPolicyJSON(b []byte, p ExpirationPolicy) []byte {
	switch p.Kind {
	case TimeToLive:
		b = append(b, `{"TimeToLive":`...)
	case TimeToIdle:
		b = append(b, `{"TimeToIdle":`...)
	default:
		return append(b, `"Manual"`...)
	}
	b = appendPolicyDuration(b, max(p.Duration, 0))
	return append(b, '}')
}

// MarshalPolicyJSON returns AppendPolicyJSON(nil, p).
func MarshalPolicyJSON(p ExpirationPolicy) []byte { return AppendPolicyJSON(nil, p) }

// UnmarshalPolicyJSON decodes MarshalPolicyJSON's form. Empty input is Manual. A duration
// longer than time.Duration holds is an error (see ErrDurationTooLong).
func UnmarshalPolicyJSON(b []byte) (ExpirationPolicy, error) {
	if len(b) == 0 || string(b) == `"Manual"` || string(b) == "null" {
		return ExpirationPolicy{}, nil
	}
	var p jsonPolicy
	if err := json.Unmarshal(b, &p); err != nil {
		return ExpirationPolicy{}, fmt.Errorf("expiration policy: %w", err)
	}
	var kind ExpirationKind
	var d *jsonDuration
	switch {
	case p.TimeToLive != nil:
		kind, d = TimeToLive, p.TimeToLive
	case p.TimeToIdle != nil:
		kind, d = TimeToIdle, p.TimeToIdle
	default:
		return ExpirationPolicy{}, fmt.Errorf("expiration policy: unknown form %s", b)
	}
	// serde's Duration carries whole seconds out of nanos.
	secs, nanos := d.Secs, d.Nanos
	if nanos >= 1e9 {
		if secs > math.MaxUint64-nanos/1e9 {
			return ExpirationPolicy{}, fmt.Errorf("expiration policy: %w", ErrDurationTooLong)
		}
		secs, nanos = secs+nanos/1e9, nanos%1e9
	}
	dur, err := durationFromParts(secs, uint32(nanos))
	if err != nil {
		return ExpirationPolicy{}, fmt.Errorf("expiration policy: %w", err)
	}
	return ExpirationPolicy{Kind: kind, Duration: dur}, nil
}

// AppendJSON appends m in objectstore's JSON form, byte for byte what serde_json writes.
//
// Call it (or MarshalJSON) directly when the bytes matter: json.Marshal of a value holding a
// Metadata re-escapes the output (<, >, &, U+2028, U+2029), which serde_json does not.
func (m Metadata) AppendJSON(b []byte) []byte {
	b = append(b, '{')
	if m.ExpirationPolicy.IsTimeout() {
		b = append(b, `"expiration_policy":`...)
		b = AppendPolicyJSON(b, m.ExpirationPolicy)
		b = append(b, ',')
	}
	if !m.TimeCreated.IsZero() {
		b = append(b, `"time_created":`...)
		b = appendJSONTime(b, m.TimeCreated)
		b = append(b, ',')
	}
	if !m.TimeExpires.IsZero() {
		b = append(b, `"time_expires":`...)
		b = appendJSONTime(b, m.TimeExpires)
		b = append(b, ',')
	}
	b = append(b, `"content_type":`...)
	b = appendJSONString(b, m.EffectiveContentType())
	if m.Compression == CompressionZstd {
		b = append(b, `,"compression":"Zstd"`...)
	}
	if m.HasOrigin() {
		b = append(b, `,"origin":`...)
		b = appendJSONString(b, m.Origin)
	}
	if m.HasFilename() {
		b = append(b, `,"filename":`...)
		b = appendJSONString(b, m.Filename)
	}
	if m.Size >= 0 {
		b = append(b, `,"size":`...)
		b = strconv.AppendInt(b, m.Size, 10)
	}
	if len(m.Custom) > 0 {
		b = append(b, `,"custom":{`...)
		for i, k := range slices.Sorted(maps.Keys(m.Custom)) {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = appendJSONString(b, m.Custom[k])
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

// MarshalJSON returns AppendJSON(nil); it never fails. See AppendJSON about json.Marshal.
func (m Metadata) MarshalJSON() ([]byte, error) { return m.AppendJSON(nil), nil }

// UnmarshalJSON decodes objectstore's JSON form. A missing size decodes as -1; a present
// "origin" or "filename" stays present when it is "".
func (m *Metadata) UnmarshalJSON(b []byte) error {
	if md, ok := decodeCanonical(b); ok {
		*m = md
		return nil
	}
	return m.unmarshalFull(b)
}

// unmarshalFull is UnmarshalJSON through encoding/json, for any form.
func (m *Metadata) unmarshalFull(b []byte) error {
	var j jsonMetadata
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	policy, err := UnmarshalPolicyJSON(j.ExpirationPolicy)
	if err != nil {
		return err
	}
	*m = Metadata{
		ExpirationPolicy: policy,
		TimeCreated:      fromJSONTime(j.TimeCreated),
		TimeExpires:      fromJSONTime(j.TimeExpires),
		ContentType:      j.ContentType,
		Size:             -1,
		Custom:           j.Custom,
	}
	switch j.Compression {
	case "":
	case "Zstd", "zstd":
		m.Compression = CompressionZstd
	default:
		return fmt.Errorf("unknown compression %q", j.Compression)
	}
	if j.Origin != nil {
		m.Origin, m.OriginSet = *j.Origin, true
	}
	if j.Filename != nil {
		m.Filename, m.FilenameSet = *j.Filename, true
	}
	if j.Size != nil {
		m.Size = *j.Size
	}
	return nil
}
