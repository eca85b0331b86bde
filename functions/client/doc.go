// Package client is the Go SDK of Strata. It speaks objectstore's HTTP API v1, so it works
// against Strata and against objectstore itself.
//
// # Addressing
//
// A Client talks to one server; a Session, built with Client.Usecase and Session.Scope,
// addresses the objects of one usecase and ordered list of scopes:
//
//	c, _ := client.New("http://127.0.0.1:8888", client.WithSigningKey(priv, "my-kid"))
//	s := c.Usecase("attachments").Scope("org", "17").Scope("project", "42")
//	key, err := s.Put(ctx, "reports/2026.pdf", file)
//
// Object paths are /v1/objects/{usecase}/{scopes or _}/{key}, percent-encoded like the
// Python client does (EscapePath): keys may contain '/' and any Unicode. The client refuses,
// before sending, what the server would refuse: keys with empty, "." or ".." segments or
// control characters, storage paths longer than the server's limit, and scope names or
// values outside A-Z a-z 0-9 _ - ( ) $ ! + '. Those errors wrap ErrInvalidArgument.
//
// # Compression
//
// Like objectstore's own clients, uploads are zstd-compressed by default and sent with
// content-encoding: zstd; the server stores the compressed bytes. Get decompresses a zstd
// object transparently unless asked for Raw bytes or a Range. WithCompression(false) and the
// Compress put option turn compression off.
//
// # Large objects
//
// Put sends payloads up to the multipart threshold (DefaultMultipartThreshold) in one
// request. Larger payloads, and streams of unknown length that turn out larger, go up as a
// multipart upload: initiate, parts uploaded in parallel, complete. The payload is read
// sequentially into a fixed pool of part buffers, so memory is bounded by
// max(parallelism, ⌊threshold/partSize⌋+1) buffers of the part size (plus their compressed
// copies), never by the object's size. With compression, every part is an independent
// zstd frame; their concatenation is a valid zstd stream. A failed upload is aborted, or,
// with KeepFailedUpload, kept: the *UploadError then names it and ResumeUpload sends only
// the parts the server lacks (Strata's part ETags are content MD5s).
//
// # Retries
//
// Idempotent requests are retried on connection errors and on 429, 500, 502, 503 and 504,
// with exponential backoff and full jitter (WithRetries), and always within the context's
// deadline: GET, HEAD, DELETE, PUT with a key and a replayable body, multipart part
// uploads, list, abort and complete (which the server makes idempotent), and batches whose
// operations are all idempotent. POST without a key is never retried, and neither is any
// upload of a stream that cannot be read again.
//
// # Authentication
//
// WithToken sends a fixed token; WithSigningKey signs a fresh EdDSA token of one minute for
// every request, naming the request's usecase and scopes, as the Python client does with a
// secret key. With a signing key, Session.PresignGet makes pre-signed URLs in objectstore's
// canonical form. Tokens travel as "x-os-auth: Bearer <token>". The canonical string, the
// header and parameter names, the permission names and the batch framing are
// functions/wire's, the same code the server reads them with.
//
// # Errors
//
// A server failure is an *Error with the status and the server's detail; IsNotFound,
// IsAuth, IsForbidden, IsUnauthorized, IsRangeNotSatisfiable and IsRetryable classify it.
// A multipart complete that fails after the server answered 200 is an *Error with Status
// 200 and the server's Code.
package client
