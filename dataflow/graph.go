package dataflow

import (
	"errors"
	"fmt"
	"strings"

	"github.com/rippledb/ripple/internal/row"
)

// Batch is a Z-set delta: rows with weights. Within one batch a row may
// appear more than once; Consolidate merges them.
type Batch []row.Update

// Consolidate merges equal rows and drops zero weights.
func (b Batch) Consolidate() Batch { return Batch(row.Consolidate([]row.Update(b))) }

// NodeID identifies a node within its graph; IDs follow creation order,
// which is a topological order (a node's inputs always exist before it).
type NodeID int

// Node is one operator of a dataflow graph. Nodes are built through the
// Graph's constructor methods and are immutable afterwards except for their
// operator state, which only Step touches.
type Node struct {
	id     NodeID
	inputs []*Node
	schema row.Schema
	kind   string // operator name: Input, Filter, Map, Join, LEFT/RIGHT/FULL Join, Reduce, Distinct, Union, SetOp
	label  string // what the operator computes, for explain
	state  string // what state it keeps ("" when stateless)
	op     operator
	out    Batch         // this step's output, valid during Step
	table  row.TableName // Input nodes: the table they read
	// failed is the error this node, or a node it reads, stopped with; a
	// failed node is never stepped again (its state is partly updated).
	failed error
}

// ID is the node's identifier.
func (n *Node) ID() NodeID { return n.id }

// Schema is the schema of the node's output rows.
func (n *Node) Schema() row.Schema { return n.schema }

// Inputs are the node's input nodes.
func (n *Node) Inputs() []*Node { return n.inputs }

// Kind is the operator's name.
func (n *Node) Kind() string { return n.kind }

// Label says what the operator computes.
func (n *Node) Label() string { return n.label }

// StateDesc says what state the operator keeps, "" for none.
func (n *Node) StateDesc() string { return n.state }

// operator computes one node's output delta for a step from its inputs'
// deltas of the same step, updating its state. ins[i] belongs to
// node.inputs[i].
type operator interface {
	step(ins []Batch) (Batch, error)
}

// Graph is a differential dataflow graph stepped once per source
// transaction (DBSP style): Step takes the change of every input table and
// returns the change of every output. It is not safe for concurrent use.
type Graph struct {
	nodes   []*Node
	inputs  map[row.TableName]*Node
	outputs map[string]*Node
	order   []string // output names in registration order
	primed  bool
	// now is the logical time of the current (or last) step; only
	// temporal filters read it.
	now Time
	// reported holds the outputs whose failure a Step already returned.
	reported map[string]bool
	// spill is the operator memory budget and where arrangements go past
	// it; fatal is the spill store's error that stopped the graph.
	spill spillCtl
	fatal error
}

// New returns an empty graph.
func New() *Graph {
	return &Graph{inputs: map[row.TableName]*Node{}, outputs: map[string]*Node{}}
}

func (g *Graph) add(n *Node) *Node {
	n.id = NodeID(len(g.nodes))
	g.nodes = append(g.nodes, n)
	return n
}

// Input returns the input node of table name, creating it on first use.
func (g *Graph) Input(name row.TableName, schema row.Schema) *Node {
	if n, ok := g.inputs[name]; ok {
		return n
	}
	n := g.add(&Node{schema: schema, kind: "Input", label: name.String() + " " + schema.String(), op: inputOp{}, table: name})
	g.inputs[name] = n
	return n
}

// Inputs lists the input tables of the graph.
func (g *Graph) Inputs() []row.TableName {
	out := make([]row.TableName, 0, len(g.inputs))
	for _, n := range g.nodes {
		if n.kind == "Input" {
			out = append(out, n.table)
		}
	}
	return out
}

// InputSchema is the schema the graph expects for table name.
func (g *Graph) InputSchema(name row.TableName) (row.Schema, bool) {
	n, ok := g.inputs[name]
	if !ok {
		return nil, false
	}
	return n.schema, true
}

// Output registers node in as the result of the view called name.
func (g *Graph) Output(name string, in *Node) {
	if _, ok := g.outputs[name]; !ok {
		g.order = append(g.order, name)
	}
	g.outputs[name] = in
}

