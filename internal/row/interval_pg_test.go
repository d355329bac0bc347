package row_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/rippledb/ripple/internal/row"
)

func init() {
	pgTypes = append(pgTypes, pgType{"interval", row.Interval, intervalGen, true, true})
	equalPairs["interval"] = [][2]string{
		{"1 day", "24 hours"}, {"1 mon", "30 days"}, {"1 year", "360 days"}, {"0", "00:00:00"},
		{"1 day -01:00:00", "23:00:00"}, {"-1 mon", "-720:00:00"},
	}
}

// intervalGen gives interval inputs in the forms users write and PostgreSQL
// prints, fractional units, signs mixed between fields, and random values
// whose fields have independent signs (so equal spans print differently).
func intervalGen(r *rand.Rand) []string {
	out := []string{
		"0", "00:00:00", "1 day", "24 hours", "1 mon", "30 days", "1 year", "-1 years", "1 year 2 mons 3 days 04:05:06.789",
		"-1 days +00:00:01", "1 day -00:00:01", "@ 1 hour ago", "1 hour ago", "1.5 days", "1.5 months", "1.5 years",
		"1.01 years", "0.5 weeks", "2 weeks", "90 minutes", "1.25 hours", "1:30", "1:30:15", "-1:30", "12:34.5",
		"10", "3.25", "1 week 2 days", "1 decade", "2 centuries", "1 millennium", "1.5 decades", "500 ms", "1500 us",
		"0.000001 seconds", "0.0000005 seconds", "0.0000015 seconds", "-0.5 days", "P1Y2M3DT4H5M6S", "P1W", "PT90M",
		"P0.5Y", "PT1.5S", "1 day 2:03:04", "-2 mons -3 days", "+3 days", "1 mon -1 days", "-1 mon +1 days",
		"178956970 years", "-178956970 years", "2147483647 days", "-2147483648 days", "2562047788:00:54.775807",
		"-2562047788:00:54.775807", "1 y 2 mon 3 d 4 h 5 m 6 s", "3 hrs 4 mins 5 secs",
		"1 day, 2 hours", "100 hours", "1.999999999 seconds", "1 week ago", "23:59:60", "  5 minutes  ",
	}
	for range 250 {
		mon := r.IntN(41) - 20
		day := r.IntN(81) - 40
		var us int64
		switch r.IntN(3) {
		case 0:
			us = r.Int64N(200) * 3600_000_000
		case 1:
			us = r.Int64N(4_000_000_000_000) - 2_000_000_000_000
		default:
			us = int64(r.IntN(86400)) * 1_000_000
		}
		if r.IntN(2) == 0 {
			us = -us
		}
		if r.IntN(4) == 0 {
			mon = 0
		}
		if r.IntN(4) == 0 {
			day = 0
		}
		out = append(out, row.FormatInterval(row.IntervalValue{Months: int32(mon), Days: int32(day), Micros: us}))
		// The same span spelled in days and hours.
		out = append(out, fmt.Sprintf("%d days %d microseconds", mon*30+day, us))
	}
	return out
}
