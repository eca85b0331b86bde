package auth

import (
	"fmt"
	"slices"
)

// Permission is an operation class a credential may grant.
type Permission string

// The permissions objectstore knows.
const (
	// Read allows GET and HEAD of objects, and batch get and head.
	Read Permission = "object.read"
	// Write allows PUT and POST of objects, batch inserts and every multipart operation.
	Write Permission = "object.write"
	// Delete allows DELETE of objects and batch deletes.
	Delete Permission = "object.delete"
)

// AllPermissions lists every known permission in canonical order, for convenience (a key or
// token that may do everything). The package never reads it, so changing it affects no
// verification.
var AllPermissions = []Permission{Read, Write, Delete}

// canonicalPermissions is the order permissions are reported in.
var canonicalPermissions = [...]Permission{Read, Write, Delete}

// Valid reports whether p is one of the known permissions.
func (p Permission) Valid() bool {
	switch p {
	case Read, Write, Delete:
		return true
	}
	return false
}

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
	out := make([]Permission, 0, len(canonicalPermissions))
	for _, p := range canonicalPermissions {
		if slices.Contains(ps, p) {
			out = append(out, p)
		}
	}
	return out
}

// intersectPermissions returns the permissions in both a and b, in canonical order.
func intersectPermissions(a, b []Permission) []Permission {
	out := make([]Permission, 0, len(canonicalPermissions))
	for _, p := range canonicalPermissions {
		if slices.Contains(a, p) && slices.Contains(b, p) {
			out = append(out, p)
		}
	}
	return out
}
