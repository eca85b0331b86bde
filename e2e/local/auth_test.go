package local

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stratastore/strata/functions/client"
)

// TestLocal_Auth_TokensPermissionsAndPresignedURLs checks authentication on the running
// binary: a signed token works in every place a token may travel; a missing token is 400, a
// bad signature, an unknown key or an expired token 401; a read-only key (max_permissions
// object.read) reads but gets 403 on every write, delete and multipart operation, also per
// operation in a batch; a token for another usecase or scope is 403; pre-signed URLs work
// for GET and HEAD and are 401 once tampered with.
func TestLocal_Auth_TokensPermissionsAndPresignedURLs(t *testing.T) {
	k := newKeys(t)
	dir := t.TempDir()
	s := start(t, dir, k)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	full := sdk(t, s, k.Full)
	if _, err := full.Put(ctx, "secret.txt", bytes.NewReader([]byte("top secret"))); err != nil {
		t.Fatalf("put with a valid signed token: %v", err)
	}
	obj := objectURL(s, "secret.txt")

	t.Run("ValidTokenEverywhere", func(t *testing.T) {
		tok := token(t, k.Full.Priv, k.Full.KID)
		for name, c := range map[string]struct {
			h   http.Header
			url string
		}{
			"x-os-auth":     {http.Header{"X-Os-Auth": {"Bearer " + tok}}, obj},
			"authorization": {http.Header{"Authorization": {"Bearer " + tok}}, obj},
			"os_auth query": {nil, obj + "?os_auth=" + url.QueryEscape(tok)},
		} {
			res, body := rawDo(t, http.MethodGet, c.url, c.h, nil)
			wantStatus(t, "GET with the token in "+name, res, body, http.StatusOK)
			if string(body) != "top secret" {
				t.Errorf("GET with the token in %s = %q", name, body)
			}
		}
	})

	t.Run("Rejected", func(t *testing.T) {
		_, otherPriv, _ := ed25519.GenerateKey(rand.Reader)
		expired, err := client.SignToken(k.Full.Priv, k.Full.KID, client.Claims{
			Usecase: usecase, Scopes: map[string]string{scopeName: scopeValue},
			Permissions: client.AllPermissions, Expires: time.Now().Add(-10 * time.Minute),
		})
		if err != nil {
			t.Fatal(err)
		}
		tampered := []byte(token(t, k.Full.Priv, k.Full.KID))
		flip(tampered, len(tampered)-5)
		otherUsecase, _ := client.SignToken(k.Full.Priv, k.Full.KID, client.Claims{
			Usecase: "other", Permissions: client.AllPermissions, Expires: time.Now().Add(time.Minute),
		})
		otherScope, _ := client.SignToken(k.Full.Priv, k.Full.KID, client.Claims{
			Usecase: usecase, Scopes: map[string]string{scopeName: "18"}, Permissions: client.AllPermissions,
			Expires: time.Now().Add(time.Minute),
		})
		for _, c := range []struct {
			name   string
			header string
			status int
			detail string
		}{
			{"missing token", "", http.StatusBadRequest, "No authorization token provided"},
			{"bare token without Bearer", token(t, k.Full.Priv, k.Full.KID), http.StatusBadRequest, "No authorization token provided"},
			{"signed by another key", "Bearer " + token(t, otherPriv, k.Full.KID), http.StatusUnauthorized, "auth error"},
			{"tampered signature", "Bearer " + string(tampered), http.StatusUnauthorized, "auth error"},
			{"unknown kid", "Bearer " + token(t, k.Full.Priv, "nobody"), http.StatusUnauthorized, "unknown key"},
			{"expired", "Bearer " + expired, http.StatusUnauthorized, "auth error"},
			{"another usecase", "Bearer " + otherUsecase, http.StatusForbidden, "operation not allowed"},
			{"another scope value", "Bearer " + otherScope, http.StatusForbidden, "operation not allowed"},
		} {
			h := http.Header{}
			if c.header != "" {
				h.Set("X-Os-Auth", c.header)
			}
			res, body := rawDo(t, http.MethodGet, obj, h, nil)
			if res.StatusCode != c.status || !strings.Contains(string(body), c.detail) {
				t.Errorf("%s: %d %q, want %d with %q", c.name, res.StatusCode, body, c.status, c.detail)
			}
			var doc struct {
				Detail string `json:"detail"`
			}
			if err := json.Unmarshal(body, &doc); err != nil || !strings.HasPrefix(doc.Detail, "auth error: ") {
				t.Errorf("%s: body %q is not a JSON auth error", c.name, body)
			}
		}
		// A rejected write stores nothing.
		h := http.Header{"X-Os-Auth": {"Bearer " + token(t, otherPriv, k.Full.KID)}}
		res, body := rawDo(t, http.MethodPut, obj, h, strings.NewReader("overwritten"))
		wantStatus(t, "PUT with a bad signature", res, body, http.StatusUnauthorized)
		if got := getBytes(ctx, t, full, "secret.txt"); string(got) != "top secret" {
			t.Errorf("after a refused PUT the object is %q", got)
		}
	})

	t.Run("ReadOnlyKey", func(t *testing.T) {
		ro := sdk(t, s, k.ReadOnly) // signs every permission; the server caps them to read
		if got := getBytes(ctx, t, ro, "secret.txt"); string(got) != "top secret" {
			t.Errorf("read-only GET = %q", got)
		}
		if _, err := ro.Head(ctx, "secret.txt"); err != nil {
			t.Errorf("read-only HEAD: %v", err)
		}
		if _, err := ro.Put(ctx, "secret.txt", bytes.NewReader([]byte("nope"))); !client.IsForbidden(err) {
			t.Errorf("read-only PUT: %v, want 403", err)
		}
		if _, err := ro.Put(ctx, "", bytes.NewReader([]byte("nope"))); !client.IsForbidden(err) {
			t.Errorf("read-only POST: %v, want 403", err)
		}
		if err := ro.Delete(ctx, "secret.txt"); !client.IsForbidden(err) {
			t.Errorf("read-only DELETE: %v, want 403", err)
		}
		h := http.Header{"X-Os-Auth": {"Bearer " + token(t, k.ReadOnly.Priv, k.ReadOnly.KID)}}
		res, body := rawDo(t, http.MethodPut, multipartURL(s, "/v1/objects:multipart/", "ro-upload", ""), h, nil)
		wantStatus(t, "read-only multipart initiate", res, body, http.StatusForbidden)
		res, body = rawDo(t, http.MethodGet, multipartURL(s, "/v1/objects:multipart:parts/", "ro-upload", "upload_id=x"), h, nil)
		wantStatus(t, "read-only list parts", res, body, http.StatusForbidden)
		rs, err := ro.Batch(ctx, []client.BatchOp{
			client.BatchGet("secret.txt"),
			client.BatchInsert("ro-batch", []byte("nope")),
			client.BatchDelete("secret.txt"),
		})
		if err != nil {
			t.Fatalf("read-only batch: %v", err)
		}
		if rs[0].Status != 200 || rs[1].Status != 403 || rs[2].Status != 403 {
			t.Errorf("read-only batch statuses %d %d %d, want 200 403 403", rs[0].Status, rs[1].Status, rs[2].Status)
		}
		if got := getBytes(ctx, t, full, "secret.txt"); string(got) != "top secret" {
			t.Errorf("after refused writes the object is %q", got)
		}
		if _, err := full.Get(ctx, "ro-batch"); !client.IsNotFound(err) {
			t.Errorf("the refused batch insert stored something: %v", err)
		}
	})

	t.Run("PresignedURLs", func(t *testing.T) {
		for name, sess := range map[string]*client.Session{"full key": full, "read-only key": sdk(t, s, k.ReadOnly)} {
			u, err := sess.PresignGet("secret.txt", 10*time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			res, body := rawDo(t, http.MethodGet, u, nil, nil)
			wantStatus(t, "presigned GET ("+name+")", res, body, http.StatusOK)
			if string(body) != "top secret" {
				t.Errorf("presigned GET (%s) = %q", name, body)
			}
			res, body = rawDo(t, http.MethodHead, u, nil, nil)
			wantStatus(t, "presigned HEAD ("+name+")", res, body, http.StatusNoContent)
		}
		u, err := full.PresignGet("secret.txt", 10*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		pu, _ := url.Parse(u)
		q := pu.Query()
		sig := []byte(q.Get("os_sig"))
		flip(sig, 10)
		badSig := u[:strings.Index(u, "os_sig=")] + "os_sig=" + string(sig)
		longer := strings.Replace(u, "os_duration=600", "os_duration=6000", 1)
		if longer == u {
			t.Fatalf("no os_duration=600 in %s", u)
		}
		otherPath := strings.Replace(u, "/secret.txt?", "/other.txt?", 1)
		for name, c := range map[string]struct {
			method, url string
			status      int
		}{
			"tampered signature": {http.MethodGet, badSig, http.StatusUnauthorized},
			"longer validity":    {http.MethodGet, longer, http.StatusUnauthorized},
			"another path":       {http.MethodGet, otherPath, http.StatusUnauthorized},
			"PUT":                {http.MethodPut, u, http.StatusForbidden},
			"DELETE":             {http.MethodDelete, u, http.StatusForbidden},
		} {
			res, body := rawDo(t, c.method, c.url, nil, strings.NewReader(""))
			if res.StatusCode != c.status {
				t.Errorf("presigned %s (%s): %d %q, want %d", c.method, name, res.StatusCode, body, c.status)
			}
		}
		if got := getBytes(ctx, t, full, "secret.txt"); string(got) != "top secret" {
			t.Errorf("after refused pre-signed writes the object is %q", got)
		}
	})

	stopTerm(t, s)
	checkClean(t, dir, nil)
}

// flip replaces the base64url character at i with another one, so the text still decodes
// but no longer to the same bytes.
func flip(b []byte, i int) {
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
}
