// Package golden loads objectstore's golden fixtures: the exact Bigtable cells, GCS object
// resources and expiration strings that objectstore (getsentry/objectstore, commit a2e21969)
// writes, with what objectstore makes of each when it reads it back at a fixed Now.
//
// The fixtures are data, embedded from testdata/ unchanged; their field meanings are those of
// the fixture set's own README (shared reference objectstore-golden/README.md). Tests in
// tiered/object, tiered/bigtablebackend, tiered/gcsbackend and functions/internal/httpapi run
// one subtest per case in both directions: Strata's writes must be byte-identical, and
// Strata's reading of every stored form must match objectstore's.
//
// The package imports only the standard library and tiered/object.
package golden

import (
	"embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/stratastore/strata/tiered/object"
)

//go:embed testdata/*.json
var files embed.FS

// Now is the instant every reading in the fixtures was taken at.
var Now = mustTime("2026-07-23T15:34:05.5Z")

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func load(name string, v any) error {
	b, err := files.ReadFile("testdata/" + name)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("golden: %s: %w", name, err)
	}
	return nil
}

// Policy is a neutral expiration policy: Kind "manual", "ttl" or "tti" with a Rust-style
// duration (whole seconds up to 2^64-1, plus nanoseconds).
type Policy struct {
	Kind  string `json:"kind"`
	Secs  uint64 `json:"secs"`
	Nanos uint32 `json:"nanos"`
}

// ExpirationPolicy converts p; durations beyond time.Duration are an error.
func (p Policy) ExpirationPolicy() (object.ExpirationPolicy, error) {
	if p.Kind == "manual" {
		return object.ExpirationPolicy{}, nil
	}
	if p.Secs > math.MaxInt64/uint64(time.Second)-1 {
		return object.ExpirationPolicy{}, fmt.Errorf("golden: duration of %d s does not fit time.Duration", p.Secs)
	}
	d := time.Duration(p.Secs)*time.Second + time.Duration(p.Nanos)
	switch p.Kind {
	case "ttl":
		return object.TTL(d), nil
	case "tti":
		return object.TTI(d), nil
	}
	return object.ExpirationPolicy{}, fmt.Errorf("golden: unknown policy kind %q", p.Kind)
}

// Metadata is neutral metadata. A nil Origin or Filename is absent; a pointer to "" is
// present but empty. A nil Size is absent.
type Metadata struct {
	Policy       Policy            `json:"policy"`
	PolicyHeader string            `json:"policy_header"`
	TimeCreated  *string           `json:"time_created"`
	TimeExpires  *string           `json:"time_expires"`
	ContentType  string            `json:"content_type"`
	Compression  *string           `json:"compression"`
	Origin       *string           `json:"origin"`
	Filename     *string           `json:"filename"`
	Size         *int64            `json:"size"`
	Custom       map[string]string `json:"custom"`
}

// Object converts m to object.Metadata (Size -1 when absent, an empty Custom as nil).
func (m Metadata) Object() (object.Metadata, error) {
	p, err := m.Policy.ExpirationPolicy()
	if err != nil {
		return object.Metadata{}, err
	}
	md := object.Metadata{ExpirationPolicy: p, ContentType: m.ContentType, Size: -1}
	for _, f := range []struct {
		s   *string
		dst *time.Time
	}{{m.TimeCreated, &md.TimeCreated}, {m.TimeExpires, &md.TimeExpires}} {
		if f.s != nil {
			t, err := time.Parse(time.RFC3339Nano, *f.s)
			if err != nil {
				return object.Metadata{}, fmt.Errorf("golden: %w", err)
			}
			*f.dst = t.UTC()
		}
	}
	if m.Compression != nil {
		md.Compression = *m.Compression
	}
	if m.Origin != nil {
		md.Origin, md.OriginSet = *m.Origin, true
	}
	if m.Filename != nil {
		md.Filename, md.FilenameSet = *m.Filename, true
	}
	if m.Size != nil {
		md.Size = *m.Size
	}
	if len(m.Custom) > 0 {
		md.Custom = m.Custom
	}
	return md, nil
}

