package dataflow

// NewMemSpill gives the external tests the in-memory Spill of spill_test.go.
func NewMemSpill() Spill { return newMemSpill() }

// ReduceCache reports how many Reduce operators g has, the most groups one holds
// in memory and how many groups they evicted in all.
func ReduceCache(g *Graph) (reduces, most, evicted int) {
	for _, n := range g.nodes {
		if o, ok := n.op.(*reduceOp); ok {
			reduces++
			most = max(most, len(o.groups))
			evicted += o.evicted
		}
	}
	return reduces, most, evicted
}
