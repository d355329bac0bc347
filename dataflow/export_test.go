package dataflow

// NewMemSpill gives the external tests the in-memory Spill of spill_test.go.
func NewMemSpill() Spill { return newMemSpill() }
