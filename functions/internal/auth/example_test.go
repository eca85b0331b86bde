package auth_test

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/stratastore/strata/functions/internal/auth"
	"github.com/stratastore/strata/tiered/object"
)

func Example() {
	// A key pair; in production the public half comes from STRATA_AUTH_KEYS.
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	keys := auth.KeyDirectory{"relay": {
		Versions:       []ed25519.PublicKey{priv.Public().(ed25519.PublicKey)},
		MaxPermissions: []auth.Permission{auth.Read, auth.Write},
	}}
	now := time.Date(2026, 7, 23, 10, 0, 0, 0, time.UTC)
	v, err := auth.NewVerifier(keys, auth.Options{Enforce: true, Now: func() time.Time { return now }})
	if err != nil {
		panic(err)
	}

	token, _ := auth.SignToken(priv, "relay", auth.Claims{
		Usecase:     "attachments",
		Scopes:      map[string]string{"org": "17", "project": "*"},
		Permissions: []auth.Permission{auth.Read, auth.Delete},
		Expires:     now.Add(time.Minute),
	})
	r := httptest.NewRequest("GET", "/v1/objects/attachments/org=17;project=42/key", nil)
	r.Header.Set("x-os-auth", "Bearer "+token)
	g, err := v.Authenticate(r)
	if err != nil {
		panic(err)
	}
	ctx := object.Context{Usecase: "attachments", Scopes: []object.Scope{{Name: "org", Value: "17"}, {Name: "project", Value: "42"}}}
	fmt.Println("effective:", g.Permissions)
	fmt.Println("read:", g.Authorize(ctx, auth.Read))
	fmt.Println("delete:", g.Authorize(ctx, auth.Delete))

	// A pre-signed GET of the same object, valid for an hour.
	q, _ := auth.PresignQuery(priv, "relay", "GET", "/v1/objects/attachments/org=17;project=42/key", "", now, time.Hour)
	g, err = v.Authenticate(httptest.NewRequest("HEAD", "/v1/objects/attachments/org=17;project=42/key?"+q, nil))
	fmt.Println(g.Kind, err)
	// Output:
	// effective: [object.read]
	// read: <nil>
	// delete: auth error: operation not allowed
	// presigned <nil>
}
