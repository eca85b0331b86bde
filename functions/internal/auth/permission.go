package auth

import (
	"fmt"
	"slices"

	"github.com/stratastore/strata/functions/wire"
)

// Permission is an operation class a credential may grant; the names are the wire's.
type Permission = wire.Permission

// The permissions objectstore knows (see wire for what each allows).
const (
	// Read allows GET and HEAD of objects, and batch get and head.
	Read = wire.PermRead
	// Write allows PUT and POST of objects, batch inserts and every multipart operation.
	Write = wire.PermWrite
	// Delete allows DELETE of objects and batch deletes.
	Delete = wire.PermDelete
)

// AllPermissions lists every known permission in canonical order, for convenience (a key or
// token that may do everything). The package never reads it, so changing it affects no
// verification.
var AllPermissions = wire.Permissions()

// ParsePermission returns the permission named s, or an error naming s when it is unknown.
func ParsePermission(s string) (Permission, error) {
	p := Permission(s)
	if !p.Valid() {
		return "", fmt.Errorf("unknown permission %q (want one of %q, %q, %q)", s, Read, Write, Delete)
	}
	return p, nil
}

// normalizePermissions returns the distinct known permissions of ps in canonical order.
func normalizePermissions(ps []Permission) []Permission {
	order := wire.Permissions()
	out := make([]Permission, 0, len(order))
	for _, p := range order {
		if slices.Contains(ps, p) {
			out = append(out, p)
		}
	}
	return out
}

// intersectPermissions returns the permissions in both a and b, in canonical order.
func intersectPermissions(a, b []Permission) []Permission {
	order := wire.Permissions()
	out := make([]Permission, 0, len(order))
	for _, p := range order {
		if slices.Contains(a, p) && slices.Contains(b, p) {
			out = append(out, p)
		}
	}
	return out
}
