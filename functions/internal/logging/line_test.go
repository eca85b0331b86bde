package logging

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"math"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// timeField matches the time field, the one part of a line that differs between two
// loggings of the same record.
var timeField = regexp.MustCompile(`^\{"time":"[^"]+",`)

// TestStartLine_SameBytesAsSlog writes the same record through slog (LogAttrs) and through
// StartLine and compares the bytes, time aside, for awkward strings and numbers.
func TestStartLine_SameBytesAsSlog(t *testing.T) {
	strs := []string{"", "plain", `q"uote\back`, "ctl\x00\x01\x1f\x7f\n\r\t", "<html>&amp;", "bad utf8 \xff\xfe end",
		"sep \u2028 \u2029", "ünïcødé 日本 🚀", strings.Repeat("long ", 300)}
	floats := []float64{0, 0.001, 1.5, 12345.678, 1e-7, 2.5e-9, 1e21, 3e25, -0.25, math.MaxFloat64}
	for i, s := range strs {
		f := floats[i%len(floats)]
		for _, level := range []slog.Level{slog.LevelInfo, slog.LevelError} {
			var viaSlog, viaLine bytes.Buffer
			New(&viaSlog, nil).LogAttrs(context.Background(), level, s,
				slog.String("k"+s, s), slog.Int64("n", int64(i)-3), slog.Float64("f", f),
				slog.Group("g", slog.String("inner", s), slog.Int64("m", 7)), slog.String("after", "x"),
				slog.Bool("yes", true), slog.Bool("no", false))
			ln := StartLine(context.Background(), New(&viaLine, nil), level, s)
			ln.String("k"+s, s)
			ln.Int("n", int64(i)-3)
			ln.Float("f", f)
			ln.OpenGroup("g")
			ln.String("inner", s)
			ln.Int("m", 7)
			ln.CloseGroup()
			ln.String("after", "x")
			ln.Bool("yes", true)
			ln.Bool("no", false)
			if err := ln.End(); err != nil {
				t.Fatal(err)
			}
			a := timeField.ReplaceAllString(viaSlog.String(), "{")
			b := timeField.ReplaceAllString(viaLine.String(), "{")
			if a != b || a == viaSlog.String() {
				t.Errorf("string %q float %v level %v:\nslog: %s\nline: %s", s, f, level, viaSlog.String(), viaLine.String())
			}
		}
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "a\"b", "\xff", "\u2028", "\x00\x7f", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var buf bytes.Buffer
		slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key != "k" {
				return slog.Attr{}
			}
			return a
		}})).Info("", "k", s)
		want := strings.TrimSuffix(strings.TrimPrefix(buf.String(), `{"k":`), "}\n")
		if got := string(appendJSONString(nil, s)); got != want {
			t.Errorf("appendJSONString(%q) = %s, slog writes %s", s, got, want)
		}
	})
}

// TestStartLine_OnlyForPlainLoggers: a logger StartLine cannot reproduce (another handler,
// attributes or a group added) or a disabled level gets nil, so the caller uses slog.
func TestStartLine_OnlyForPlainLoggers(t *testing.T) {
	ctx := context.Background()
	plain := New(io.Discard, slog.LevelInfo)
	for name, l := range map[string]*slog.Logger{
		"foreign handler": slog.New(slog.NewJSONHandler(io.Discard, nil)),
		"With":            plain.With("a", 1),
		"WithGroup":       plain.WithGroup("g"),
	} {
		if StartLine(ctx, l, slog.LevelInfo, "m") != nil {
			t.Errorf("%s: StartLine returned a line", name)
		}
	}
	if StartLine(ctx, plain, slog.LevelDebug, "m") != nil {
		t.Error("StartLine returned a line for a disabled level")
	}
	ln := StartLine(ctx, plain, slog.LevelInfo, "m")
	if ln == nil {
		t.Fatal("StartLine returned nil for a plain logger")
	}
	_ = ln.End()
}

