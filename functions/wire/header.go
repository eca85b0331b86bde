package wire

// Header names, lower case as objectstore writes them. net/http canonicalises them where a
// side sets them through http.Header, which does not change what they match.
const (
	// HeaderAuth carries "Bearer <token>"; the server looks at it first.
	HeaderAuth = "x-os-auth"
	// HeaderAuthorization is where the server looks for a token when HeaderAuth is absent.
	HeaderAuthorization = "Authorization"
	// BearerPrefix starts the value of a token header; the server compares it without case.
	BearerPrefix = "Bearer "

	// HeaderExpiration is the expiration policy (tiered/object's grammar).
	HeaderExpiration = "x-sn-expiration"
	// HeaderTimeCreated is when the object was written, in TimeFormat.
	HeaderTimeCreated = "x-sn-time-created"
	// HeaderTimeExpires is when the object expires, in TimeFormat.
	HeaderTimeExpires = "x-sn-time-expires"
	// HeaderOrigin is free text naming where the object came from.
	HeaderOrigin = "x-sn-origin"
	// HeaderFilename is a file name, answered as content-disposition on GET.
	HeaderFilename = "x-sn-filename"
	// HeaderCustomPrefix starts the name of every custom metadata header.
	HeaderCustomPrefix = "x-snme-"

	// HeaderBatchIndex is a response part's position in the request.
	HeaderBatchIndex = "x-sn-batch-operation-index"
	// HeaderBatchKey is an operation's key, encoded with EncodeBatchKey.
	HeaderBatchKey = "x-sn-batch-operation-key"
	// HeaderBatchKind is an operation's kind: KindGet, KindHead, KindInsert or KindDelete.
	HeaderBatchKind = "x-sn-batch-operation-kind"
	// HeaderBatchStatus is a result's status line, written by StatusLine.
	HeaderBatchStatus = "x-sn-batch-operation-status"
)

// ParamToken is the query parameter that carries a token when no header does.
const ParamToken = "os_auth"

// TimeFormat is how the server writes x-sn-time-*: RFC 3339 in UTC with exactly six
// fractional digits. time.RFC3339Nano parses it.
const TimeFormat = "2006-01-02T15:04:05.000000Z"

// ValidHeaderValue reports whether v can be sent as a header value: no control characters
// other than tab. Stored metadata written by another system could violate it; the server
// leaves such a header out rather than corrupt a response or a batch part.
func ValidHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
