package expr

import "strings"

// iv is an interval-valued expression over the test table, NULL for the
// row of NULLs, with mixed signs, months, days and fractions.
const iv = `(CASE id WHEN 1 THEN interval '1 mon 2 days 03:04:05.5' WHEN 3 THEN interval '-1 years +3 days -00:00:01'
	WHEN 4 THEN interval '24 hours' WHEN 5 THEN interval '1.5 months' WHEN 6 THEN interval '0' END)`

func init() {
	cases := []string{
		"interval '1 day'", "interval '1 year 2 mons -3 days +04:05:06.789'", "'1 hour'::interval", "interval '@ 2 weeks ago'",
		"interval 'P1Y2M3DT4H5M6S'", "interval '1.5 days'", "interval 'nonsense'", "interval '2147483648 days'",
		"IV", "-IV", "IV + IV", "IV - interval '1 mon'", "IV * 2", "IV * 1.5", "2.5 * IV", "IV * i4", "IV * f8", "IV * n2",
		"IV / 3", "IV / 0", "IV / f4", "IV * 1e300",
		"IV = interval '1 day'", "IV < interval '1 mon'", "IV > interval '-1 mon'", "IV = interval '30 days'",
		"ts + IV", "ts - IV", "tz + IV", "tz - IV", "d + IV", "d - IV", "IV + ts", "IV + d",
		"ts + interval '1 mon'", "d + interval '1 mon'", "ts - interval '1 year'", "tz + interval '1 mon -1 day'",
		"d + interval '1 month' * i2", "ts + interval '1000000 years'",
		"ts - ts", "tz - tz", "ts - d", "d - ts", "tz - d", "ts - '2000-01-01'::timestamp", "tz - '1999-01-31 12:00'::timestamptz",
		"age(ts, '2000-01-31')", "age('2000-01-31', ts)", "age(tz, '1999-12-31 23:59:59.9+00')", "age(d, ts)", "age(ts, ts)",
		"age(ts, '2000-03-31')", "age('2020-02-29'::timestamp, ts)",
		"justify_days(IV)", "justify_hours(IV)", "justify_interval(IV)", "justify_interval(interval '-1 mon 35 days -25 hours')",
		"justify_days(interval '65 days')", "justify_hours(interval '-50 hours')",
		"extract(epoch from IV)", "extract(year from IV)", "extract(month from IV)", "extract(day from IV)",
		"extract(hour from IV)", "extract(minute from IV)", "extract(second from IV)", "extract(milliseconds from IV)",
		"extract(microseconds from IV)", "extract(quarter from IV)", "extract(century from interval '-250 years')",
		"date_part('epoch', IV)", "date_part('second', IV)", "date_part('hour', IV)", "extract(dow from IV)",
		"date_trunc('hour', IV)", "date_trunc('day', IV)", "date_trunc('month', IV)", "date_trunc('quarter', IV)",
		"date_trunc('year', IV)", "date_trunc('millennium', interval '-1234 years 5 mons')", "date_trunc('decade', interval '-19 years')",
		"date_trunc('milliseconds', interval '1.2345 seconds')", "date_trunc('second', -IV)", "date_trunc('minute', IV)",
		"date_trunc('week', IV)", "date_trunc('dow', IV)", "date_trunc('microseconds', IV)", "date_trunc('century', interval '250 years')",
		"IV::text", "concat(IV, '|')", "(ts - IV)::date", "greatest(IV, interval '1 day')", "coalesce(IV, interval '1 sec')",
	}
	for _, c := range cases {
		pgCases = append(pgCases, pgCase{expr: strings.ReplaceAll(c, "IV", iv)})
	}
	pgCases = append(pgCases,
		pgCase{expr: "interval '1' day", refused: true}, pgCase{expr: "age(ts)", refused: true},
		pgCase{expr: "ts + '1 day'"}, pgCase{expr: "'1 mon' + tz"}, pgCase{expr: "ts - '1 day'", msgDiffers: true /* ripple names the type "timestamp without time zone" */}, pgCase{expr: "ts - '2000-01-01'"},
		pgCase{expr: "ts + 'bad'"}, pgCase{expr: "d + '1 day'", refused: true})
}
