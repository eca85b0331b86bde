// Package wire is the part of objectstore's HTTP API v1 that the Go SDK (functions/client)
// and the server (functions/internal/auth, functions/internal/httpapi) must write and read
// byte for byte alike. Each piece of the protocol that both sides speak lives here once, so
// that the two cannot drift apart and no test has to compare copies.
//
// What belongs here:
//
//   - header and query parameter names: the x-sn-* metadata headers, the batch part headers,
//     x-os-auth and os_auth, and the time format of x-sn-time-*;
//   - pre-signed URLs: the parameter names, the validity limit, the timestamp layout and
//     CanonicalRequest, the exact bytes a signature covers (AppendSignature signs them);
//   - permission names and which permission each batch operation kind needs;
//   - the batch codec: the limits, the percent-encoding of x-sn-batch-operation-key, and the
//     multipart/form-data framing of requests (RequestWriter, RequestReader) and responses
//     (ResponseWriter, ResponseReader), including the streaming body limit the server reads
//     requests through.
//
// What does not: policy. Which check runs first, what a failed check answers (status and
// error detail), retries, compression and authentication stay with the side that owns them.
// The codec hands back the raw header values and sentinel errors (ErrBatchBodyTooLarge,
// ErrBatchInsertTooLarge, ErrPercentEncoding, ErrInvalidUTF8) so that the server can keep
// objectstore's error contract. The expiration grammar of x-sn-expiration stays in
// tiered/object, because the storage backends parse it too.
//
// The package imports only the standard library and tiered/object, so that the SDK, which
// imports nothing else from this module, can depend on it.
//
// # Batch framing
//
// A batch request is multipart/form-data (mime/multipart's writer, random boundary). Each
// operation is one part with x-sn-batch-operation-kind, x-sn-batch-operation-key (every
// byte that is not ASCII alphanumeric percent-encoded; left out only for an insert whose key
// the server generates), content-disposition: form-data; name="part", and for an insert the
// metadata headers and the payload.
//
// A batch response is multipart/form-data with a quoted boundary "os-boundary-<32 hex>".
// Each result is one part, in completion order:
//
//	--<boundary>\r\n
//	x-sn-batch-operation-index: <i>\r\n
//	x-sn-batch-operation-key: <encoded key>\r\n       (results of operations that ran)
//	x-sn-batch-operation-kind: <kind>\r\n             (results of operations that ran)
//	x-sn-batch-operation-status: <code> <reason>\r\n  (hyper's reason phrases)
//	<metadata headers>\r\n
//	content-disposition: form-data; name=part\r\n
//	content-type: <type>\r\n                          (when the result has one)
//	\r\n
//	<body>\r\n
//
// and the response ends with "--<boundary>--", without a trailing CRLF, as objectstore's does.
package wire
