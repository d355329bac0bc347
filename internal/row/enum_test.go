package row_test

import (
	"testing"

	"github.com/rippledb/ripple/internal/row"
)

func TestEnumOrderAndKeys(t *testing.T) {
	const oid = row.OID(990001)
	row.RegisterEnum(oid, &row.EnumType{Name: "mood", Labels: map[string]float64{"zen": 0.5, "sad": 1, "meh": 1.5, "ok": 2}})
	typ := row.Type{OID: oid, Mod: -1}
	if !typ.Supported() || typ.Kind() != row.KindEnum || typ.String() != "mood" {
		t.Fatalf("registered enum: supported %v kind %v name %q", typ.Supported(), typ.Kind(), typ.String())
	}
	parse := func(s string) row.Datum {
		d, err := row.ParseText(typ, s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	order := []string{"zen", "sad", "meh", "ok"} // not the text order
	for i := range order {
		for j := range order {
			a, b := parse(order[i]), parse(order[j])
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := row.Compare(a, b); got != want {
				t.Errorf("Compare(%s, %s) = %d, want %d", order[i], order[j], got, want)
			}
			if keyEq := string(row.AppendKey(nil, a)) == string(row.AppendKey(nil, b)); keyEq != (i == j) {
				t.Errorf("AppendKey equal(%s, %s) = %v", order[i], order[j], keyEq)
			}
		}
	}
	if got := row.FormatText(parse("meh")); got != "meh" {
		t.Errorf("FormatText = %q", got)
	}
	for _, bad := range []string{"MEH", " meh", "happy", ""} {
		if _, err := row.ParseText(typ, bad); err == nil {
			t.Errorf("ParseText(%q) accepted", bad)
		}
	}
	if (row.Type{OID: 990002, Mod: -1}).Supported() {
		t.Error("an unregistered OID is supported")
	}
}
