package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-isatty"

	"github.com/cairn-dev/cairn/client"
)

// progress shows layers moving: on a terminal a bar per layer, redrawn in
// place; otherwise one plain line per layer when it is done.
type progress struct {
	w        io.Writer
	terminal bool
	mu       sync.Mutex
	order    []string
	layers   map[string]*client.ProgressEvent
	drawn    int // lines drawn last time, to move back over them
	last     time.Time
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w, layers: map[string]*client.ProgressEvent{}}
	if f, ok := w.(*os.File); ok {
		p.terminal = isatty.IsTerminal(f.Fd()) && os.Getenv("TERM") != "dumb"
	}
	return p
}

// event is the client's progress callback.
func (p *progress) event(ev client.ProgressEvent) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.layers[ev.Title]; !ok {
		p.order = append(p.order, ev.Title)
	}
	e := ev
	p.layers[ev.Title] = &e
	if !p.terminal {
		if ev.State == "done" {
			fmt.Fprintf(p.w, "%-10s %s %s %s\n", ev.Status, shortDigest(ev.Digest.String()), humanSize(ev.Total), ev.Title)
		}
		return
	}
	if ev.State == "progress" && time.Since(p.last) < 150*time.Millisecond {
		return
	}
	p.draw()
}

// finish draws the final state once more.
func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.terminal && len(p.order) > 0 {
		p.draw()
	}
}

func (p *progress) draw() {
	p.last = time.Now()
	var b strings.Builder
	if p.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", p.drawn)
	}
	for _, title := range p.order {
		ev := p.layers[title]
		state := ev.Status
		if state == "" {
			state = ev.State
		}
		fmt.Fprintf(&b, "\x1b[2K%s %s %9s / %-9s %-10s %s\n", bar(ev.Done, ev.Total, 24), percent(ev.Done, ev.Total), humanSize(ev.Done), humanSize(ev.Total), state, cell(title, 60))
	}
	p.drawn = len(p.order)
	io.WriteString(p.w, b.String())
}

func bar(done, total int64, width int) string {
	filled := width
	if total > 0 {
		filled = int(float64(width) * float64(min(done, total)) / float64(total))
	}
	return "[" + strings.Repeat("=", filled) + strings.Repeat(" ", width-filled) + "]"
}

func percent(done, total int64) string {
	if total <= 0 {
		return "100%"
	}
	return fmt.Sprintf("%3d%%", min(done, total)*100/total)
}