// Outputs lists the registered output names in registration order.
func (g *Graph) Outputs() []string { return append([]string(nil), g.order...) }

// OutputNode returns the node registered under name.
func (g *Graph) OutputNode(name string) *Node { return g.outputs[name] }

// Step pushes one logical time's input changes through the graph and
// returns every output's consolidated change (outputs with no change are
// omitted). Inputs are keyed by table; tables without changes may be left
// out. The first Step runs every operator even without input, so that
// aggregates without GROUP BY emit their row over an empty input.
//
// A runtime error in an operator (division by zero, overflow, an invalid
// cast) fails that operator and every operator that reads it, for good:
// they are not stepped again, and the outputs they feed get no more
// changes. The rest of the graph, which does not depend on them, goes on:
// Step returns the other outputs' changes together with a *StepError
// naming the outputs that failed in this step. Any other error is
// terminal for the whole graph.
func (g *Graph) Step(inputs map[row.TableName]Batch) (map[string]Batch, error) {
	return g.StepAt(g.now, inputs)
}

// StepAt is Step at logical time now, which must not be before the
// previous step's. Temporal filters emit the changes of validity since
// the previous step's time together with the inputs' changes; a step with
// no input changes only advances time (a tick). Graphs without temporal
// filters ignore the time.
func (g *Graph) StepAt(now Time, inputs map[row.TableName]Batch) (map[string]Batch, error) {
	if g.fatal != nil {
		return nil, g.fatal
	}
	if g.primed && now < g.now {
		return nil, fmt.Errorf("dataflow: step at %s, before the previous step's time %s", now, g.now)
	}
	g.now = now
	for name := range inputs {
		if _, ok := g.inputs[name]; !ok {
			return nil, fmt.Errorf("dataflow: step: no input for table %s", name)
		}
	}
	// An intermediate batch is dropped as soon as the last operator reading
	// it has run, and every batch once the step is over: a large
	// transaction's deltas are not kept alive between steps or longer than
	// the operators need them.
	readers := make([]int, len(g.nodes))
	for _, n := range g.nodes {
		n.out = nil
		for _, in := range n.inputs {
			readers[in.id]++
		}
	}
	for _, n := range g.outputs {
		readers[n.id]++ // kept until the result is built
	}
	defer func() {
		for _, n := range g.nodes {
			n.out = nil
		}
	}()
	for _, n := range g.nodes {
		if g.fatal != nil {
			break
		}
		g.stepNode(n, inputs)
		for _, in := range n.inputs {
			if readers[in.id]--; readers[in.id] == 0 {
				in.out = nil
			}
		}
	}
	g.primed = true
	if g.fatal != nil {
		return nil, g.fatal
	}
	if err := g.spillOver(); err != nil {
		g.fatal = err
		return nil, err
	}
	res := make(map[string]Batch, len(g.outputs))
	var failed *StepError
	for _, name := range g.order {
		n := g.outputs[name]
		if n.failed != nil {
			if !g.reported[name] {
				if g.reported == nil {
					g.reported = map[string]bool{}
				}
				g.reported[name] = true
				if failed == nil {
					failed = &StepError{}
				}
				failed.Views = append(failed.Views, ViewError{View: name, Err: n.failed})
			}
			continue
		}
		if len(n.out) == 0 {
			continue
		}
		if b := n.out.Consolidate(); len(b) > 0 {
			if len(n.out) <= 1 {
				b = append(Batch(nil), b...) // Consolidate returned the operator's own batch
			}
			res[name] = b // otherwise a fresh array
		}
	}
	if failed != nil {
		return res, failed
	}
	return res, nil
}

// Now is the logical time of the last step (zero before the first).
func (g *Graph) Now() Time { return g.now }

// Temporal reports whether any output's value depends on the logical time
// (the graph has a temporal filter): such a graph must be stepped as time
// passes, not only when its inputs change.
func (g *Graph) Temporal() bool {
	for _, n := range g.nodes {
		if _, ok := n.op.(timed); ok {
			return true
		}
	}
	return false
}

