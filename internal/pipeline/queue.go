package pipeline

import (
	"context"
	"sync"

	"github.com/rippledb/ripple/cdc"
)

// txnSize estimates the memory a queued transaction holds.
func txnSize(t cdc.Txn) int64 {
	n := int64(64)
	for _, c := range t.Changes {
		n += 64 + int64(c.Old.Size()) + int64(c.New.Size()) + int64(len(c.Unchanged))
	}
	return n
}

// byteQueue bounds the transactions waiting between the replication reader
// and the engine by their size as well as their number (I5): when the
// queued bytes reach the budget the reader blocks, and with it the
// replication stream (the slot keeps the WAL). One transaction larger than
// the whole budget still passes, alone.
type byteQueue struct {
	mu     sync.Mutex
	cond   *sync.Cond
	used   int64
	budget int64
}

func newByteQueue(budget int64) *byteQueue {
	q := &byteQueue{budget: budget}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// acquire waits until n bytes fit (or nothing is queued) and takes them;
// false when ctx ended.
func (q *byteQueue) acquire(ctx context.Context, n int64) bool {
	stop := context.AfterFunc(ctx, func() {
		q.mu.Lock()
		q.cond.Broadcast()
		q.mu.Unlock()
	})
	defer stop()
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.used > 0 && q.used+n > q.budget {
		if ctx.Err() != nil {
			return false
		}
		q.cond.Wait()
	}
	q.used += n
	return true
}

func (q *byteQueue) release(n int64) {
	q.mu.Lock()
	q.used -= n
	q.cond.Broadcast()
	q.mu.Unlock()
}

// queuedTxn is a transaction with the bytes it holds in the queue.
type queuedTxn struct {
	cdc.Txn
	bytes int64
}

// forward moves transactions from the stream to the engine's queue within
// the byte budget, and closes out when in is closed.
func (q *byteQueue) forward(ctx context.Context, in <-chan cdc.Txn, out chan<- queuedTxn) {
	defer close(out)
	for t := range in {
		n := txnSize(t)
		if !q.acquire(ctx, n) {
			return
		}
		select {
		case out <- queuedTxn{Txn: t, bytes: n}:
		case <-ctx.Done():
			return
		}
	}
}
