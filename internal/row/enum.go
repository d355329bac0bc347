package row

import (
	"cmp"
	"fmt"
	"strings"
	"sync"
)

// Enum types. A value of an enum type is its label, ordered by the label's
// pg_enum.enumsortorder, not by its text: ('sad','ok','happy') sorts sad <
// ok < happy. Enum types are not built in, so the source's catalog
// registers them (RegisterEnum) before values are parsed or views planned;
// a Datum carries its label's sort order, so comparing two values needs
// no lookup.
//
// The registry is process-wide and keyed by OID: ripple reads one source
// database per process, whose OIDs are unique. Registering an OID again
// replaces its labels (ALTER TYPE ... ADD VALUE, read again).

// EnumType is one enum type's labels in the source.
type EnumType struct {
	Name   string             // the type's name, schema-qualified where needed
	Labels map[string]float64 // label → enumsortorder
}

var enums struct {
	mu    sync.RWMutex
	types map[OID]*EnumType
}

// RegisterEnum records the labels of the enum type oid.
func RegisterEnum(oid OID, e *EnumType) {
	enums.mu.Lock()
	defer enums.mu.Unlock()
	if enums.types == nil {
		enums.types = make(map[OID]*EnumType)
	}
	enums.types[oid] = e
}

// LookupEnum returns the registered enum type oid, or nil.
func LookupEnum(oid OID) *EnumType {
	if oid < 16384 { // FirstNormalObjectId: built-in types are not enums
		return nil
	}
	enums.mu.RLock()
	defer enums.mu.RUnlock()
	return enums.types[oid]
}

// NewEnum makes a value of an enum type: its label and the label's sort
// order.
func NewEnum(label string, order float64) Datum {
	return Datum{kind: KindEnum, s: label, f: order}
}

// EnumOrder is the sort order of a KindEnum datum.
func (d Datum) EnumOrder() float64 { return d.f }

func compareEnum(a, b Datum) int {
	if c := cmp.Compare(a.f, b.f); c != 0 {
		return c
	}
	return strings.Compare(a.s, b.s)
}

// Parse reads a label of e, as enum_in does (no trimming, exact case).
func (e *EnumType) Parse(s string) (Datum, error) {
	order, ok := e.Labels[s]
	if !ok {
		return Null, fmt.Errorf("invalid input value for enum %s: %q", e.Name, s)
	}
	return NewEnum(s, order), nil
}
