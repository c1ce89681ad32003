package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	stdsync "sync"
	"sync/atomic"
	"time"
)

// editLoop makes p edit at rate per second until the deadline (or ctx),
// starting at a random phase; it returns how many edits it sent.
func editLoop(ctx context.Context, p *peer, rate float64, until time.Time, sent *atomic.Int64) error {
	period := time.Duration(float64(time.Second) / rate)
	select {
	case <-time.After(rand.N(period)):
	case <-ctx.Done():
		return nil
	}
	tk := time.NewTicker(period)
	defer tk.Stop()
	buf := make([]byte, 0, 32)
	seq := 0
	defer func() { p.sentEdits = seq }()
	for time.Now().Before(until) && ctx.Err() == nil {
		var err error
		buf, err = p.edit(seq, buf)
		if err != nil {
			return err
		}
		seq++
		sent.Add(1)
		select {
		case <-tk.C:
		case <-ctx.Done():
		case <-p.done:
			return fmt.Errorf("editor %d: connection closed: %v", p.id, p.err)
		}
	}
	return nil
}

// drainWait waits until every receiver has every marker it expects, or
// the limit; it returns how long that took and how many are missing.
func drainWait(ctx context.Context, rs []*peer, expect func(p *peer) int64, limit time.Duration) (time.Duration, int64) {
	t0 := time.Now()
	deadline := t0.Add(limit)
	for {
		var missing int64
		for _, p := range rs {
			if d := expect(p) - p.got.Load(); d > 0 {
				missing += d
			}
		}
		if missing == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			return time.Since(t0), missing
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func echoOn(o *options, t *target) bool {
	switch o.echo {
	case "on", "true", "1":
		return true
	case "off", "false", "0":
		return false
	}
	return t.env == envYWS
}

const lorem = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. "

func seedText(n int) string {
	return strings.Repeat(lorem, n/len(lorem)+1)[:n]
}

func restText(ctx context.Context, t *target, doc string) (string, error) {
	req, _ := http.NewRequestWithContext(ctx, "GET", t.restURL(doc), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("REST export: %s: %s", resp.Status, b)
	}
	return string(b), err
}

func runRoom(ctx context.Context, o *options, t *target) (*Result, error) {
	res := newResult()
	clk := clock{time.Now()}
	echo := echoOn(o, t)
	full := o.editorReplica == "full"
	res.Params["editors"] = o.editors
	res.Params["rate per editor"] = fmt.Sprintf("%g/s", o.rate)
	res.Params["duration"] = o.duration.String()
	res.Params["checkers"] = o.checkers
	res.Params["editor replica"] = o.editorReplica
	res.Params["awareness echo"] = echo
	res.Params["doc"] = o.doc

	// The first checker seeds the document and stays (the in-memory
	// servers drop a document when its last connection leaves).
	checkers := make([]*peer, max(o.checkers, 1))
	for i := range checkers {
		p := newPeer(clk, -1)
		p.markers, p.applyRemote = true, true
		if err := p.withDoc(nil); err != nil {
			return nil, err
		}
		if err := p.connect(ctx, t, o.doc, `{"user":{"name":"checker"}}`); err != nil {
			return nil, fmt.Errorf("checker: %w", err)
		}
		if err := p.waitSynced(ctx); err != nil {
			return nil, fmt.Errorf("checker: %w", err)
		}
		checkers[i] = p
		if i == 0 && o.seedChars > 0 {
			p.mu.Lock()
			_ = p.text.Insert(0, seedText(o.seedChars), nil)
			u := p.lastUpdate
			p.mu.Unlock()
			if err := p.sendAndAck(ctx, u); err != nil {
				return nil, fmt.Errorf("seeding: %w", err)
			}
		}
	}
	defer closeAll(checkers)
	tc := time.Now()
	editors, err := dialAll(ctx, o.editors, o.parallel, func(i int) (*peer, error) {
		p := newPeer(clk, i)
		p.markers, p.applyRemote, p.echo = true, full, echo
		if err := p.withDoc(nil); err != nil {
			return p, err
		}
		return p, p.connect(ctx, t, o.doc, fmt.Sprintf(`{"user":{"name":"e%d"}}`, i))
	})
	defer closeAll(editors)
	res.Metrics["connect all editors (s)"] = time.Since(tc).Seconds()
	if err != nil {
		return res, fmt.Errorf("connecting editors: %w", err)
	}

	m := startMeter(o.pid)
	until := time.Now().Add(o.duration)
	var sent atomic.Int64
	var wg stdsync.WaitGroup
	errs := make(chan error, len(editors))
	for _, p := range editors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := editLoop(ctx, p, o.rate, until, &sent); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	res.Usage = m.end()
	phase := res.Usage.Seconds
	close(errs)
	for e := range errs {
		res.Errors = append(res.Errors, e.Error())
		if len(res.Errors) > 5 {
			break
		}
	}

	receivers := append(append([]*peer{}, editors...), checkers...)
	total := sent.Load()
	expect := func(p *peer) int64 {
		if p.id >= 0 {
			return total - int64(p.sentEdits)
		}
		return total
	}
	drained, missing := drainWait(ctx, receivers, expect, o.drain)
	var h hist
	var delivered, awIn, awEcho int64
	for _, p := range receivers {
		h.merge(&p.hist)
		delivered += p.got.Load()
		awIn += p.awIn.Load()
		awEcho += p.awEchoed.Load()
	}
	lat := h.summary()
	res.Latency = &lat
	res.Metrics["edits sent"] = total
	res.Metrics["edits sent/s"] = float64(total) / phase
	res.Metrics["edits nominal/s"] = float64(o.editors) * o.rate
	res.Metrics["deliveries"] = delivered
	res.Metrics["deliveries/s (during edit phase + drain)"] = float64(delivered) / (phase + drained.Seconds())
	res.Metrics["deliveries missing"] = missing
	res.Metrics["drain after edits stopped (s)"] = drained.Seconds()
	res.Metrics["awareness msgs received"] = awIn
	res.Metrics["awareness echoes sent"] = awEcho
	var closed int
	for _, p := range receivers {
		select {
		case <-p.done:
			closed++
		default:
		}
	}
	res.Metrics["connections lost"] = closed

	conv := missing == 0 && closed == 0
	texts := map[string]int{}
	for _, p := range checkers {
		texts[p.textString()]++
		if p.applyErrs.Load() > 0 {
			conv = false
		}
	}
	if full {
		for _, p := range editors {
			texts[p.textString()]++
		}
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	fresh, err := freshText(cctx, clk, t, o.doc)
	if err != nil {
		res.Errors = append(res.Errors, "fresh joiner: "+err.Error())
		conv = false
	} else {
		texts[fresh]++
	}
	if o.rest {
		rt, err := restText(cctx, t, o.doc)
		if err != nil {
			res.Errors = append(res.Errors, err.Error())
			conv = false
		} else {
			texts[rt]++
		}
	}
	if len(texts) != 1 {
		conv = false
	}
	res.Metrics["distinct final texts"] = len(texts)
	res.Metrics["final text length"] = len(fresh)
	res.Converged = &conv
	return res, nil
}
