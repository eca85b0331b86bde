package object_test

import (
	"errors"
	"maps"
	"testing"
	"time"

	"github.com/stratastore/strata/tiered/backendtest/golden"
	"github.com/stratastore/strata/tiered/object"
)

// The tests below run one subtest per case of objectstore's golden fixtures
// (tiered/backendtest/golden): durations, policies, time encodings and the m JSON.

func expirationTables(t *testing.T) golden.Expiration {
	t.Helper()
	e, err := golden.ExpirationTables()
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestGolden_DurationFormat(t *testing.T) {
	for _, c := range expirationTables(t).DurationFormat {
		t.Run(c.Formatted, func(t *testing.T) {
			if got := object.FormatHumanDuration(c.Duration.Secs, c.Duration.Nanos); got != c.Formatted {
				t.Errorf("format(%d s %d ns) = %q, want %q", c.Duration.Secs, c.Duration.Nanos, got, c.Formatted)
			}
			d, err := object.ParseDuration(c.Formatted)
			if fits(c.Duration.Secs) {
				if err != nil || object.FormatDuration(d) != c.Formatted {
					t.Errorf("FormatDuration(ParseDuration(%q)) = %q, %v", c.Formatted, object.FormatDuration(d), err)
				}
			} else if !errors.Is(err, object.ErrDurationTooLong) {
				t.Errorf("ParseDuration(%q) error = %v, want ErrDurationTooLong", c.Formatted, err)
			}
		})
	}
}

// fits reports whether secs whole seconds fit in a time.Duration.
func fits(secs uint64) bool { return secs < uint64(1<<63-1)/uint64(time.Second) }

func TestGolden_DurationParse(t *testing.T) {
	for _, c := range expirationTables(t).DurationParse {
		t.Run(c.Input, func(t *testing.T) {
			secs, nanos, err := object.ParseHumanDuration(c.Input)
			if !c.OK {
				if err == nil {
					t.Fatalf("parse(%q) = %d s %d ns, want objectstore's error %q", c.Input, secs, nanos, c.Error)
				}
				if _, err := object.ParseDuration(c.Input); err == nil {
					t.Errorf("ParseDuration(%q) succeeded", c.Input)
				}
				return
			}
			if err != nil || secs != c.Secs || nanos != c.Nanos {
				t.Fatalf("parse(%q) = %d s %d ns, %v; want %d s %d ns", c.Input, secs, nanos, err, c.Secs, c.Nanos)
			}
			if got := object.FormatHumanDuration(secs, nanos); got != c.FormattedAgain {
				t.Errorf("formatted again %q, want %q", got, c.FormattedAgain)
			}
			d, err := object.ParseDuration(c.Input)
			switch {
			case !fits(c.Secs):
				if !errors.Is(err, object.ErrDurationTooLong) {
					t.Errorf("ParseDuration(%q) error = %v, want ErrDurationTooLong", c.Input, err)
				}
			case err != nil || d != time.Duration(c.Secs)*time.Second+time.Duration(c.Nanos):
				t.Errorf("ParseDuration(%q) = %v, %v", c.Input, d, err)
			}
		})
	}
}

func TestGolden_PolicyFormat(t *testing.T) {
	for _, c := range expirationTables(t).PolicyFormat {
		t.Run(c.Header, func(t *testing.T) {
			p, err := c.Policy.ExpirationPolicy()
			if !fits(c.Policy.Secs) {
				// Beyond time.Duration: Strata refuses the header and the stored JSON alike.
				if _, err := object.ParseExpirationPolicy(c.Header); !errors.Is(err, object.ErrInvalidArgument) {
					t.Errorf("ParseExpirationPolicy(%q) error = %v, want ErrInvalidArgument", c.Header, err)
				}
				if _, err := object.UnmarshalPolicyJSON([]byte(c.JSON)); !errors.Is(err, object.ErrDurationTooLong) {
					t.Errorf("UnmarshalPolicyJSON(%s) error = %v, want ErrDurationTooLong", c.JSON, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := p.String(); got != c.Header {
				t.Errorf("String() = %q, want %q", got, c.Header)
			}
			if got := object.MarshalPolicyJSON(p); string(got) != c.JSON {
				t.Errorf("MarshalPolicyJSON = %s, want %s", got, c.JSON)
			}
			back, err := object.UnmarshalPolicyJSON([]byte(c.JSON))
			if err != nil || back != p {
				t.Errorf("UnmarshalPolicyJSON(%s) = %v, %v; want %v", c.JSON, back, err, p)
			}
		})
	}
}

func TestGolden_PolicyParse(t *testing.T) {
	for _, c := range expirationTables(t).PolicyParse {
		t.Run(c.Input, func(t *testing.T) {
			p, err := object.ParseExpirationPolicy(c.Input)
			if !c.OK {
				if !errors.Is(err, object.ErrInvalidArgument) {
					t.Errorf("ParseExpirationPolicy(%q) = %v, %v; want an invalid-argument error", c.Input, p, err)
				}
				return
			}
			want, werr := c.Policy.ExpirationPolicy()
			if err != nil || werr != nil || p != want {
				t.Fatalf("ParseExpirationPolicy(%q) = %v, %v; want %v", c.Input, p, err, want)
			}
			if p.String() != c.FormattedAgain || string(object.MarshalPolicyJSON(p)) != c.JSON {
				t.Errorf("formatted again %q / %s, want %q / %s", p.String(), object.MarshalPolicyJSON(p), c.FormattedAgain, c.JSON)
			}
		})
	}
}

func TestGolden_TimeEncodings(t *testing.T) {
	for _, c := range expirationTables(t).TimeEncodings {
		t.Run(c.Instant, func(t *testing.T) {
			at, err := time.Parse(time.RFC3339Nano, c.Instant)
			if err != nil {
				t.Fatal(err)
			}
			got := string(object.Metadata{TimeCreated: at, Size: -1}.AppendJSON(nil))
			want := `{"time_created":` + c.BigtableMJSON + `,"content_type":"application/octet-stream"}`
			if got != want {
				t.Errorf("m JSON %s, want %s", got, want)
			}
			if us := at.UnixMilli() * 1000; us != c.FGMicros {
				t.Errorf("fg timestamp %d, want %d", us, c.FGMicros)
			}
		})
	}
}

// TestGolden_MetadataJSON checks the m cell of every object row objectstore's current writer
// produced: the same input metadata must encode to the same bytes. Every reading's
// metadata_json must decode to the reading's metadata and encode back byte for byte.
func TestGolden_MetadataJSON(t *testing.T) {
	rows, err := golden.BigtableRows()
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range rows {
		t.Run(row.Name, func(t *testing.T) {
			checked := false
			if row.Input != nil && row.Input.Metadata != nil {
				md, err := row.Input.Metadata.Object()
				if err != nil {
					t.Fatal(err)
				}
				md.Size = row.Input.Payload.Size
				var m []byte
				for _, c := range row.Cells {
					if c.Qualifier == "m" {
						m = c.Value()
					}
				}
				if got := md.AppendJSON(nil); string(got) != string(m) {
					t.Errorf("encoded\n got %s\nwant %s", got, m)
				}
				checked = true
			}
			for _, r := range []*golden.Reading{&row.Reading, row.Reading.Head} {
				if r == nil || r.MetadataJSON == "" {
					continue
				}
				var md object.Metadata
				if err := md.UnmarshalJSON([]byte(r.MetadataJSON)); err != nil {
					t.Fatalf("decode %s: %v", r.MetadataJSON, err)
				}
				if got := md.AppendJSON(nil); string(got) != r.MetadataJSON {
					t.Errorf("re-encoded\n got %s\nwant %s", got, r.MetadataJSON)
				}
				// The HEAD reading lists no neutral metadata: it is GET's, except for size.
				neutral := r.Metadata
				if neutral == nil {
					neutral = row.Reading.Metadata
				}
				want, err := neutral.Object()
				if err != nil {
					t.Fatal(err)
				}
				if r.Metadata == nil {
					want.Size = md.Size
				}
				if d := diff(md, want); d != "" {
					t.Errorf("decoded metadata differs: %s", d)
				}
				checked = true
			}
			if !checked {
				// Tombstones, errors and expired rows carry no metadata: their m (legacy
				// tombstones) or t cells are checked by tiered/bigtablebackend.
				for _, c := range row.Cells {
					if c.Qualifier == "m" {
						var md object.Metadata
						err := md.UnmarshalJSON(c.Value())
						if (err != nil) != (row.Reading.Kind == "error") {
							t.Errorf("decode m: %v (objectstore's reading: %s)", err, row.Reading.Kind)
						}
					}
				}
			}
		})
	}
}

// diff describes the first difference between two decoded Metadata values, or "".
func diff(got, want object.Metadata) string {
	switch {
	case got.ExpirationPolicy != want.ExpirationPolicy:
		return "expiration policy " + got.ExpirationPolicy.String() + ", want " + want.ExpirationPolicy.String()
	case !got.TimeCreated.Equal(want.TimeCreated):
		return "time_created " + got.TimeCreated.String() + ", want " + want.TimeCreated.String()
	case !got.TimeExpires.Equal(want.TimeExpires):
		return "time_expires " + got.TimeExpires.String() + ", want " + want.TimeExpires.String()
	case got.EffectiveContentType() != want.EffectiveContentType() || got.Compression != want.Compression:
		return "content type or compression"
	case got.Origin != want.Origin || got.HasOrigin() != want.HasOrigin():
		return "origin " + got.Origin + ", want " + want.Origin
	case got.Filename != want.Filename || got.HasFilename() != want.HasFilename():
		return "filename " + got.Filename + ", want " + want.Filename
	case got.Size != want.Size:
		return "size"
	case !maps.Equal(got.Custom, want.Custom):
		return "custom"
	}
	return ""
}
