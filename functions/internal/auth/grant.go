package auth

import (
	"log/slog"
	"slices"

	"github.com/stratastore/strata/tiered/object"
)

// GrantKind says where a Grant came from.
type GrantKind int

// The kinds of Grant. The zero kind allows nothing, so a zero Grant is safe.
const (
	// NoGrant allows nothing.
	NoGrant GrantKind = iota
	// AllowAllGrant allows everything: auth is inactive, or not enforced and the request's
	// credential failed.
	AllowAllGrant
	// TokenGrant comes from a verified JWT.
	TokenGrant
	// PresignedGrant comes from a verified pre-signed URL and allows reads only.
	PresignedGrant
)

// String returns the kind's name, for logs.
func (k GrantKind) String() string {
	switch k {
	case AllowAllGrant:
		return "allow_all"
	case TokenGrant:
		return "token"
	case PresignedGrant:
		return "presigned"
	}
	return "none"
}

// Grant is what a request's credential allows. Authenticate returns it; Authorize checks each
// operation against it.
type Grant struct {
	// Kind says where the grant came from.
	Kind GrantKind
	// KeyID is the kid or os_kid that verified the credential (token and pre-signed grants).
	KeyID string
	// Usecase is the token's "os:usecase" claim (token grants only).
	Usecase string
	// Scopes maps the token's scope names to their allowed value or "*" (token grants only).
	Scopes map[string]string
	// Permissions are the effective permissions: the token's intersected with the key's
	// maximum, in the order Read, Write, Delete. A pre-signed grant has exactly Read.
	Permissions []Permission

	// suppress makes Authorize log failures instead of returning them (auth not enforced).
	suppress bool
	logger   *slog.Logger
}

// Authorize reports whether the grant allows an operation needing perm on objects of ctx,
// with a 403 *Error when it does not. A token grant needs perm among its permissions, its
// usecase equal to ctx.Usecase, and for every scope of ctx the token's value for that name
// equal to the scope's value or "*"; scopes the token has beyond ctx's do not matter. A
// pre-signed grant allows Read only (the signature already fixed the path). An allow-all grant
// allows everything, and a nil or zero grant nothing. When auth is not enforced, a denial is
// logged and nil returned.
func (g *Grant) Authorize(ctx object.Context, perm Permission) error {
	if g == nil {
		return errNotPermitted()
	}
	if g.allows(ctx, perm) {
		return nil
	}
	if g.suppress {
		if g.logger != nil {
			g.logger.Warn("auth: operation not allowed (not enforced)",
				"grant", g.Kind.String(), "kid", g.KeyID, "permission", string(perm),
				"usecase", ctx.Usecase)
		}
		return nil
	}
	return errNotPermitted()
}

func (g *Grant) allows(ctx object.Context, perm Permission) bool {
	switch g.Kind {
	case AllowAllGrant:
		return true
	case PresignedGrant:
		return perm == Read && slices.Contains(g.Permissions, Read)
	case TokenGrant:
		if !perm.Valid() || !slices.Contains(g.Permissions, perm) || g.Usecase != ctx.Usecase {
			return false
		}
		for _, s := range ctx.Scopes {
			v, ok := g.Scopes[s.Name]
			if !ok || (v != "*" && v != s.Value) {
				return false
			}
		}
		return true
	}
	return false
}
