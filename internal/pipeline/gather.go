package pipeline

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/rippledb/ripple/dataflow"
	"github.com/rippledb/ripple/internal/row"
	"github.com/rippledb/ripple/internal/state"
)

// gatherer collects the views' changes of graph steps that count as one
// (a large transaction's parts, the initial load's or a resume's chunks).
// A view's changes are consolidated whenever they doubled since the last
// time: later steps cancel earlier ones (an aggregate's row changing step
// after step), so the gathered changes stay near the size of their sum.
//
// A gatherer given a spill store (spillTo) moves what it holds there once
// that takes more than its budget, and adds to it there from then on:
// each change is a blind addition to its row's multiplicity under the
// view (state.Spill.Add), so the store consolidates them, and reading a
// view back yields its rows in key order with their summed weights.
type gatherer struct {
	out    map[string]dataflow.Batch
	sizeAt map[string]int   // a view's gathered length after its last consolidation
	size   map[string]int64 // estimated memory of a view's gathered changes
	total  int64            // the sum of size

	spill  *state.Spill    // nil: everything stays in memory
	budget func() int64    // the memory the changes may take, asked at each add
	disk   map[string]bool // views with changes in spill
	moved  int64           // changes written to spill
	failed map[string]bool // views left out of the result (finish)
	key    []byte
}

// gatherID is the spill store id (the first 4 bytes of a key) under which
// gatherers keep their changes; the graph's arrangements number theirs
// from 0. One spilling gatherer is open at a time: the initial load's or,
// on a resume instead, restore's.
// Not all 0xff, so that its keys have an upper bound (DeletePrefix).
var gatherID = [4]byte{0xff, 0xff, 0xff, 0xfe}

func newGatherer() *gatherer {
	return &gatherer{out: map[string]dataflow.Batch{}, sizeAt: map[string]int{}, size: map[string]int64{},
		disk: map[string]bool{}, failed: map[string]bool{}}
}

// spillTo lets g move its changes to sp once they take more than budget()
// bytes. sp nil leaves them in memory.
func (g *gatherer) spillTo(sp *state.Spill, budget func() int64) *gatherer {
	g.spill, g.budget = sp, budget
	return g
}

func batchSize(b dataflow.Batch) int64 {
	var n int64
	for _, u := range b {
		n += int64(u.Row.Size()) + 8
	}
	return n
}

// add gathers out. Only a gatherer with a spill store can fail.
func (g *gatherer) add(out map[string]dataflow.Batch) error {
	for name, b := range out {
		all := append(g.out[name], b...)
		g.size[name] += batchSize(b)
		g.total += batchSize(b)
		if len(all) > 2*g.sizeAt[name]+4096 {
			all = all.Consolidate()
			g.sizeAt[name] = len(all)
			g.total -= g.size[name]
			g.size[name] = batchSize(all)
			g.total += g.size[name]
		}
		g.out[name] = all
	}
	if g.spill == nil || g.total <= g.budget() {
		return nil
	}
	return g.toDisk()
}

// bucket is the spill store prefix of view's changes.
func (g *gatherer) bucket(view string) []byte {
	b := binary.AppendUvarint(append([]byte(nil), gatherID[:]...), uint64(len(view)))
	return append(b, view...)
}

// toDisk moves every change held in memory to the spill store.
func (g *gatherer) toDisk() error {
	err := g.spill.AddBatch(func(add func(key []byte, w int64) error) error {
		for name, b := range g.out {
			prefix := g.bucket(name)
			for _, u := range b {
				if u.W == 0 {
					continue
				}
				g.key = row.AppendBinary(append(g.key[:0], prefix...), u.Row)
				if err := add(g.key, int64(u.W)); err != nil {
					return err
				}
			}
			g.disk[name] = true
			g.moved += int64(len(b))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("gather the views' changes on disk: %w", err)
	}
	clear(g.out)
	clear(g.sizeAt)
	clear(g.size)
	g.total = 0
	return nil
}

// result returns the consolidated changes of every view not in failed. It
// is for gatherers without a spill store.
func (g *gatherer) result(failed map[string]state.FailedView) map[string]dataflow.Batch {
	for name := range failed {
		delete(g.out, name)
	}
	for name, b := range g.out {
		g.out[name] = b.Consolidate()
	}
	return g.out
}

// finish ends the gathering: the views in failed are left out, and the
// changes are then read with each and batch. If any went to the spill
// store, the rest follow them there, so that each view is in one place.
func (g *gatherer) finish(failed map[string]state.FailedView) error {
	for name := range failed {
		g.failed[name] = true
		delete(g.out, name)
	}
	if len(g.disk) > 0 {
		return g.toDisk()
	}
	for name, b := range g.out {
		g.out[name] = b.Consolidate()
	}
	return nil
}

// checkWeights reports a negative multiplicity among the finished changes
// held in memory (a load holds insertions only); those on disk are checked
// as they are read.
func (g *gatherer) checkWeights() error {
	for name, b := range g.out {
		for _, u := range b {
			if u.W < 0 {
				return fmt.Errorf("view %s produced a negative multiplicity for %v", name, u.Row)
			}
		}
	}
	return nil
}

// each calls fn with the finished changes of view, in batches of at most
// chunk rows, none of weight 0. A batch is fn's to keep.
func (g *gatherer) each(view string, chunk int, fn func(dataflow.Batch) error) error {
	if g.failed[view] {
		return nil
	}
	if !g.disk[view] {
		for b := range slices.Chunk(g.out[view], chunk) {
			if err := fn(b); err != nil {
				return err
			}
		}
		return nil
	}
	prefix := g.bucket(view)
	var b dataflow.Batch
	err := g.spill.Scan(prefix, func(key, value []byte) error {
		w, n := binary.Varint(value)
		if n <= 0 || n != len(value) {
			return fmt.Errorf("view %s: undecodable multiplicity %x among the changes gathered on disk", view, value)
		}
		if w == 0 {
			return nil
		}
		r, rest, err := row.DecodeBinary(key[len(prefix):])
		if err != nil || len(rest) != 0 {
			return fmt.Errorf("view %s: undecodable row among the changes gathered on disk", view)
		}
		if b = append(b, row.Update{Row: r, W: row.Weight(w)}); len(b) >= chunk {
			err, b = fn(b), nil
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(b) > 0 {
		return fn(b)
	}
	return nil
}

// batch returns the finished changes of view whole.
func (g *gatherer) batch(view string) (dataflow.Batch, error) {
	if g.failed[view] {
		return nil, nil
	}
	if !g.disk[view] {
		return g.out[view], nil
	}
	var all dataflow.Batch
	err := g.each(view, 1<<16, func(b dataflow.Batch) error {
		all = append(all, b...)
		return nil
	})
	return all, err
}

// drop removes what g wrote to the spill store.
func (g *gatherer) drop() error {
	if len(g.disk) == 0 {
		return nil
	}
	clear(g.disk)
	if err := g.spill.DeletePrefix(gatherID[:]); err != nil {
		return fmt.Errorf("remove the views' changes gathered on disk: %w", err)
	}
	return nil
}
