package sink

import "github.com/rippledb/ripple/internal/row"

// Interval columns in every sink's round trip: equal spans with different
// fields ('1 day' and '24:00:00') must come back as written.
func init() {
	ivs := typedColumn{"iv", row.Interval, []string{"1 year 2 mons -3 days +04:05:06.5", "24:00:00", "1 day", ""}}
	allTypes = append(allTypes, ivs)
	myAllTypes = append(myAllTypes, typedColumn{"iv", row.Interval, []string{"-178956970 years -8 mons -2147483648 days -2562047788:00:54.775808", "24:00:00", "1 day", ""}})
}
