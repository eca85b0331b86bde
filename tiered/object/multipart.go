package object

import "time"

// Multipart limits shared by every backend and by the HTTP API.
const (
	MinPartNumber = 1
	MaxPartNumber = 10000
	// MaxPartSize is the largest single part: Cloud Run caps an HTTP/1 request at 32 MiB, so a
	// part that travels in one request can be no larger.
	MaxPartSize = 32 << 20
)

// Part describes one uploaded part.
type Part struct {
	PartNumber   int
	ETag         string
	LastModified time.Time
	Size         int64
}

// PartList is one page of ListParts.
type PartList struct {
	Parts       []Part
	IsTruncated bool
	// NextPartNumberMarker is the marker for the next page when IsTruncated.
	NextPartNumberMarker int
}

// CompletedPart names one part of a complete request.
type CompletedPart struct {
	PartNumber int    `json:"part_number"`
	ETag       string `json:"etag"`
}

// CompleteError is a complete failure that the client should see in a 200 body, the way GCS
// and S3 report them, such as an unknown part or an ETag mismatch. The upload survives it.
type CompleteError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *CompleteError) Error() string { return e.Code + ": " + e.Message }
