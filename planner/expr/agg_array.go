package expr

import (
	"fmt"
	"strings"

	"github.com/google/btree"

	"github.com/rippledb/ripple/dataflow"
	"github.com/rippledb/ripple/internal/row"
)

// array_agg, json_agg and jsonb_agg collect their inputs in the call's
// ORDER BY order. Like string_agg, they keep the inputs in a B-tree keyed
// by the ORDER BY values (then by the value itself) with a count, so a
// retraction removes exactly one occurrence; the planner requires the
// ORDER BY to include the aggregated value, so that the order of ties
// cannot change the result. Over no rows the result is NULL.

// collectNames are the aggregates newCollectAgg builds.
var collectNames = map[string]bool{"array_agg": true, "json_agg": true, "jsonb_agg": true}

// OrderedAggregate reports whether name is an aggregate whose result
// depends on the order of its inputs (string_agg, array_agg, json_agg,
// jsonb_agg): its ORDER BY must include the aggregated value.
func OrderedAggregate(name string) bool {
	n := strings.ToLower(name)
	return n == "string_agg" || collectNames[n]
}

func newCollectAgg(name string, call AggCall) (dataflow.Aggregate, row.Type, error) {
	if len(call.Args) != 1 {
		return nil, row.Type{}, fmt.Errorf("function %s with %d arguments does not exist", name, len(call.Args))
	}
	val := call.Args[0]
	if val.Type.OID == row.OIDUnknown {
		c, err := Cast(val, row.Text, false)
		if err != nil {
			return nil, row.Type{}, err
		}
		val = c
	}
	var res row.Type
	var render func([]row.Datum) (row.Datum, error)
	switch name {
	case "array_agg":
		at, ok := row.ArrayOf(val.Type)
		if !ok {
			return nil, row.Type{}, fmt.Errorf("array_agg over values of type %s is not supported", typeName(val.Type))
		}
		res = row.Type{OID: at.OID, Mod: -1}
		render = func(vals []row.Datum) (row.Datum, error) { return row.NewArray(vals), nil }
	case "json_agg", "jsonb_agg":
		jsonb := name == "jsonb_agg"
		if err := jsonElemSupported(val.Type, jsonb); err != nil {
			return nil, row.Type{}, fmt.Errorf("%s over values of type %s is not supported: %v", name, typeName(val.Type), err)
		}
		res = row.JSON
		if jsonb {
			res = row.JSONB
		}
		render = func(vals []row.Datum) (row.Datum, error) {
			var b strings.Builder
			b.WriteByte('[')
			for i, v := range vals {
				if i > 0 {
					b.WriteString(", ")
				}
				writeJSONElem(&b, v)
			}
			b.WriteByte(']')
			if jsonb {
				return row.NewJSONB(b.String()), nil
			}
			return row.NewJSON(b.String()), nil
		}
	default:
		return nil, row.Type{}, fmt.Errorf("%s is not a collecting aggregate", name)
	}
	var parts []string
	for _, o := range call.Order {
		if !orderable(o.Expr.Type) {
			return nil, row.Type{}, fmt.Errorf("ORDER BY %s in %s: ordering values of type %s is not supported", o.Expr.Text, name, typeName(o.Expr.Type))
		}
		p := o.Expr.Text
		if o.Desc {
			p += " DESC"
		}
		if o.NullsFirst != o.Desc {
			if o.NullsFirst {
				p += " NULLS FIRST"
			} else {
				p += " NULLS LAST"
			}
		}
		parts = append(parts, p)
	}
	label := fmt.Sprintf("%s(%s ORDER BY %s)", name, val.Text, strings.Join(parts, ", "))
	order := call.Order
	valCol := call.ArgCols[0]
	less := func(a, b *saItem) bool {
		for i, o := range order {
			x, y := a.keys[i], b.keys[i]
			c := row.Compare(x, y) // NULL last
			if x.IsNull() || y.IsNull() {
				if o.NullsFirst {
					c = -c
				}
			} else if o.Desc {
				c = -c
			}
			if c != 0 {
				return c < 0
			}
		}
		return a.repr < b.repr
	}
	return &aggregate{label: label, mk: func() dataflow.AggState {
		return &collectState{stringAggState: stringAggState{order: order, col: valCol, tree: btree.NewG(16, less)}, name: name, render: render}
	}}, res, nil
}

// collectState is string_agg's sorted state with another rendering.
type collectState struct {
	stringAggState
	name   string
	render func([]row.Datum) (row.Datum, error)
}

func (s *collectState) Result() (row.Datum, error) {
	var vals []row.Datum
	var neg error
	s.tree.Ascend(func(it *saItem) bool {
		if it.n < 0 {
			neg = fmt.Errorf("%s: value %s retracted more often than added", s.name, row.FormatText(it.val))
			return false
		}
		for range it.n {
			vals = append(vals, it.val)
		}
		return true
	})
	if neg != nil {
		return row.Null, neg
	}
	if len(vals) == 0 {
		return row.Null, nil
	}
	return s.render(vals)
}

// jsonElemSupported reports whether ripple renders values of t exactly as
// to_json (json_agg) or to_jsonb (jsonb_agg) does.
func jsonElemSupported(t row.Type, jsonb bool) error {
	switch t.Kind() {
	case row.KindInt, row.KindNumeric, row.KindBool, row.KindText, row.KindUUID, row.KindBytes, row.KindJSONB:
		return nil
	case row.KindFloat:
		if jsonb {
			return fmt.Errorf("to_jsonb turns floats into numerics, whose digits ripple does not reproduce")
		}
		return nil
	case row.KindJSON:
		if jsonb {
			return fmt.Errorf("json values would have to be normalized to jsonb")
		}
		return nil
	}
	return fmt.Errorf("its JSON form is not implemented")
}

// writeJSONElem writes v as to_json/to_jsonb render it for the types
// jsonElemSupported accepts.
func writeJSONElem(b *strings.Builder, v row.Datum) {
	switch v.Kind() {
	case row.KindNull:
		b.WriteString("null")
	case row.KindInt, row.KindJSON, row.KindJSONB:
		b.WriteString(row.FormatText(v))
	case row.KindBool:
		if v.Bool() {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case row.KindNumeric, row.KindFloat:
		s := row.FormatText(v)
		switch s {
		case "NaN", "Infinity", "-Infinity":
			escapeJSON(b, s)
		default:
			b.WriteString(s)
		}
	default:
		escapeJSON(b, row.FormatText(v))
	}
}