// syncBuffer is a bytes.Buffer safe for concurrent use that counts writes.
type syncBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestNewBuffered_InfoWaitsWarningFlushesEverythingBefore(t *testing.T) {
	out := &syncBuffer{}
	l, buf := NewBuffered(out, nil, &BufferOptions{Interval: time.Hour})
	defer buf.Close()
	l.Info("one")
	ln := StartLine(context.Background(), l, slog.LevelInfo, "two")
	_ = ln.End()
	if got := out.String(); got != "" {
		t.Fatalf("INFO lines written before any flush: %q", got)
	}
	l.Warn("three")
	got := out.String()
	if n := strings.Count(got, "\n"); n != 3 || !(strings.Index(got, `"one"`) < strings.Index(got, `"two"`) && strings.Index(got, `"two"`) < strings.Index(got, `"three"`)) {
		t.Fatalf("after a WARNING line the output is %q, want one, two, three in order", got)
	}
	// StartLine's lines at ERROR go out at once too.
	_ = StartLine(context.Background(), l, slog.LevelError, "four").End()
	if !strings.Contains(out.String(), `"four"`) {
		t.Error("an ERROR line from StartLine waited in the buffer")
	}
}

func TestBuffer_WritesOutWhenFull(t *testing.T) {
	out := &syncBuffer{}
	b := NewBuffer(out, &BufferOptions{Size: 100, Interval: time.Hour})
	defer b.Close()
	line := []byte(strings.Repeat("x", 39) + "\n")
	_, _ = b.Write(line)
	_, _ = b.Write(line)
	if out.String() != "" {
		t.Fatal("80 bytes written out before reaching Size 100")
	}
	_, _ = b.Write(line)
	if got := out.String(); got != strings.Repeat(string(line), 3) || out.writes != 1 {
		t.Errorf("after reaching Size: %d writes of %q, want one write of 3 lines", out.writes, got)
	}
}

func TestBuffer_WritesOutAfterInterval(t *testing.T) {
	out := &syncBuffer{}
	b := NewBuffer(out, &BufferOptions{Interval: 20 * time.Millisecond})
	defer b.Close()
	_, _ = b.Write([]byte("line\n"))
	deadline := time.Now().Add(5 * time.Second)
	for out.String() == "" {
		if time.Now().After(deadline) {
			t.Fatal("a buffered line was not written out by the timer")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The timer re-arms for the next line.
	_, _ = b.Write([]byte("again\n"))
	for out.String() != "line\nagain\n" {
		if time.Now().After(deadline) {
			t.Fatalf("second line not written out by the timer: %q", out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestBuffer_CloseWritesOutThenWritesThrough(t *testing.T) {
	out := &syncBuffer{}
	b := NewBuffer(out, &BufferOptions{Interval: time.Hour})
	_, _ = b.Write([]byte("a\n"))
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if out.String() != "a\n" {
		t.Fatalf("Close left %q", out.String())
	}
	_, _ = b.Write([]byte("b\n"))
	if out.String() != "a\nb\n" {
		t.Errorf("a write after Close was not written through: %q", out.String())
	}
}

// TestBuffer_ConcurrentLinesStayWhole: many goroutines logging through a small buffer lose
// no line and never interleave two (run under -race).
func TestBuffer_ConcurrentLinesStayWhole(t *testing.T) {
	out := &syncBuffer{}
	l, buf := NewBuffered(out, nil, &BufferOptions{Size: 512, Interval: time.Millisecond})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				if i%50 == 0 {
					l.Warn("w", "g", g, "i", i)
					continue
				}
				ln := StartLine(context.Background(), l, slog.LevelInfo, "r")
				ln.Int("g", int64(g))
				ln.Int("i", int64(i))
				_ = ln.End()
			}
		})
	}
	wg.Wait()
	if err := buf.Close(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 8*200 {
		t.Fatalf("%d lines, want %d", len(lines), 8*200)
	}
	whole := regexp.MustCompile(`^\{"time":"[^"]+","severity":"(INFO|WARNING)","message":"[rw]","g":\d,"i":\d+\}$`)
	for _, line := range lines {
		if !whole.MatchString(line) {
			t.Fatalf("broken line %q", line)
		}
	}
}