// TemporalOutput reports whether output name reads a temporal filter.
func (g *Graph) TemporalOutput(name string) bool {
	n, ok := g.outputs[name]
	if !ok {
		return false
	}
	seen := map[*Node]bool{}
	var walk func(n *Node) bool
	walk = func(n *Node) bool {
		if seen[n] {
			return false
		}
		seen[n] = true
		if _, ok := n.op.(timed); ok {
			return true
		}
		for _, in := range n.inputs {
			if walk(in) {
				return true
			}
		}
		return false
	}
	return walk(n)
}

// ViewError is the runtime error that stopped one output.
type ViewError struct {
	View string
	Err  error
}

// StepError lists the outputs a Step failed, in registration order; the
// changes Step returned with it are those of the other outputs.
type StepError struct{ Views []ViewError }

func (e *StepError) Error() string {
	parts := make([]string, len(e.Views))
	for i, v := range e.Views {
		parts[i] = fmt.Sprintf("view %s: %v", v.View, v.Err)
	}
	return strings.Join(parts, "; ")
}

// Unwrap gives the views' errors to errors.Is and errors.As.
func (e *StepError) Unwrap() []error {
	out := make([]error, len(e.Views))
	for i, v := range e.Views {
		out[i] = v.Err
	}
	return out
}

// Failed returns the error output name stopped with, or nil.
func (g *Graph) Failed(name string) error {
	if n, ok := g.outputs[name]; ok {
		return n.failed
	}
	return nil
}

// Explain renders the operator tree that computes output name, one
// operator per line with the state it keeps. Nodes shared by several
// branches are printed once and referenced by id afterwards.
func (g *Graph) Explain(name string) string {
	n, ok := g.outputs[name]
	if !ok {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\n", name, n.schema)
	seen := map[*Node]bool{}
	var walk func(n *Node, prefix string, last bool)
	walk = func(n *Node, prefix string, last bool) {
		branch, next := "├─ ", "│  "
		if last {
			branch, next = "└─ ", "   "
		}
		if seen[n] {
			fmt.Fprintf(&b, "%s%s#%d %s (shared, see above)\n", prefix, branch, n.id, n.kind)
			return
		}
		seen[n] = true
		fmt.Fprintf(&b, "%s%s#%d %s %s\n", prefix, branch, n.id, n.kind, n.label)
		if n.state != "" {
			fmt.Fprintf(&b, "%s%s   state: %s\n", prefix, next, strings.ReplaceAll(n.state, "\n", "\n"+prefix+next+"   "))
		}
		for i, in := range n.inputs {
			walk(in, prefix+next, i == len(n.inputs)-1)
		}
	}
	walk(n, "", true)
	return b.String()
}

type inputOp struct{}

func (inputOp) step(ins []Batch) (Batch, error) { return ins[0], nil }

// stepNode runs one operator of a Step on its inputs' batches.
func (g *Graph) stepNode(n *Node, inputs map[row.TableName]Batch) {
	if n.failed != nil {
		return
	}
	for _, in := range n.inputs {
		if in.failed != nil {
			n.failed = in.failed
			break
		}
	}
	if n.failed != nil {
		return
	}
	var ins []Batch
	active := !g.primed
	if n.kind == "Input" {
		ins = []Batch{inputs[n.table]}
	} else {
		ins = make([]Batch, len(n.inputs))
		for i, in := range n.inputs {
			ins[i] = in.out
		}
	}
	for _, b := range ins {
		if len(b) > 0 {
			active = true
		}
	}
	if t, ok := n.op.(timed); ok && t.due(g.now) {
		active = true
	}
	if !active {
		return
	}
	out, err := n.op.step(ins)
	if se := (*SpillError)(nil); errors.As(err, &se) {
		g.fatal = fmt.Errorf("%s %s: %w", n.kind, n.label, err)
		return
	}
	if err != nil {
		n.failed = fmt.Errorf("%s %s: %w", n.kind, n.label, err)
		return
	}
	n.out = out
}
