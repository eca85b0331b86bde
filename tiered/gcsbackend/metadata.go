package gcsbackend

import (
	"fmt"
	"strings"
	"time"

	"cloud.google.com/go/storage"
	"github.com/stratastore/strata/tiered/object"
)

// Keys of the GCS object's custom metadata map. The first four are objectstore's; the two
// time keys are Strata's additions (see doc.go).
const (
	keyExpiration  = "x-sn-expiration"
	keyOrigin      = "x-sn-origin"
	keyFilename    = "x-sn-filename"
	keyTimeCreated = "x-sn-time-created"
	keyTimeExpires = "x-sn-time-expires"
	customPrefix   = "x-snme-"
)

// MaxCustomMetadataBytes is GCS's limit on the total size of an object's custom metadata (keys
// plus values). object.MaxMetadataBytes allows more, so Put and InitiateMultipart check this
// limit themselves and answer ErrInvalidArgument instead of a 400 from GCS.
const MaxCustomMetadataBytes = 8 << 10

// objectAttrs maps md onto the attributes of a new GCS object named name.
//
// customTime is set only for TTL and TTI objects: the bucket's daysSinceCustomTime lifecycle
// rule deletes every object carrying one, so a Manual object must never have it.
func objectAttrs(name string, md object.Metadata) storage.ObjectAttrs {
	a := storage.ObjectAttrs{
		Name:        name,
		ContentType: md.EffectiveContentType(),
		Metadata:    encodeMetadata(md),
	}
	if md.Compression == object.CompressionZstd {
		a.ContentEncoding = object.CompressionZstd
	}
	if md.ExpirationPolicy.IsTimeout() && !md.TimeExpires.IsZero() {
		a.CustomTime = md.TimeExpires
	}
	return a
}

// encodeMetadata returns the custom metadata map of md.
func encodeMetadata(md object.Metadata) map[string]string {
	m := make(map[string]string, len(md.Custom)+5)
	if md.ExpirationPolicy.IsTimeout() {
		m[keyExpiration] = md.ExpirationPolicy.String()
	}
	if md.Origin != "" {
		m[keyOrigin] = md.Origin
	}
	if md.Filename != "" {
		m[keyFilename] = md.Filename
	}
	if !md.TimeCreated.IsZero() {
		m[keyTimeCreated] = md.TimeCreated.UTC().Format(time.RFC3339Nano)
	}
	if !md.TimeExpires.IsZero() {
		m[keyTimeExpires] = md.TimeExpires.UTC().Format(time.RFC3339Nano)
	}
	for k, v := range md.Custom {
		m[customPrefix+k] = v
	}
	return m
}

// checkMetadataSize enforces MaxCustomMetadataBytes on an encoded map.
func checkMetadataSize(m map[string]string) error {
	n := 0
	for k, v := range m {
		n += len(k) + len(v)
	}
	if n > MaxCustomMetadataBytes {
		return fmt.Errorf("%w: custom metadata is %d bytes, more than GCS's limit of %d",
			object.ErrInvalidArgument, n, MaxCustomMetadataBytes)
	}
	return nil
}

// decodeMetadata reads Metadata back from a GCS object's attributes.
//
// Unknown keys in the metadata map are ignored (objectstore's reader rejects them; see
// doc.go). A malformed x-sn-expiration is an error, because guessing a policy could expire an
// object early or keep it forever; the informational time keys fall back instead.
func decodeMetadata(a *storage.ObjectAttrs) (object.Metadata, error) {
	md := object.Metadata{
		ContentType: a.ContentType,
		Size:        a.Size,
		TimeCreated: a.Created.UTC(),
	}
	if a.ContentEncoding == object.CompressionZstd {
		md.Compression = object.CompressionZstd
	}
	var exact time.Time
	for k, v := range a.Metadata {
		switch k {
		case keyExpiration:
			p, err := object.ParseExpirationPolicy(v)
			if err != nil {
				return object.Metadata{}, fmt.Errorf("gcs: object %q: %w", a.Name, err)
			}
			md.ExpirationPolicy = p
		case keyOrigin:
			md.Origin = v
		case keyFilename:
			md.Filename = v
		case keyTimeCreated:
			if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
				md.TimeCreated = t.UTC()
			}
		case keyTimeExpires:
			if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
				exact = t.UTC()
			}
		default:
			if name, ok := strings.CutPrefix(k, customPrefix); ok && name != "" {
				if md.Custom == nil {
					md.Custom = make(map[string]string)
				}
				md.Custom[name] = v
			}
		}
	}
	// customTime means nothing for a Manual object (Strata never sets it there).
	md.TimeExpires = exact
	if md.ExpirationPolicy.IsTimeout() {
		md.TimeExpires = reconcileExpiry(a.CustomTime, exact)
	}
	return md, nil
}

// reconcileExpiry chooses a TTL or TTI object's deadline from customTime and the exact
// x-sn-time-expires value.
//
// The JSON client sends customTime with whole-second precision, so the key restores the
// sub-second part. Strata's own bumps rewrite both; when customTime lies in another second
// than the key, someone else moved it (objectstore bumps customTime alone), and customTime
// wins. A missing customTime (an emulator that drops it on compose) falls back to the key.
func reconcileExpiry(customTime, exact time.Time) time.Time {
	switch {
	case customTime.IsZero():
		return exact
	case !exact.IsZero() && exact.Truncate(time.Second).Equal(customTime.Truncate(time.Second)):
		return exact
	default:
		return customTime.UTC()
	}
}
