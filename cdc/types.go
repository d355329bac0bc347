package cdc

import (
	"context"
	"fmt"
	"sync"

	"github.com/rippledb/ripple/internal/row"
)

// Domains. A column of a domain type carries values of the domain's base
// type (the source enforces the domain's constraints), and PostgreSQL
// describes a query's column over a domain with the base type and its
// typmod, so ripple resolves every domain to its base type where it reads
// the catalog: the planner, the snapshot and the stream all see the base
// type. A domain over a domain resolves all the way down; the outermost
// typmod given wins, as getBaseTypeAndTypmod does.

// typeMap records the domains resolved so far, for the stream's Relation
// messages (which name the domain's OID).
type typeMap struct {
	mu      sync.Mutex
	domains map[row.OID]row.Type
}

func (m *typeMap) base(oid row.OID) (row.Type, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.domains[oid]
	return t, ok
}

func (m *typeMap) add(oid row.OID, t row.Type) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.domains == nil {
		m.domains = make(map[row.OID]row.Type)
	}
	m.domains[oid] = t
}

func newAssemblerWith(base func(row.OID) (row.Type, bool), partChanges int, whole func(row.LSN) bool) *assembler {
	a := newAssembler()
	a.base = base
	a.partChanges = partChanges
	a.whole = whole
	return a
}

// resolveDomain replaces *t by its base type when t is a domain.
func (s *Source) resolveDomain(ctx context.Context, t *row.Type) error {
	if t.Supported() {
		return nil
	}
	if b, ok := s.types.base(t.OID); ok {
		*t = b
		return nil
	}
	oid, mod := t.OID, t.Mod
	for range 32 { // domains nest; a cycle is impossible, a bound is cheap
		var (
			typtype string
			base    uint32
			typmod  int32
		)
		err := s.conn.QueryRow(ctx, "SELECT typtype::text, typbasetype, typtypmod FROM pg_type WHERE oid = $1", uint32(oid)).
			Scan(&typtype, &base, &typmod)
		if err != nil {
			return fmt.Errorf("look up type %d: %w", oid, err)
		}
		if typtype == "e" {
			if err := s.registerEnum(ctx, oid); err != nil {
				return err
			}
		}
		if typtype != "d" {
			break
		}
		if mod < 0 {
			mod = typmod
		}
		oid = row.OID(base)
	}
	if oid == t.OID {
		return nil // not a domain (an enum is now registered): left as is (unsupported types are named by the planner)
	}
	b := row.Type{OID: oid, Mod: mod}
	s.types.add(t.OID, b)
	*t = b
	return nil
}

// registerEnum reads the labels of enum type oid and registers them with
// package row, which then parses and orders its values (row.EnumType).
func (s *Source) registerEnum(ctx context.Context, oid row.OID) error {
	var name string
	if err := s.conn.QueryRow(ctx, "SELECT format_type($1, NULL)", uint32(oid)).Scan(&name); err != nil {
		return fmt.Errorf("look up enum type %d: %w", oid, err)
	}
	rows, err := s.conn.Query(ctx, "SELECT enumlabel, enumsortorder::float8 FROM pg_enum WHERE enumtypid = $1", uint32(oid))
	if err != nil {
		return fmt.Errorf("read labels of enum %s: %w", name, err)
	}
	e := &row.EnumType{Name: name, Labels: map[string]float64{}}
	for rows.Next() {
		var (
			label string
			order float64
		)
		if err := rows.Scan(&label, &order); err != nil {
			return fmt.Errorf("read labels of enum %s: %w", name, err)
		}
		e.Labels[label] = order
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read labels of enum %s: %w", name, err)
	}
	row.RegisterEnum(oid, e)
	return nil
}
