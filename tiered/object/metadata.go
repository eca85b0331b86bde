package object

import (
	"encoding/json"
	"fmt"
	"maps"
	"time"
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
	// Filename is the name offered to downloaders in Content-Disposition.
	Filename string
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

// The JSON form is objectstore's serde encoding (used in Bigtable's "m" column and by the
// local backend), so tables written by either system read in the other:
//
//	{"expiration_policy":{"TimeToIdle":{"secs":3600,"nanos":0}},
//	 "time_created":{"secs_since_epoch":1700000000,"nanos_since_epoch":123456789},
//	 "time_expires":{"secs_since_epoch":1700003600,"nanos_since_epoch":0},
//	 "content_type":"text/plain","compression":"Zstd","origin":"10.0.0.1",
//	 "filename":"a.txt","size":12,"custom":{"k":"v"}}
//
// Default and empty fields are left out; unknown fields are ignored.

type jsonDuration struct {
	Secs  int64 `json:"secs"`
	Nanos int64 `json:"nanos"`
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

func toJSONTime(t time.Time) *jsonTime {
	if t.IsZero() {
		return nil
	}
	return &jsonTime{Secs: t.Unix(), Nanos: int64(t.Nanosecond())}
}

func fromJSONTime(t *jsonTime) time.Time {
	if t == nil {
		return time.Time{}
	}
	return time.Unix(t.Secs, t.Nanos).UTC()
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// MarshalPolicyJSON encodes a policy as objectstore's serde form: "Manual", or
// {"TimeToLive":{"secs":..,"nanos":..}} / {"TimeToIdle":{...}}.
func MarshalPolicyJSON(p ExpirationPolicy) []byte {
	d := &jsonDuration{Secs: int64(p.Duration / time.Second), Nanos: int64(p.Duration % time.Second)}
	var v any
	switch p.Kind {
	case TimeToLive:
		v = jsonPolicy{TimeToLive: d}
	case TimeToIdle:
		v = jsonPolicy{TimeToIdle: d}
	default:
		return []byte(`"Manual"`)
	}
	b, _ := json.Marshal(v)
	return b
}

// UnmarshalPolicyJSON decodes MarshalPolicyJSON's form. Empty input is Manual.
func UnmarshalPolicyJSON(b []byte) (ExpirationPolicy, error) {
	if len(b) == 0 || string(b) == `"Manual"` || string(b) == "null" {
		return ExpirationPolicy{}, nil
	}
	var p jsonPolicy
	if err := json.Unmarshal(b, &p); err != nil {
		return ExpirationPolicy{}, fmt.Errorf("expiration policy: %w", err)
	}
	dur := func(d *jsonDuration) time.Duration {
		return time.Duration(d.Secs)*time.Second + time.Duration(d.Nanos)
	}
	switch {
	case p.TimeToLive != nil:
		return TTL(dur(p.TimeToLive)), nil
	case p.TimeToIdle != nil:
		return TTI(dur(p.TimeToIdle)), nil
	}
	return ExpirationPolicy{}, fmt.Errorf("expiration policy: unknown form %s", b)
}

// MarshalJSON encodes m in objectstore's JSON form.
func (m Metadata) MarshalJSON() ([]byte, error) {
	j := jsonMetadata{
		TimeCreated: toJSONTime(m.TimeCreated),
		TimeExpires: toJSONTime(m.TimeExpires),
		ContentType: m.EffectiveContentType(),
		Origin:      optString(m.Origin),
		Filename:    optString(m.Filename),
		Custom:      m.Custom,
	}
	if m.ExpirationPolicy.IsTimeout() {
		j.ExpirationPolicy = MarshalPolicyJSON(m.ExpirationPolicy)
	}
	if m.Compression == CompressionZstd {
		j.Compression = "Zstd"
	}
	if m.Size >= 0 {
		size := m.Size
		j.Size = &size
	}
	return json.Marshal(j)
}

// UnmarshalJSON decodes objectstore's JSON form. A missing size decodes as -1.
func (m *Metadata) UnmarshalJSON(b []byte) error {
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
		m.Origin = *j.Origin
	}
	if j.Filename != nil {
		m.Filename = *j.Filename
	}
	if j.Size != nil {
		m.Size = *j.Size
	}
	return nil
}
