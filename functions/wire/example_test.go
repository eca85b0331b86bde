package wire_test

import (
	"fmt"
	"strings"

	"github.com/stratastore/strata/functions/wire"
)

func ExampleCanonicalRequest() {
	fmt.Printf("%q\n", wire.CanonicalRequest("HEAD", "/v1/objects/u/org=1/a%2Fb", "os_sig=x&B=2&a=1&&os_kid=k"))
	// Output: "GET\n/v1/objects/u/org=1/a%2Fb\na=1&b=2&os_kid=k"
}

func ExampleResponseWriter() {
	var b strings.Builder
	w := wire.NewResponseWriter(&b, "B")
	w.BeginPart(wire.ResultHeader{Index: 0, Kind: wire.KindGet, Key: "a/b", Status: 200,
		Fields: []wire.Field{{Name: "content-type", Value: "text/plain"}}})
	fmt.Fprint(w, "hello") // a get's body, streamed between BeginPart and EndPart
	w.EndPart()
	w.Close()
	fmt.Print(strings.ReplaceAll(b.String(), "\r\n", "\n")) // every line ends in CRLF
	// Output:
	// --B
	// x-sn-batch-operation-index: 0
	// x-sn-batch-operation-key: a%2Fb
	// x-sn-batch-operation-kind: get
	// x-sn-batch-operation-status: 200 OK
	// content-disposition: form-data; name=part
	// content-type: text/plain
	//
	// hello
	// --B--
}
