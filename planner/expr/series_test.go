package expr

import (
	"errors"
	"strings"
	"testing"

	"github.com/rippledb/ripple/internal/row"
)

// The expected series are PostgreSQL 15's output for the same calls.
func TestSeriesInt(t *testing.T) {
	cases := []struct {
		start, stop, step int64
		typ               row.Type
		want              string
	}{
		{1, 5, 2, row.Int4, "1 3 5"},
		{5, 1, 1, row.Int4, ""},
		{3, 1, -1, row.Int4, "3 2 1"},
		{2147483640, 2147483647, 5, row.Int4, "2147483640 2147483645"},
		{-2147483647, -2147483648, -1, row.Int4, "-2147483647 -2147483648"},
		{9223372036854775806, 9223372036854775807, 1, row.Int8, "9223372036854775806 9223372036854775807"},
	}
	for _, c := range cases {
		ds, err := SeriesInt(c.start, c.stop, c.step, c.typ)
		if err != nil {
			t.Fatalf("%v: %v", c, err)
		}
		var got []string
		for _, d := range ds {
			got = append(got, row.FormatText(d))
		}
		if g := strings.Join(got, " "); g != c.want {
			t.Errorf("generate_series(%d, %d, %d) = %q, want %q", c.start, c.stop, c.step, g, c.want)
		}
	}
	if _, err := SeriesInt(1, 2, 0, row.Int4); !errors.Is(err, ErrZeroStep) {
		t.Errorf("zero step: %v", err)
	}
	if _, err := SeriesInt(0, MaxSeriesRows, 1, row.Int8); err == nil {
		t.Errorf("a series of %d rows: no error", MaxSeriesRows+1)
	}
}

func TestSeriesTime(t *testing.T) {
	ts := func(s string) int64 {
		d, err := row.ParseText(row.Timestamp, s)
		if err != nil {
			t.Fatal(err)
		}
		return d.Int()
	}
	iv := func(s string) row.IntervalValue {
		d, err := row.ParseText(row.Interval, s)
		if err != nil {
			t.Fatal(err)
		}
		return d.Interval()
	}
	cases := []struct{ start, stop, step, want string }{
		{"2020-01-31", "2020-06-01", "1 mon", "2020-01-31 00:00:00|2020-02-29 00:00:00|2020-03-29 00:00:00|2020-04-29 00:00:00|2020-05-29 00:00:00"},
		{"2024-03-31 10:00", "2024-01-01", "-1 mon", "2024-03-31 10:00:00|2024-02-29 10:00:00|2024-01-29 10:00:00"},
		{"2024-01-01", "2024-01-02", "1 mon -29 days 23:00", "2024-01-01 00:00:00"},
		{"2024-01-02", "2024-01-01", "1 day", ""},
	}
	for _, c := range cases {
		ds, err := SeriesTime(ts(c.start), ts(c.stop), iv(c.step), false)
		if err != nil {
			t.Fatalf("%v: %v", c, err)
		}
		var got []string
		for _, d := range ds {
			got = append(got, row.FormatText(d))
		}
		if g := strings.Join(got, "|"); g != c.want {
			t.Errorf("generate_series(%s, %s, %s) = %q, want %q", c.start, c.stop, c.step, g, c.want)
		}
	}
	if _, err := SeriesTime(ts("2020-01-01"), ts("2020-01-02"), iv("1 mon -30 days"), false); !errors.Is(err, ErrZeroStep) {
		t.Errorf("a step equal to zero: %v", err)
	}
	if _, err := SeriesTime(row.NegInfinity, ts("2020-01-02"), iv("1 day"), true); err == nil {
		t.Error("a series from -infinity: no error")
	}
}
