package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	stdsync "sync"
	"sync/atomic"
	"time"

	"github.com/quirehq/quire/crdt"
	"github.com/quirehq/quire/crdt/lib0"
)

// docs: M documents, two editors each, both full replicas.
func runDocs(ctx context.Context, o *options, t *target) (*Result, error) {
	res := newResult()
	clk := clock{time.Now()}
	res.Params["docs"] = o.docs
	res.Params["editors per doc"] = 2
	res.Params["rate per editor"] = fmt.Sprintf("%g/s", o.rate)
	res.Params["duration"] = o.duration.String()
	name := func(i int) string { return fmt.Sprintf("%s-%d", o.doc, i) }
	m0 := startMeter(o.pid)
	tc := time.Now()
	peers, err := dialAll(ctx, 2*o.docs, o.parallel, func(i int) (*peer, error) {
		p := newPeer(clk, i)
		p.markers, p.applyRemote = true, true
		doc := i / 2
		p.from = func(e int) bool { return e/2 == doc }
		p.seenBase = 2 * doc
		if err := p.withDoc(nil); err != nil {
			return p, err
		}
		return p, p.connect(ctx, t, name(doc), fmt.Sprintf(`{"user":{"name":"e%d"}}`, i))
	})
	defer closeAll(peers)
	connectUsage := m0.end()
	res.Metrics["connect all (s)"] = time.Since(tc).Seconds()
	if err != nil {
		return res, fmt.Errorf("connecting: %w", err)
	}
	m := startMeter(o.pid)
	until := time.Now().Add(o.duration)
	var sent atomic.Int64
	var wg stdsync.WaitGroup
	var errCount atomic.Int64
	var firstErr atomic.Value
	for _, p := range peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := editLoop(ctx, p, o.rate, until, &sent); err != nil {
				if errCount.Add(1) == 1 {
					firstErr.Store(err.Error())
				}
			}
		}()
	}
	wg.Wait()
	res.Usage = m.end()
	if n := errCount.Load(); n > 0 {
		res.Errors = append(res.Errors, fmt.Sprintf("%d editors failed, first: %v", n, firstErr.Load()))
	}
	// Each editor expects its partner's edits.
	expect := func(p *peer) int64 { return int64(peers[p.id^1].sentEdits) }
	drained, missing := drainWait(ctx, peers, expect, o.drain)
	var h hist
	var delivered int64
	for _, p := range peers {
		h.merge(&p.hist)
		delivered += p.got.Load()
	}
	lat := h.summary()
	res.Latency = &lat
	total := sent.Load()
	res.Metrics["edits sent"] = total
	res.Metrics["edits sent/s"] = float64(total) / res.Usage.Seconds
	res.Metrics["deliveries missing"] = missing
	res.Metrics["drain after edits stopped (s)"] = drained.Seconds()
	res.Metrics["server RSS peak while connecting"] = mb(connectUsage.ServerRSSPeak)

	// Convergence: both replicas of every document agree, and a fresh
	// joiner of a sample of documents (all with --verify-docs 0) sees the
	// same text.
	bad := 0
	for i := 0; i < o.docs; i++ {
		if peers[2*i].textString() != peers[2*i+1].textString() || peers[2*i].applyErrs.Load()+peers[2*i+1].applyErrs.Load() > 0 {
			bad++
		}
	}
	verify := o.verifyDocs
	if verify <= 0 || verify > o.docs {
		verify = o.docs
	}
	cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	idx := rand.Perm(o.docs)[:verify]
	sort.Ints(idx)
	freshBad := 0
	for _, i := range idx {
		ft, err := freshText(cctx, clk, t, name(i))
		if err != nil || ft != peers[2*i].textString() {
			freshBad++
		}
		if o.rest {
			if rt, err := restText(cctx, t, name(i)); err != nil || rt != peers[2*i].textString() {
				freshBad++
			}
		}
	}
	res.Metrics["docs whose replicas differ"] = bad
	res.Metrics["docs checked by a fresh joiner"] = verify
	res.Metrics["fresh joiners that differ"] = freshBad
	conv := missing == 0 && bad == 0 && freshBad == 0
	res.Converged = &conv
	return res, nil
}

