package httpapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/stratastore/strata/functions/internal/invoker"
	"github.com/stratastore/strata/functions/internal/invoker/invokertest"
	"github.com/stratastore/strata/tiered"
	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/object"
)

const (
	pushAudience  = "https://cleanup-abc123-uc.a.run.app"
	pushEmail     = "push@project.iam.gserviceaccount.com"
	schedAudience = "https://recover-abc123-uc.a.run.app"
	schedEmail    = "scheduler@project.iam.gserviceaccount.com"
)

// TestPrivateFunctions_VerifyInvokerToken: deployed, cleanup accepts only Pub/Sub's push
// token and recover only Scheduler's; a request without one, with a forged or foreign one,
// is 401 or 403 and runs nothing: the due cleanup it asks for deletes nothing until the real
// push arrives.
func TestPrivateFunctions_VerifyInvokerToken(t *testing.T) {
	g := invokertest.NewGoogle(t)
	verifier := func(aud, email string) InvokerAuth {
		v, err := invoker.NewVerifier(g.Validator(t), invoker.Expect{Audience: aud, Email: email})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	e := newEnv(t, func(o *Options) {
		o.Invokers = map[string]InvokerAuth{FnCleanup: verifier(pushAudience, pushEmail), FnRecover: verifier(schedAudience, schedEmail)}
	})
	serve := func(fn string) *httptest.Server {
		h, err := e.srv.Handler(fn)
		if err != nil {
			t.Fatal(err)
		}
		ts := httptest.NewServer(h)
		t.Cleanup(ts.Close)
		return ts
	}
	cleanupURL, recoverURL := serve(FnCleanup).URL, serve(FnRecover).URL

	// A due cleanup: an aborted change whose new revision must go.
	ctx := context.Background()
	oid := object.NewID("test", []object.Scope{{Name: "org", Value: "1"}}, "k")
	rev := object.ID{Context: oid.Context, Key: oid.Key + "/" + uuid.NewString()}
	if err := e.mlt.Put(ctx, rev, object.Metadata{}, strings.NewReader("doomed")); err != nil {
		t.Fatal(err)
	}
	cid := driver.ChangeID(uuid.NewString())
	if err := e.cl.Record(ctx, driver.LogEntry{ID: cid, Change: driver.Change{ID: oid, New: &rev},
		Phase: tiered.PhaseAborted, NotBefore: e.now, Heartbeat: e.now}); err != nil {
		t.Fatal(err)
	}
	task, _ := json.Marshal(tiered.CleanupTask{ChangeID: cid})
	envelope := `{"message":{"data":"` + base64.StdEncoding.EncodeToString(task) + `","messageId":"1"}}`
	revExists := func() bool {
		_, err := e.mlt.Head(ctx, rev)
		if err != nil && !errors.Is(err, object.ErrNotFound) {
			t.Fatal(err)
		}
		return err == nil
	}

	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	token := func(aud, email string, change func(map[string]any), key *rsa.PrivateKey) string {
		return "Bearer " + g.Token(t, invokertest.Claims(aud, email, change), key)
	}
	refused := []struct {
		name, auth string
		status     int
	}{
		{"no token", "", 401},
		{"not a bearer token", "Basic cHVzaDpwdXNo", 401},
		{"garbage", "Bearer not.a.jwt", 401},
		{"signed by another key", token(pushAudience, pushEmail, nil, other), 401},
		{"expired", token(pushAudience, pushEmail, func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() }, nil), 401},
		{"not issued by Google", token(pushAudience, pushEmail, func(c map[string]any) { c["iss"] = "https://evil.example" }, nil), 401},
		{"another function's audience", token(schedAudience, pushEmail, nil, nil), 403},
		{"another service account", token(pushAudience, "attacker@evil.iam.gserviceaccount.com", nil, nil), 403},
		{"the scheduler's token", token(schedAudience, schedEmail, nil, nil), 403},
	}
	post := func(url, auth, body string) (int, string, http.Header) {
		r, err := http.NewRequest(http.MethodPost, url+"/", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		res, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(res.Body)
		return res.StatusCode, b.String(), res.Header
	}
	for _, tc := range refused {
		status, body, h := post(cleanupURL, tc.auth, envelope)
		if status != tc.status {
			t.Errorf("cleanup, %s: %d %s, want %d", tc.name, status, body, tc.status)
		}
		if status == 401 && (h.Get("Www-Authenticate") != "Bearer" || !strings.Contains(body, `"detail":"invoker not authenticated"`)) {
			t.Errorf("cleanup, %s: 401 %q without www-authenticate: Bearer or its detail", tc.name, body)
		}
		if status == 403 && !strings.Contains(body, `"detail":"invoker not authorized"`) {
			t.Errorf("cleanup, %s: 403 body %q", tc.name, body)
		}
		if !revExists() {
			t.Fatalf("cleanup, %s: the refused request deleted the revision", tc.name)
		}
	}
	// Recover refuses the push token, and every refusal above in its own terms.
	for _, auth := range []string{"", token(pushAudience, pushEmail, nil, nil), token(schedAudience, schedEmail, nil, other)} {
		if status, body, _ := post(recoverURL, auth, ""); status != 401 && status != 403 {
			t.Errorf("recover with %.20q: %d %s, want 401 or 403", auth, status, body)
		}
	}
	if status, body, _ := post(recoverURL, token(schedAudience, schedEmail, nil, nil), ""); status != 200 {
		t.Errorf("recover with the scheduler's token: %d %s", status, body)
	}
	if status, body, _ := post(cleanupURL, token(pushAudience, pushEmail, nil, nil), envelope); status != 204 {
		t.Fatalf("cleanup with the push token: %d %s", status, body)
	}
	if revExists() {
		t.Error("the authenticated push did not run the cleanup")
	}
}

// TestPrivateFunctions_NoInvokerCheckWhenNotConfigured: without an invoker check (the
// emulator topology's STRATA_INVOKER_AUTH=none), a private function accepts its caller.
func TestPrivateFunctions_NoInvokerCheckWhenNotConfigured(t *testing.T) {
	e := newEnv(t)
	h, err := e.srv.Handler(FnRecover)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", nil))
	if rec.Code != 200 {
		t.Errorf("recover without a check: %d %s", rec.Code, rec.Body)
	}
}
