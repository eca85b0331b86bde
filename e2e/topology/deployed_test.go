package topology

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/stratastore/strata/functions/client"
)

// TestDeployed runs deployedSuite against a deployed load balancer. It needs STRATA_E2E_URL
// (the load balancer's URL), STRATA_E2E_KEY_FILE (an Ed25519 private key PEM the deployment
// trusts) and STRATA_E2E_KID (its key id).
func TestDeployed(t *testing.T) {
	base, keyFile, id := os.Getenv("STRATA_E2E_URL"), os.Getenv("STRATA_E2E_KEY_FILE"), os.Getenv("STRATA_E2E_KID")
	if base == "" || keyFile == "" || id == "" {
		t.Skip("set STRATA_E2E_URL, STRATA_E2E_KEY_FILE and STRATA_E2E_KID to run against a deployment")
	}
	pemBytes, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatalf("STRATA_E2E_KEY_FILE: %v", err)
	}
	priv, err := client.ParsePrivateKeyPEM(pemBytes)
	if err != nil {
		t.Fatalf("STRATA_E2E_KEY_FILE: %v", err)
	}
	deployedSuite(t, base, priv, id)
}

// TestDeployedSuite_LocalFrontDoor runs the deployed suite against the local front door, so
// that its code runs on every CI run.
func TestDeployedSuite_LocalFrontDoor(t *testing.T) {
	deployedSuite(t, topo.front.URL, topo.priv, kid)
}

// deployedSuite is the smoke suite of a deployment: small and large put/get/delete, a
// multipart upload, a pre-signed GET and an unauthenticated request refused. It uses only
// the URL and a key, nothing of the local topology.
func deployedSuite(t *testing.T, base string, priv ed25519.PrivateKey, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	newClient := func(opts ...client.Option) *client.Client {
		c, err := client.New(base, append([]client.Option{client.WithSigningKey(priv, id)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	sc := "deployed-" + time.Now().UTC().Format("20060102t150405") + "-" + scope(t)
	// Uncompressed, so that the raw pre-signed GET returns the payload itself.
	s := newClient(client.WithCompression(false)).Usecase(usecase).Scope("run", sc)
	mp := newClient(client.WithMultipart(8<<20, 5<<20, 2)).Usecase(usecase).Scope("run", sc)
	for _, c := range []struct {
		name string
		s    *client.Session
		n    int
	}{{"small", s, 10 << 10}, {"large", s, 3 << 20}, {"multipart", mp, 12<<20 + 1}} {
		data := payload(c.n)
		key := "smoke/" + c.name
		if _, err := c.s.Put(ctx, key, bytes.NewReader(data)); err != nil {
			t.Fatalf("%s: put: %v", c.name, err)
		}
		got, err := getAll(ctx, c.s, key)
		if err != nil {
			t.Fatalf("%s: get: %v", c.name, err)
		}
		mustEqual(t, c.name, got, data)
		if c.name == "large" {
			u, err := s.PresignGet(key, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			res, err := http.Get(u)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			_, _ = buf.ReadFrom(res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				t.Errorf("pre-signed GET: %d", res.StatusCode)
			}
			mustEqual(t, "pre-signed GET", buf.Bytes(), data)
			// Unauthenticated: refused.
			u2, _ := s.ObjectURL(key)
			res, err = http.Get(u2)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != 400 && res.StatusCode != 401 && res.StatusCode != 403 {
				t.Errorf("unauthenticated GET: %d, want a refusal", res.StatusCode)
			}
		}
		if err := c.s.Delete(ctx, key); err != nil {
			t.Fatalf("%s: delete: %v", c.name, err)
		}
		if _, err := c.s.Head(ctx, key); !client.IsNotFound(err) {
			t.Errorf("%s: after delete: %v, want 404", c.name, err)
		}
	}
}