// idle: C connections over D documents, synced and held.
func runIdle(ctx context.Context, o *options, t *target) (*Result, error) {
	res := newResult()
	clk := clock{time.Now()}
	res.Params["connections"] = o.conns
	res.Params["documents"] = o.idleDocs
	res.Params["hold"] = o.hold.String()
	res.Params["awareness renewal"] = o.renew.String()
	name := func(i int) string { return fmt.Sprintf("%s-%d", o.doc, i%o.idleDocs) }
	var rss0 int64
	if o.pid > 0 {
		rss0, _, _ = procMem(o.pid)
	}
	m0 := startMeter(o.pid)
	// The first connection of each document holds a replica and seeds it
	// with some text; the others are light.
	peers, err := dialAll(ctx, o.conns, o.parallel, func(i int) (*peer, error) {
		p := newPeer(clk, -1)
		if i < o.idleDocs {
			if err := p.withDoc(nil); err != nil {
				return p, err
			}
		}
		err := p.connect(ctx, t, name(i), fmt.Sprintf(`{"user":{"name":"u%d"}}`, i))
		if err == nil && i < o.idleDocs {
			if err = p.waitSynced(ctx); err == nil {
				p.mu.Lock()
				_ = p.text.Insert(0, seedText(1000), nil)
				u := p.lastUpdate
				p.mu.Unlock()
				err = p.sendAndAck(ctx, u)
			}
		}
		return p, err
	})
	defer closeAll(peers)
	cu := m0.end()
	res.Metrics["connect all (s)"] = cu.Seconds
	res.Metrics["connections/s while connecting"] = float64(o.conns) / cu.Seconds
	res.Metrics["server CPU while connecting (s)"] = cu.ServerCPU
	if err != nil {
		return res, fmt.Errorf("connecting: %w", err)
	}
	// Hold: renew each connection's awareness every o.renew, spread evenly.
	m := startMeter(o.pid)
	holdCtx, cancel := context.WithTimeout(ctx, o.hold)
	defer cancel()
	if o.renew > 0 {
		go func() {
			step := o.renew / time.Duration(len(peers))
			tk := time.NewTicker(max(step, time.Millisecond))
			defer tk.Stop()
			batch := max(1, int(time.Millisecond/max(step, 1)))
			for i := 0; holdCtx.Err() == nil; {
				select {
				case <-tk.C:
				case <-holdCtx.Done():
					return
				}
				for k := 0; k < batch; k++ {
					p := peers[i%len(peers)]
					i++
					p.mu.Lock()
					msg := p.awarenessMsg(fmt.Sprintf(`{"user":{"name":"u%d"}}`, i%len(peers)))
					p.mu.Unlock()
					_ = p.c.send(msg)
				}
			}
		}()
	}
	<-holdCtx.Done()
	res.Usage = m.end()
	lost := 0
	for _, p := range peers {
		select {
		case <-p.done:
			lost++
		default:
		}
	}
	res.Metrics["connections lost"] = lost
	if o.pid > 0 {
		perConn := float64(res.Usage.ServerRSS1-rss0) / float64(o.conns)
		res.Metrics["server RSS before connecting"] = mb(rss0)
		res.Metrics["server RSS per connection (KB)"] = perConn / 1e3
		res.Metrics["server CPU per connection (µs/s)"] = res.Usage.ServerCPU / res.Usage.Seconds / float64(o.conns) * 1e6
	}
	conv := lost == 0
	res.Converged = &conv
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	return res, nil
}

