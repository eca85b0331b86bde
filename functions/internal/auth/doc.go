// Package auth implements objectstore's request authentication and authorization: Ed25519
// (EdDSA) JSON Web Tokens and pre-signed URLs. The HTTP layer calls it; it knows nothing about
// routes or storage.
//
// # Configuration
//
// A KeyDirectory maps a key id ("kid") to one or more Ed25519 public keys (versions, tried in
// order, so a key can be rotated without downtime) and to the maximum permissions any token
// signed with that key may carry. ParseKeyDirectory reads it from the STRATA_AUTH_KEYS JSON,
// whose key files hold PEM SPKI public keys.
//
// Auth is active when it is enforced or when keys are configured:
//
//   - inactive: every request gets an allow-all Grant and credentials are never looked at;
//   - active and enforced: a missing or bad credential is an *Error (400, 401 or 403);
//   - active, not enforced: failures are logged and the request proceeds with an allow-all
//     Grant; a valid token's Grant logs, instead of refusing, operations it does not allow.
//
// # Request flow
//
// Verifier.Authenticate looks at the request once, before the path is parsed:
//
//  1. If the raw query has a parameter named exactly "os_sig", the request is pre-signed
//     (step 4) and headers are ignored.
//  2. Otherwise the token comes from the x-os-auth header; only when that header is absent,
//     from Authorization. The value must start with "Bearer " (prefix compared without case);
//     a value without it counts as no header token. It does not fall through to Authorization
//     when x-os-auth is present.
//  3. Without a header token, the os_auth query parameter (name and value form-decoded) is
//     used; a repeated os_auth is an invalid query (400). No token at all is a 400.
//  4. Tokens are verified (see below) into a Grant; pre-signed requests are checked in this
//     order: method GET or HEAD (403), parameters os_kid, os_timestamp, os_duration and os_sig
//     present and well-formed (400), os_kid known (401), os_duration at most one week (400),
//     os_timestamp-Leeway <= now <= os_timestamp+os_duration (401), the signature over
//     wire.CanonicalRequest (401), and the key's max permissions include object.read (403).
//
// Grant.Authorize then checks each operation against the object's context: the permission
// must be granted, the token's usecase must equal the request's, and every scope in the
// request path must appear in the token with the same value or "*". A request may name fewer
// scopes than the token. A pre-signed Grant allows reads only, of whatever path was signed.
//
// # Token verification
//
// Tokens are compact JWS. This package parses them itself rather than through a generic JWT
// library, for three reasons: the algorithm is never taken from the token (only "EdDSA" is
// accepted and Ed25519 is the only verifier, so alg confusion, "none" and HMAC-with-public-key
// attacks have no code path); objectstore's error contract distinguishes a missing kid (400),
// an unknown kid (401), a signature that matches no key version (401, after trying every
// version) and malformed or invalid claims (401, stopping at once), which needs control over
// the order of checks; and base64url is decoded strictly (no padding, no line breaks, no
// non-zero trailing bits).
//
// In order: the header must decode to a JSON object with a known "alg" and a string "kid"; the
// kid must be configured; alg must be EdDSA; the signature must verify with some key version;
// then the claims: exp is required (expired when exp < now-Leeway), nbf when present must not
// be after now+NotBeforeLeeway (objectstore ignores nbf; Strata honours it), iss when present
// must be "sentry" or "relay", aud when present must be or contain "objectstore", res must hold
// a string "os:usecase" and string scope values, and permissions must be known strings. The
// effective permissions are the token's intersected with the key's max permissions.
//
// Ed25519 verification is strict in both paths: public keys and signature R values of small
// order are refused (ParsePublicKeyPEM rejects such keys outright, since they would let anyone
// forge signatures), and S must be canonical.
//
// # Signing
//
// SignToken and PresignQuery produce credentials the Verifier accepts; the tests use them.
// The Go SDK (functions/client) signs with its own KeySigner, and what both sides must agree
// on lives once in functions/wire: the header and parameter names, the permission names,
// and wire.CanonicalRequest, the exact byte string a pre-signed URL signs:
//
//	<METHOD>\n<raw path>\n<canonical query>
//
// where METHOD is upper case with HEAD mapped to GET, the path is exactly as sent on the wire,
// and the canonical query is the raw query's non-empty '&'-separated pieces with their names
// lower-cased, os_sig removed, sorted byte-wise and joined with '&'. The path a pre-signed URL
// covers is the request-target exactly as the server receives it (http.Request.RequestURI),
// so anything in front of the verifier that re-encodes paths (a proxy normalising
// percent-escapes, for example) breaks pre-signed URLs by design: the signature covers those
// bytes.
package auth
