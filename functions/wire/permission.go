package wire

// Permission is an operation class a token grants, by its wire name.
type Permission string

// The permissions objectstore knows.
const (
	// PermRead allows GET and HEAD of objects, and batch get and head.
	PermRead Permission = "object.read"
	// PermWrite allows PUT and POST of objects, batch inserts and every multipart
	// operation.
	PermWrite Permission = "object.write"
	// PermDelete allows DELETE of objects and batch deletes.
	PermDelete Permission = "object.delete"
)

// Permissions returns every permission in canonical order (read, write, delete), the order
// the server reports them in. The slice is fresh: callers may keep or change it.
func Permissions() []Permission { return []Permission{PermRead, PermWrite, PermDelete} }

// Valid reports whether p is one of the known permissions. Names are case-sensitive.
func (p Permission) Valid() bool {
	switch p {
	case PermRead, PermWrite, PermDelete:
		return true
	}
	return false
}
