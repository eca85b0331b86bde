package wire

import (
	"slices"
	"testing"
)

func TestPermission_Valid(t *testing.T) {
	for _, tc := range []struct {
		p    Permission
		want bool
	}{
		{"object.read", true}, {"object.write", true}, {"object.delete", true},
		{"read", false}, {"Object.Read", false}, {"object.list", false}, {"", false},
	} {
		if got := tc.p.Valid(); got != tc.want {
			t.Errorf("Permission(%q).Valid() = %v, want %v", tc.p, got, tc.want)
		}
	}
}

func TestPermissions_CanonicalOrderAndFresh(t *testing.T) {
	ps := Permissions()
	if want := []Permission{"object.read", "object.write", "object.delete"}; !slices.Equal(ps, want) {
		t.Fatalf("Permissions() = %q, want %q", ps, want)
	}
	ps[0] = "changed"
	if Permissions()[0] != PermRead {
		t.Error("Permissions() shares its slice")
	}
}

func TestKindPermission(t *testing.T) {
	for _, tc := range []struct {
		kind string
		want Permission
		ok   bool
	}{
		{KindGet, PermRead, true}, {KindHead, PermRead, true}, {KindInsert, PermWrite, true},
		{KindDelete, PermDelete, true}, {"GET", "", false}, {"list", "", false}, {"", "", false},
	} {
		if got, ok := KindPermission(tc.kind); got != tc.want || ok != tc.ok {
			t.Errorf("KindPermission(%q) = %q, %v; want %q, %v", tc.kind, got, ok, tc.want, tc.ok)
		}
	}
}