// Bytes is a payload or cell value given in base64.
type Bytes struct {
	Size        int64  `json:"size"`
	ValueBase64 string `json:"value_base64"`
}

// Value decodes the bytes.
func (b Bytes) Value() []byte {
	v, err := base64.StdEncoding.DecodeString(b.ValueBase64)
	if err != nil {
		panic(fmt.Sprintf("golden: bad base64: %v", err))
	}
	return v
}

// Cell is one Bigtable cell.
type Cell struct {
	Family    string `json:"family"`
	Qualifier string `json:"qualifier"`
	// TimestampMicros is a number, or "server" where objectstore sent -1 (fm cells).
	TimestampMicros json.RawMessage `json:"timestamp_micros"`
	ValueBase64     string          `json:"value_base64"`
}

// Value decodes the cell's value.
func (c Cell) Value() []byte { return Bytes{ValueBase64: c.ValueBase64}.Value() }

// ServerTime reports whether objectstore let Bigtable assign the timestamp.
func (c Cell) ServerTime() bool { return string(c.TimestampMicros) == `"server"` }

// Micros returns the cell timestamp in microseconds; 0 for a server timestamp.
func (c Cell) Micros() int64 {
	if c.ServerTime() {
		return 0
	}
	n, err := strconv.ParseInt(string(c.TimestampMicros), 10, 64)
	if err != nil {
		panic(fmt.Sprintf("golden: bad timestamp %s", c.TimestampMicros))
	}
	return n
}

// Error is an error objectstore reports.
type Error struct {
	ServiceError   string   `json:"service_error"`
	Underlying     []string `json:"underlying"`
	HTTPStatus     int      `json:"http_status"`
	HTTPBodyDetail string   `json:"http_body_detail"`
}

// Reading is objectstore's reading of a stored row or object at Now (GET path; Head holds
// the HEAD path where it is given).
type Reading struct {
	Kind               string      `json:"kind"` // object, tombstone, notfound, error
	MetadataJSON       string      `json:"metadata_json"`
	Metadata           *Metadata   `json:"metadata"`
	Headers            [][2]string `json:"headers"`
	HeadersError       *Error      `json:"headers_error"`
	ContentDisposition *string     `json:"content_disposition"`
	Payload            *Bytes      `json:"payload"`
	Error              *Error      `json:"error"`
	Stage              string      `json:"stage"`
	// Tombstones.
	TargetStoragePath string  `json:"target_storage_path"`
	TargetIsRowKey    bool    `json:"target_is_row_key"`
	ExpirationPolicy  string  `json:"expiration_policy"`
	CellDeadline      *string `json:"cell_deadline"`
	// TTIBump is null or the write objectstore makes while serving the read.
	TTIBump json.RawMessage `json:"tti_bump"`
	Head    *Reading        `json:"head"`
	// IdenticalToGet is set on Head only.
	IdenticalToGet *bool `json:"identical_to_get"`
	// CASTombstoneFilterMatches says whether objectstore's CAS tombstone predicate matches.
	CASTombstoneFilterMatches *bool `json:"cas_tombstone_filter_matches"`
}

// BigtableInput is what objectstore's writer was called with: an object (Metadata, Payload)
// or a tombstone.
type BigtableInput struct {
	Metadata  *Metadata       `json:"metadata"`
	Payload   *Bytes          `json:"payload"`
	Tombstone *TombstoneInput `json:"tombstone"`
}

// TombstoneInput is a tombstone write.
type TombstoneInput struct {
	TargetStoragePath string `json:"target_storage_path"`
	Policy            Policy `json:"policy"`
	PolicyHeader      string `json:"policy_header"`
	WrittenAt         string `json:"written_at"`
}

// BigtableRow is one case of bigtable-rows.json.
type BigtableRow struct {
	Name        string         `json:"name"`
	Description string         `json:"description"`
	WrittenBy   string         `json:"written_by"`
	RowKey      string         `json:"row_key"`
	Input       *BigtableInput `json:"input"`
	Mutations   []string       `json:"mutations"`
	Cells       []Cell         `json:"cells"`
	Reading     Reading        `json:"objectstore_reading"`
}

