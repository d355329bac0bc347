package expr

// numeric(p,s) casts: rounding half away from zero to the scale, overflow
// errors, negative scales and scales above the precision, and typmods that
// PostgreSQL refuses.
func init() {
	for _, c := range []string{
		"n::numeric(5,2)", "n::numeric(20,4)", "n2::numeric(6,1)", "1234.565::numeric(6,2)", "-1234.565::numeric(6,2)",
		"999.995::numeric(5,2)", "n::numeric(3,0)", "1234.5::numeric(5,-2)", "0.00123::numeric(3,5)", "12.5::numeric(2,0)",
		"i4::numeric(12,3)", "i8::numeric(5,0)", "f8::numeric(10,3)", "f4::numeric(4,2)", "'NaN'::numeric(4,2)",
		"'Infinity'::numeric(4,2)", "n::numeric(1001,0)", "n::numeric(0,0)", "n::numeric(5,1001)", "n::numeric(5)",
		"(n * 3)::numeric(8,3) / 7", "round(n2::numeric(4,1), 0)", "tx::numeric(4,1)", "'  1.25 '::numeric(3,1)",
		"CAST(n AS decimal(7,2))", "n2 + 1::numeric(3,2)",
	} {
		pgCases = append(pgCases, pgCase{expr: c})
	}
}
