package gcsbackend

import (
	"fmt"
	"strings"
	"time"

	"cloud.google.com/go/storage"
	"github.com/stratastore/strata/tiered/object"
)

// Keys of the GCS object's custom metadata map: objectstore's, and only those. objectstore's
// reader fails on any other x-sn- key (and on unprefixed keys), so writing one would make
// the object unreadable to it.
const (
	keyExpiration = "x-sn-expiration"
	keyOrigin     = "x-sn-origin"
	keyFilename   = "x-sn-filename"
	customPrefix  = "x-snme-"
)

// MaxCustomMetadataBytes is GCS's limit on the total size of an object's custom metadata (keys
// plus values). object.MaxMetadataBytes allows more, so Put and InitiateMultipart check this
// limit themselves and answer ErrInvalidArgument instead of a 400 from GCS.
const MaxCustomMetadataBytes = 8 << 10

// customTime returns the customTime Strata writes for a deadline: rounded up to the next
// whole second. The Go JSON client sends customTime as RFC 3339 without a fraction, which
// would truncate it; rounding up first makes the stored deadline at most 1 s later than
// objectstore's, never earlier (see doc.go, "customTime precision").
func customTime(deadline time.Time) time.Time {
	if t := deadline.Truncate(time.Second); !t.Equal(deadline) {
		return t.Add(time.Second).UTC()
	}
	return deadline.UTC()
}

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
		a.CustomTime = customTime(md.TimeExpires)
	}
	return a
}

// encodeMetadata returns the custom metadata map of md: objectstore's keys only. The time
// fields travel in the resource itself (customTime; timeCreated is GCS's own).
func encodeMetadata(md object.Metadata) map[string]string {
	m := make(map[string]string, len(md.Custom)+3)
	if md.ExpirationPolicy.IsTimeout() {
		m[keyExpiration] = md.ExpirationPolicy.String()
	}
	if md.HasOrigin() {
		m[keyOrigin] = md.Origin
	}
	if md.HasFilename() {
		m[keyFilename] = md.Filename
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

// decodeMetadata reads Metadata back from a GCS object's attributes, as objectstore does:
// TimeCreated is GCS's timeCreated, TimeExpires is customTime, the policy, origin, filename
// and custom entries come from the metadata map.
//
// Unknown keys in the metadata map are ignored (objectstore's reader rejects them; see
// doc.go), including the x-sn-time-created and x-sn-time-expires keys earlier Strata versions
// wrote. A malformed x-sn-expiration is an error, because guessing a policy could expire an
// object early or keep it forever.
func decodeMetadata(a *storage.ObjectAttrs) (object.Metadata, error) {
	md := object.Metadata{
		ContentType: a.ContentType,
		Size:        a.Size,
		TimeCreated: a.Created.UTC(),
		TimeExpires: a.CustomTime.UTC(),
	}
	if a.CustomTime.IsZero() {
		md.TimeExpires = time.Time{}
	}
	if a.Created.IsZero() {
		md.TimeCreated = time.Time{}
	}
	if a.ContentEncoding == object.CompressionZstd {
		md.Compression = object.CompressionZstd
	}
	for k, v := range a.Metadata {
		switch k {
		case keyExpiration:
			p, err := object.ParseExpirationPolicy(v)
			if err != nil {
				return object.Metadata{}, fmt.Errorf("gcs: object %q: %w", a.Name, err)
			}
			md.ExpirationPolicy = p
		case keyOrigin:
			md.Origin, md.OriginSet = v, true
		case keyFilename:
			md.Filename, md.FilenameSet = v, true
		default:
			if name, ok := strings.CutPrefix(k, customPrefix); ok {
				if md.Custom == nil {
					md.Custom = make(map[string]string)
				}
				md.Custom[name] = v
			}
		}
	}
	return md, nil
}