// BigtableRows returns the cases of bigtable-rows.json.
func BigtableRows() ([]BigtableRow, error) {
	var f struct {
		Cases []BigtableRow `json:"cases"`
	}
	err := load("bigtable-rows.json", &f)
	return f.Cases, err
}

// GCSInput is the metadata objectstore wrote an object with.
type GCSInput struct {
	Metadata Metadata `json:"metadata"`
	Payload  struct {
		Size  int64 `json:"size"`
		Parts []struct {
			PartNumber int   `json:"part_number"`
			Size       int64 `json:"size"`
		} `json:"parts"`
	} `json:"payload"`
}

// GCSObject is one case of gcs-objects.json.
type GCSObject struct {
	Name        string    `json:"name"`
	Description string    `json:"description"`
	WrittenBy   string    `json:"written_by"`
	ObjectName  string    `json:"object_name"`
	Input       *GCSInput `json:"input"`
	// UploadJSON is the exact metadata JSON of objectstore's single upload; nil on the XML
	// multipart path and for objects another writer made.
	UploadJSON *string `json:"objectstore_upload_json"`
	// XMLInitiate is the multipart initiate request (headers in objectstore's order).
	XMLInitiate *struct {
		Headers [][2]string `json:"headers"`
	} `json:"objectstore_xml_initiate_request"`
	// Resource is the object resource GCS returns, as fed to objectstore's reader.
	Resource     Resource `json:"object_resource"`
	ResourceJSON string   `json:"object_resource_json"`
	Reading      Reading  `json:"objectstore_reading"`
	CompletedAt  string   `json:"completed_at"`
}

// Resource holds the fields of a GCS object resource that objectstore reads.
type Resource struct {
	Name            string            `json:"name"`
	ContentType     string            `json:"contentType"`
	ContentEncoding string            `json:"contentEncoding"`
	CustomTime      string            `json:"customTime"`
	TimeCreated     string            `json:"timeCreated"`
	Size            string            `json:"size"`
	Metadata        map[string]string `json:"metadata"`
}

// GCSObjects returns the cases of gcs-objects.json.
func GCSObjects() ([]GCSObject, error) {
	var f struct {
		Cases []GCSObject `json:"cases"`
	}
	err := load("gcs-objects.json", &f)
	return f.Cases, err
}

// Expiration holds the tables of expiration.json.
type Expiration struct {
	DurationFormat []struct {
		Duration struct {
			Secs  uint64 `json:"secs"`
			Nanos uint32 `json:"nanos"`
		} `json:"duration"`
		Formatted string `json:"formatted"`
	} `json:"duration_format"`
	DurationParse []struct {
		Input          string `json:"input"`
		OK             bool   `json:"ok"`
		Secs           uint64 `json:"secs"`
		Nanos          uint32 `json:"nanos"`
		FormattedAgain string `json:"formatted_again"`
		Error          string `json:"error"`
	} `json:"duration_parse"`
	PolicyFormat []struct {
		Policy Policy `json:"policy"`
		Header string `json:"header"`
		JSON   string `json:"json"`
	} `json:"policy_format"`
	PolicyParse []struct {
		Input          string `json:"input"`
		OK             bool   `json:"ok"`
		FormattedAgain string `json:"formatted_again"`
		JSON           string `json:"json"`
		Policy         Policy `json:"policy"`
		Error          *Error `json:"error"`
	} `json:"policy_parse"`
	TimeEncodings []struct {
		Instant          string `json:"instant"`
		BigtableMJSON    string `json:"bigtable_m_json"`
		FGMicros         int64  `json:"bigtable_fg_timestamp_micros"`
		HTTPHeader       string `json:"http_header"`
		GCSUploadJSON    string `json:"gcs_upload_json"`
		GCSXMLCustomTime string `json:"gcs_xml_x_goog_custom_time"`
	} `json:"time_encodings"`
}

// ExpirationTables returns the tables of expiration.json.
func ExpirationTables() (Expiration, error) {
	var e Expiration
	err := load("expiration.json", &e)
	return e, err
}
