package logging

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"testing"
)

func TestNew_CloudLoggingFields(t *testing.T) {
	var buf bytes.Buffer
	New(&buf, nil).Warn("careful", "k", "v")
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	if m["severity"] != "WARNING" || m["message"] != "careful" || m["k"] != "v" || m["level"] != nil || m["msg"] != nil {
		t.Errorf("log line = %v", m)
	}
	// The exact bytes, time aside: Cloud Logging's names, slog's order, one line.
	buf.Reset()
	New(&buf, slog.LevelDebug).Debug("d", slog.Group("g", slog.String("level", "x")))
	want := regexp.MustCompile(`^\{"time":"[^"]+","severity":"DEBUG","message":"d","g":\{"level":"x"\}\}\n$`)
	if !want.Match(buf.Bytes()) {
		t.Errorf("log bytes = %q", buf.String())
	}
}

func TestSeverity(t *testing.T) {
	for l, want := range map[slog.Level]string{
		slog.LevelDebug - 4: "DEBUG", slog.LevelDebug: "DEBUG", slog.LevelInfo: "INFO", slog.LevelInfo + 1: "INFO",
		slog.LevelWarn: "WARNING", slog.LevelError - 1: "WARNING", slog.LevelError: "ERROR", slog.LevelError + 4: "ERROR",
	} {
		if got := severity(l); got != want {
			t.Errorf("severity(%v) = %s, want %s", l, got, want)
		}
	}
}

func TestTraceAttrs(t *testing.T) {
	tests := []struct {
		header, value, project, trace, span string
	}{
		{"X-Cloud-Trace-Context", "105445aa7843bc8bf206b12000100000/1;o=1", "", "105445aa7843bc8bf206b12000100000", "1"},
		{"X-Cloud-Trace-Context", "105445aa7843bc8bf206b12000100000", "proj", "projects/proj/traces/105445aa7843bc8bf206b12000100000", ""},
		{"Traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "", "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"},
		{"Traceparent", "garbage", "", "", ""},
		{"X-Cloud-Trace-Context", "not-hex/1", "", "", ""},
	}
	for _, tt := range tests {
		h := http.Header{}
		h.Set(tt.header, tt.value)
		got := map[string]string{}
		for _, a := range TraceAttrs(h, tt.project) {
			got[a.Key] = a.Value.String()
		}
		if got["logging.googleapis.com/trace"] != tt.trace || got["logging.googleapis.com/spanId"] != tt.span {
			t.Errorf("%s: %q -> %v", tt.header, tt.value, got)
		}
	}
}

func ExampleTraceAttrs() {
	h := http.Header{}
	h.Set("X-Cloud-Trace-Context", "105445aa7843bc8bf206b12000100000/1;o=1")
	for _, a := range TraceAttrs(h, "my-project") {
		fmt.Println(a)
	}
	// Output:
	// logging.googleapis.com/trace=projects/my-project/traces/105445aa7843bc8bf206b12000100000
	// logging.googleapis.com/spanId=1
}