// catchup: a replica of the automerge-paper document goes offline, makes K
// edits, and reconnects; timed until another connected replica has them.
func runCatchup(ctx context.Context, o *options, t *target) (*Result, error) {
	res := newResult()
	clk := clock{time.Now()}
	tp, err := findTrace(o.trace, "automerge-paper")
	if err != nil {
		return nil, err
	}
	state, err := traceDoc(tp, o.cache, 0)
	if err != nil {
		return nil, err
	}
	if o.prepare {
		if _, err := offlineState(o, state, tp); err != nil {
			return nil, err
		}
		fmt.Printf("document ready: %d bytes, and a replica with %d offline edits\n", len(state), o.offline)
		return nil, nil
	}
	res.Params["document"] = fmt.Sprintf("automerge-paper final state, %d bytes", len(state))
	res.Params["offline edits"] = o.offline
	res.Params["doc"] = o.doc

	// The observer loads the document into the server and stays.
	obs := newPeer(clk, -1)
	if err := obs.withDoc(nil); err != nil {
		return nil, err
	}
	if err := obs.connect(ctx, t, o.doc, `{"user":{"name":"observer"}}`); err != nil {
		return nil, err
	}
	defer obs.close()
	if err := obs.waitSynced(ctx); err != nil {
		return nil, err
	}
	obs.mu.Lock()
	err = obs.doc.ApplyUpdate(state)
	obs.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if err := obs.sendAndAck(ctx, state); err != nil {
		return nil, fmt.Errorf("loading the document: %w", err)
	}

	// The offline client: synced earlier, now K edits behind the server.
	// Its replica (the document plus its edits, made as client
	// offlineClient) is built once per K and cached.
	offline, err := offlineState(o, state, tp)
	if err != nil {
		return nil, err
	}
	cl := newPeer(clk, -1)
	if err := cl.withDoc(offline); err != nil {
		return nil, err
	}
	var got atomic.Int64
	var gotAt atomic.Int64
	var big []byte
	obs.applyRemote = false
	clID := uint64(offlineClient)
	obs.onUpdate = func(p *peer, payload []byte) {
		if got.Load() == 0 && firstClient(payload) == clID {
			gotAt.Store(clk.micros())
			big = append([]byte(nil), payload...)
			got.Store(1)
		}
	}
	m := startMeter(o.pid)
	t0 := clk.micros()
	if err := cl.connect(ctx, t, o.doc, `{"user":{"name":"offline"}}`); err != nil {
		return res, err
	}
	defer cl.close()
	if err := cl.waitSynced(ctx); err != nil {
		return res, err
	}
	synced := cl.syncedAt
	for got.Load() == 0 && ctx.Err() == nil {
		select {
		case <-obs.done:
			return res, fmt.Errorf("observer lost: %v", obs.err)
		case <-cl.done:
			return res, fmt.Errorf("client lost: %v", cl.err)
		case <-time.After(time.Millisecond):
		}
	}
	res.Usage = m.end()
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	conv := time.Duration(gotAt.Load()-t0) * time.Microsecond
	res.Metrics["time to converge (s)"] = conv.Seconds()
	res.Metrics["client synced (its step 2 received) after (s)"] = synced.Sub(clk.t0.Add(time.Duration(t0) * time.Microsecond)).Seconds()
	res.Metrics["update broadcast to the observer (bytes)"] = len(big)

	// Untimed checks: the observer's replica with that update, a fresh
	// joiner (and quire's REST export) all equal the client's text.
	obs.mu.Lock()
	aerr := obs.doc.ApplyUpdate(big)
	obsText := obs.text.String()
	obs.mu.Unlock()
	want := cl.textString()
	ok := aerr == nil && obsText == want
	cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	ft, err := freshText(cctx, clk, t, o.doc)
	ok = ok && err == nil && ft == want
	if o.rest {
		rt, err := restText(cctx, t, o.doc)
		ok = ok && err == nil && rt == want
	}
	res.Converged = &ok
	return res, nil
}

