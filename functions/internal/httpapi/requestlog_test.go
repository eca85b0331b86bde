package httpapi

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"github.com/stratastore/strata/functions/internal/logging"
	"github.com/stratastore/strata/tiered/backendtest"
)

// slogOnly hides a handler of package logging behind another type, so that the server
// cannot take logging.StartLine's path and logs the request line through slog attributes.
type slogOnly struct{ slog.Handler }

// TestRequestLog_FastLineMatchesSlog sends the same requests to a server whose logger takes
// logging.StartLine's path and to one whose logger goes through slog, and compares their
// request lines field by field: only the time, the latencies and the client's port may
// differ.
func TestRequestLog_FastLineMatchesSlog(t *testing.T) {
	var fast, slow bytes.Buffer
	envs := []*env{
		newEnv(t, func(o *Options) { o.Logger = logging.New(&fast, nil) }),
		newEnv(t, func(o *Options) { o.Logger = slog.New(slogOnly{logging.New(&slow, nil).Handler()}) }),
	}
	for _, e := range envs {
		e.do(req{method: "PUT", path: "/v1/objects/test/org=1/k%2Fé", body: strings.NewReader("abc"),
			header: hdrs("X-Cloud-Trace-Context", "0123456789abcdef0123456789abcdef/123;o=1", "User-Agent", `agent "quoted" \ <tag>`)})
		e.do(req{method: "GET", path: "/v1/objects/test/org=1/k%2Fé",
			header: hdrs("Traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")})
		e.do(req{method: "GET", path: "/v1/objects/test/org=1/missing"})
		e.hv.Reset() // FailOn counts calls from here
		e.hv.Add(backendtest.FailOn(backendtest.OpGetTiered, 1))
		e.do(req{method: "GET", path: "/v1/objects/test/org=1/k%2Fé"}) // a 500 with an error
		e.do(req{method: "DELETE", path: "/v1/objects/test/org=1/k", noAuth: true})
		e.do(req{method: "PATCH", path: "/nowhere"})
	}
	got := [2][]map[string]any{requestLines(t, fast.String()), requestLines(t, slow.String())}
	if len(got[0]) != 6 || len(got[1]) != 6 {
		t.Fatalf("request lines: fast %d, slog %d, want 6 each:\n%s\n%s", len(got[0]), len(got[1]), fast.String(), slow.String())
	}
	sawError := false
	for i := range got[0] {
		a, b := got[0][i], got[1][i]
		for _, m := range []map[string]any{a, b} {
			for _, k := range []string{"time", "latency_ms"} {
				if _, ok := m[k]; !ok {
					t.Errorf("line %d lacks %s: %v", i, k, m)
				}
				delete(m, k)
			}
			hr, _ := m["httpRequest"].(map[string]any)
			for _, k := range []string{"latency", "remoteIp"} {
				if _, ok := hr[k].(string); !ok {
					t.Errorf("line %d lacks httpRequest.%s: %v", i, k, m)
				}
				delete(hr, k)
			}
		}
		if _, ok := a["error"]; ok {
			sawError = true
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("request %d:\nfast line: %v\nslog line: %v", i, a, b)
		}
	}
	if !sawError || !strings.Contains(fast.String(), `"severity":"ERROR"`) || !strings.Contains(fast.String(), "logging.googleapis.com/spanId") {
		t.Errorf("the requests did not cover an error line and trace fields:\n%s", fast.String())
	}
}

// requestLines decodes the "request" lines of a log.
func requestLines(t *testing.T, log string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	dec := json.NewDecoder(strings.NewReader(log))
	for dec.More() {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("%v in:\n%s", err, log)
		}
		if m["message"] == "request" {
			lines = append(lines, m)
		}
	}
	return lines
}
