package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// progressMin is the smallest known transfer that gets a progress bar.
const progressMin = 1 << 20

// progressEvery limits how often the bar is redrawn.
const progressEvery = 100 * time.Millisecond

// progress draws a one-line progress bar on a terminal. A nil *progress draws nothing, so
// callers need no checks.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	label string
	total int64 // -1 when unknown
	done  int64
	last  time.Time
	drawn bool
}

// newProgress returns a bar for a transfer of total bytes (-1 if unknown), or nil when w is
// not a terminal or the transfer is small.
func newProgress(w io.Writer, label string, total int64) *progress {
	if !isTerminal(w) || total >= 0 && total < progressMin {
		return nil
	}
	return &progress{w: w, label: label, total: total}
}

// isTerminal reports whether w is a character device, such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// update records that done bytes have been transferred.
func (p *progress) update(done int64) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done = done
	if now := time.Now(); now.Sub(p.last) >= progressEvery {
		p.last = now
		p.draw()
	}
}

// Write counts bytes written through the bar (for io.TeeReader).
func (p *progress) Write(b []byte) (int, error) {
	p.mu.Lock()
	done := p.done + int64(len(b))
	p.mu.Unlock()
	p.update(done)
	return len(b), nil
}

// finish draws the final state and ends the line.
func (p *progress) finish(ok bool) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if ok || p.drawn {
		p.draw()
		fmt.Fprintln(p.w)
	}
}

// draw renders the bar; the caller holds mu.
func (p *progress) draw() {
	p.drawn = true
	line := renderProgress(p.label, p.done, p.total)
	fmt.Fprintf(p.w, "\r%s\x1b[K", line)
}

// renderProgress formats one state of the bar, e.g.
// "put big.bin [=========>          ]  45%  18.0 MiB / 40.0 MiB".
func renderProgress(label string, done, total int64) string {
	if total <= 0 {
		return fmt.Sprintf("%s %s", label, formatBytes(done))
	}
	const width = 30
	frac := min(float64(done)/float64(total), 1)
	fill := int(frac * width)
	bar := strings.Repeat("=", fill)
	if fill < width {
		bar += ">" + strings.Repeat(" ", width-fill-1)
	}
	return fmt.Sprintf("%s [%s] %3d%%  %s / %s", label, bar, int(frac*100), formatBytes(done), formatBytes(total))
}

// formatBytes renders a byte count with a binary unit.
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}