// join-storm: C clients open the same large document at once.
func runJoinStorm(ctx context.Context, o *options, t *target) (*Result, error) {
	res := newResult()
	clk := clock{time.Now()}
	tp, err := findTrace(o.trace, "automerge-paper")
	if err != nil {
		return nil, err
	}
	state, err := traceDoc(tp, o.cache, o.docBytes)
	if err != nil {
		return nil, err
	}
	if o.prepare {
		fmt.Printf("document ready: %d bytes\n", len(state))
		return nil, nil
	}
	res.Params["document"] = fmt.Sprintf("%d bytes (copies of automerge-paper)", len(state))
	res.Params["clients"] = o.clients
	res.Params["doc"] = o.doc

	holder := newPeer(clk, -1)
	if err := holder.connect(ctx, t, o.doc, `{"user":{"name":"holder"}}`); err != nil {
		return nil, err
	}
	defer holder.close()
	if err := holder.waitSynced(ctx); err != nil {
		return nil, err
	}
	if err := holder.sendAndAck(ctx, state); err != nil {
		return nil, fmt.Errorf("loading the document: %w", err)
	}
	ref := crdt.NewDoc(crdt.Options{})
	if err := ref.ApplyUpdate(state); err != nil {
		return nil, err
	}
	want := ref.Text("t").String()

	m := startMeter(o.pid)
	start := make(chan struct{})
	peers := make([]*peer, o.clients)
	times := make([]time.Duration, o.clients)
	var wg stdsync.WaitGroup
	var failed atomic.Int64
	var firstErr atomic.Value
	for i := range peers {
		p := newPeer(clk, -1)
		if i < o.verify {
			_ = p.withDoc(nil)
		}
		peers[i] = p
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			t0 := time.Now()
			err := p.connect(ctx, t, o.doc, fmt.Sprintf(`{"user":{"name":"s%d"}}`, i))
			if err == nil {
				err = p.waitSynced(ctx)
			}
			if err != nil {
				if failed.Add(1) == 1 {
					firstErr.Store(err.Error())
				}
				return
			}
			times[i] = p.syncedAt.Sub(t0)
		}()
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	all := time.Since(t0)
	res.Usage = m.end()
	defer closeAll(peers)
	var ok []time.Duration
	for i, d := range times {
		if d > 0 {
			ok = append(ok, d)
			_ = i
		}
	}
	l := histOfDurations(ok).summary()
	res.Latency = &l
	res.Metrics["time until all synced (s)"] = all.Seconds()
	res.Metrics["clients failed"] = failed.Load()
	if n := failed.Load(); n > 0 {
		res.Errors = append(res.Errors, fmt.Sprintf("%d clients failed, first: %v", n, firstErr.Load()))
	}
	conv := failed.Load() == 0
	for i := 0; i < o.verify && i < len(peers); i++ {
		if peers[i].doc == nil || peers[i].applyErrs.Load() > 0 || peers[i].textString() != want {
			conv = false
		}
	}
	res.Converged = &conv
	return res, nil
}

// offlineClient is the client id of the catchup scenario's offline edits.
const offlineClient = 1<<31 + 7

// offlineState returns the state of a replica of state that made
// o.offline edits offline (1-3 letters each at random positions), cached.
func offlineState(o *options, state []byte, tracePath string) ([]byte, error) {
	cache := filepath.Join(o.cache, fmt.Sprintf("%s-offline%d.yjs", filepath.Base(tracePath), o.offline))
	if b, err := os.ReadFile(cache); err == nil && len(b) > 0 {
		return b, nil
	}
	d := crdt.NewDoc(crdt.Options{ClientID: offlineClient})
	if err := d.ApplyUpdate(state); err != nil {
		return nil, err
	}
	text := d.Text("t")
	for i := 0; i < o.offline; i++ {
		n := text.Len()
		s := "abcdefghijklmnopqrstuvwxyz"[rand.IntN(26):]
		s = s[:1+rand.IntN(min(3, len(s)))]
		if err := text.Insert(rand.IntN(n+1), s, nil); err != nil {
			return nil, err
		}
	}
	b, err := d.EncodeStateAsUpdate(nil)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.cache, 0o755); err == nil {
		if os.WriteFile(cache+".tmp", b, 0o644) == nil {
			_ = os.Rename(cache+".tmp", cache)
		}
	}
	return b, nil
}

// firstClient returns the client id of an update's first block (writers
// sort clients descending), or 0.
func firstClient(update []byte) uint64 {
	d := lib0.NewDecoder(update)
	if d.ReadVarUint() == 0 {
		return 0
	}
	d.ReadVarUint() // structs
	c := d.ReadVarUint()
	if d.Err() != nil {
		return 0
	}
	return c
}
