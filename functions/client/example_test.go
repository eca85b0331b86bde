package client_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"strings"
	"time"

	"github.com/stratastore/strata/functions/client"
	"github.com/stratastore/strata/functions/internal/testserver"
)

// exampleServer starts an in-process Strata standing in for a real deployment.
func exampleServer() *testserver.Server {
	srv, err := testserver.Start(testserver.Options{})
	if err != nil {
		log.Fatal(err)
	}
	return srv
}

func ExampleSession_Put() {
	srv := exampleServer()
	defer srv.Close()
	ctx := context.Background()

	// Sign a fresh token per request with the key the server knows as "test-kid".
	c, err := client.New(srv.URL, client.WithSigningKey(srv.Key, "test-kid"))
	if err != nil {
		log.Fatal(err)
	}
	s := c.Usecase("attachments").Scope("org", "17").Scope("project", "42")

	key, err := s.Put(ctx, "reports/2026/summary.txt", strings.NewReader("all good"),
		client.ContentType("text/plain"),
		client.Expires(client.TTL(30*24*time.Hour)),
	)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("stored", key)

	// An empty key lets the server choose one.
	generated, err := s.Put(ctx, "", strings.NewReader("anonymous"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("generated key length", len(generated))
	// Output:
	// stored reports/2026/summary.txt
	// generated key length 36
}

func ExampleSession_Get() {
	srv := exampleServer()
	defer srv.Close()
	ctx := context.Background()

	c, err := client.New(srv.URL, client.WithSigningKey(srv.Key, "test-kid"))
	if err != nil {
		log.Fatal(err)
	}
	s := c.Usecase("attachments").Scope("org", "17")
	if _, err := s.Put(ctx, "greeting", strings.NewReader("hello, world"), client.ContentType("text/plain")); err != nil {
		log.Fatal(err)
	}

	// The body arrives zstd-compressed and is decompressed while it is read.
	obj, err := s.Get(ctx, "greeting")
	if err != nil {
		log.Fatal(err)
	}
	defer obj.Body.Close()
	body, err := io.ReadAll(obj.Body)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(obj.Metadata.ContentType, string(body))

	// A range reads part of the stored bytes.
	raw, err := c.Usecase("attachments").Scope("org", "17").Put(ctx, "plain", strings.NewReader("0123456789"), client.Compress(false))
	if err != nil {
		log.Fatal(err)
	}
	part, err := s.Get(ctx, raw, client.Range(2, 5))
	if err != nil {
		log.Fatal(err)
	}
	defer part.Body.Close()
	b, _ := io.ReadAll(part.Body)
	fmt.Println(string(b), part.Range)

	if _, err := s.Get(ctx, "missing"); client.IsNotFound(err) {
		fmt.Println("missing: not found")
	}
	// Output:
	// text/plain hello, world
	// 2345 bytes 2-5/10
	// missing: not found
}
