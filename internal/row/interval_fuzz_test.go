package row

import "testing"

// FuzzParseInterval checks that interval input never panics and that what
// it accepts round-trips through PostgreSQL's output form exactly.
func FuzzParseInterval(f *testing.F) {
	for _, s := range []string{
		"1 year 2 mons -3 days +04:05:06.789", "@ 1 hour ago", "1.5 days", "-1:30", "12:34.5", "P1Y2M3DT4H5M6S",
		"PT1.5S", "-178956970 years -8 mons -2147483648 days -2562047788:00:54.775808", "0.0000015 seconds",
		"2562047788:00:54.775807", "1e5 days", "- 1 day", "1 day 1 day", "P", "1:2:3:4", "..5 s", "-.5 days",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseText(Interval, s)
		if err != nil {
			if !d.IsNull() {
				t.Fatalf("ParseText(%q): non-NULL datum with an error", s)
			}
			return
		}
		out := FormatText(d)
		d2, err := ParseText(Interval, out)
		if err != nil {
			t.Fatalf("ParseText(%q) = %q, which does not parse: %v", s, out, err)
		}
		if !Identical(d, d2) || FormatText(d2) != out {
			t.Fatalf("ParseText(%q) = %q does not round-trip (%v vs %v)", s, out, d.Interval(), d2.Interval())
		}
	})
}
