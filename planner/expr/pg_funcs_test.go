package expr

// Cases for the string, math, date/time, regex and ANY/ALL functions,
// run by TestExpressionsAgainstPostgres with the core cases.
var funcCases = []pgCase{
	// substr / substring
	{expr: "substr(tx, 2)"}, {expr: "substr(tx, 2, 2)"}, {expr: "substr(tx, 0, 2)"}, {expr: "substr(tx, -1, 3)"},
	{expr: "substr(tx, 2, -1)"}, {expr: "substr(tx, 100)"}, {expr: "substr(ch, 1, 2)"}, {expr: "substr(vc, i2)"},
	{expr: "substring(tx from 2 for 3)"}, {expr: "substring(tx from 3)"}, {expr: "substring(tx for 2)"},
	{expr: "substring(tx, 1, 1)"}, {expr: "substr('héllo', 2, 2)"}, {expr: "substr(tx, 1, 2147483647)"},
	{expr: "substr(i4, 1)"}, {expr: "substr(tx, 1.5)"}, {expr: "substr(tx, '2')"}, {expr: "substring(tx, i8)"},
	// position / strpos
	{expr: "position('b' in tx)"}, {expr: "position('' in tx)"}, {expr: "strpos(tx, 'l')"}, {expr: "strpos('héllo', 'l')"},
	{expr: "position(vc in tx)"}, {expr: "strpos(tx, NULL)"}, {expr: "position(i4 in tx)"},
	// trim family
	{expr: "trim(vc)"}, {expr: "trim(both 'x' from tx)"}, {expr: "trim(leading ' ' from vc)"}, {expr: "trim(trailing ' ' from vc)"},
	{expr: "btrim(tx, 'aH')"}, {expr: "ltrim(tx, 'a')"}, {expr: "rtrim(tx, '%')"}, {expr: "ltrim(vc)"}, {expr: "rtrim(ch)"},
	{expr: "btrim(tx, '')"}, {expr: "trim(ch)"}, {expr: "btrim(i4)"},
	// replace / split_part
	{expr: "replace(tx, 'l', 'L')"}, {expr: "replace(tx, '', 'x')"}, {expr: "replace(tx, 'b', '')"}, {expr: "replace(tx, NULL, 'x')"},
	{expr: "split_part(tx, '_', 1)"}, {expr: "split_part(tx, '_', 2)"}, {expr: "split_part(tx, '_', 3)"}, {expr: "split_part(tx, '_', -1)"},
	{expr: "split_part(tx, '_', -3)"}, {expr: "split_part(tx, '', 1)"}, {expr: "split_part(tx, '', 2)"}, {expr: "split_part(tx, 'l', 0)"},
	{expr: "split_part('a,b,,c', ',', 3)"},
	// left / right
	{expr: "left(tx, 2)"}, {expr: "left(tx, -2)"}, {expr: "right(tx, 2)"}, {expr: "right(tx, -2)"}, {expr: "left(tx, 0)"},
	{expr: "right(tx, 100)"}, {expr: "left('héllo', 2)"}, {expr: "left(ch, 5)"}, {expr: "left(tx, i8)"},
	// concat / concat_ws
	{expr: "concat(tx, i4, NULL, b)"}, {expr: "concat(ch, '|')"}, {expr: "concat(n, f8, d)"}, {expr: "concat(NULL)"},
	{expr: "concat_ws(',', tx, i4, NULL)"}, {expr: "concat_ws(NULL, tx)"}, {expr: "concat_ws(tx, 1, 2)"}, {expr: "concat('a')"},
	{expr: "concat(ts, '/', tz)"}, {expr: "concat(jb, u)"},
	// lpad / rpad
	{expr: "lpad(tx, 5)"}, {expr: "lpad(tx, 5, 'xy')"}, {expr: "rpad(tx, 5, 'xy')"}, {expr: "lpad(tx, 2)"}, {expr: "rpad(tx, 0)"},
	{expr: "lpad(tx, -1)"}, {expr: "lpad(tx, 6, '')"}, {expr: "rpad('é', 3, 'ü')"}, {expr: "lpad(tx, 1000000000)"},
	// initcap / repeat / reverse / starts_with
	{expr: "initcap(tx)"}, {expr: "initcap('hello wORLD foo_bar 2x')"}, {expr: "initcap('élan vital')"},
	{expr: "repeat(tx, 3)"}, {expr: "repeat(tx, 0)"}, {expr: "repeat(tx, -1)"}, {expr: "repeat('ab', 1000000000)"},
	{expr: "reverse(tx)"}, {expr: "reverse('héllo')"}, {expr: "reverse(ch)"},
	{expr: "starts_with(tx, 'Hel')"}, {expr: "starts_with(tx, '')"}, {expr: "starts_with(vc, tx)"},
	// regular expressions
	{expr: "tx ~ 'b'"}, {expr: "tx ~ '^[a-c]+$'"}, {expr: "tx ~* 'hello'"}, {expr: "tx !~ 'o'"}, {expr: "tx !~* 'WORLD'"},
	{expr: "tx ~ 'l{2}'"}, {expr: "tx ~ '\\d'"}, {expr: "tx ~ '(ab|xy)c?'"}, {expr: "tx ~ NULL"}, {expr: "tx ~ '_W.r'"},
	{expr: "tx ~* '[A-C]'"}, {expr: "vc ~ '^\\w+ \\w+$'"}, {expr: "ch ~ ' $'"}, {expr: "tx ~ '\\%'"}, {expr: "tx ~ '(?:l)+o'"},
	{expr: "i4 ~ '1'"}, {expr: "tx ~ tx", refused: true}, {expr: "tx ~ '(a)\\1'", refused: true}, {expr: "tx ~ 'a(?=b)'", refused: true}, {expr: "tx ~ '\\s'", refused: true},
	{expr: "tx ~ 'a*?'", refused: true}, {expr: "tx ~ '[[:alpha:]]'", refused: true},
	{expr: "regexp_replace(tx, 'l+', 'L')"}, {expr: "regexp_replace(tx, 'l', 'L', 'g')"}, {expr: "regexp_replace(tx, 'L', '_', 'gi')"},
	{expr: "regexp_replace(tx, 'x*', '-', 'g')"}, {expr: "regexp_replace(tx, 'a|ab', 'X')"}, {expr: "regexp_replace(tx, '[aeiou]', '', 'g')"},
	{expr: "regexp_replace(tx, NULL, 'x')"}, {expr: "regexp_replace(tx, '(l)', '\\1\\1')", refused: true}, {expr: "regexp_replace(tx, 'l', 'L', 'n')", refused: true},
	{expr: "regexp_replace(vc, ' ', '')"},
	// mod / power / sqrt
	{expr: "mod(i4, 3)"}, {expr: "mod(i2, i2)"}, {expr: "mod(i8, 0)"}, {expr: "mod(n, 0.3)"}, {expr: "mod(i4, 2.5)"},
	{expr: "mod(-7, 3)"}, {expr: "mod(f8, 2)"}, {expr: "mod(i2, '3')"}, {expr: "mod(i4, -1)"},
	{expr: "power(f8, 2)"}, {expr: "power(i4, 2)"}, {expr: "power(2, 10)"}, {expr: "power(f8, -1)"}, {expr: "power(2.0::float8, 0.5)"},
	{expr: "power(0::float8, -1)"}, {expr: "power(f8, 3)"}, {expr: "pow(1.1::float8, 10)"}, {expr: "power(10::float8, 400)"},
	{expr: "power(-8::float8, 3)"}, {expr: "power(f4, 2)"}, {expr: "power(tx, 2)"}, {expr: "power(i4, i4)", refused: true}, {expr: "power(n, 2)", refused: true},
	{expr: "sqrt(f8)"}, {expr: "sqrt(i4)"}, {expr: "sqrt(n)"}, {expr: "sqrt(n2)"}, {expr: "sqrt(2::numeric)"}, {expr: "sqrt(0::numeric)"},
	{expr: "sqrt(1e-20::numeric)"}, {expr: "sqrt(12345678901234567890::numeric)"}, {expr: "sqrt(-1::float8)"}, {expr: "sqrt(abs(i8))"},
	// ceil / floor / trunc / sign
	{expr: "ceil(n)"}, {expr: "ceil(f8)"}, {expr: "ceiling(n2)"}, {expr: "floor(n)"}, {expr: "floor(f4)"}, {expr: "floor(i4)"},
	{expr: "ceil(-0.5::float8)"}, {expr: "ceil(-0.5)"}, {expr: "trunc(n)"}, {expr: "trunc(f8)"}, {expr: "trunc(n, 2)"}, {expr: "trunc(n2, -1)"},
	{expr: "trunc(i4, 1)"}, {expr: "trunc(-1.99)"}, {expr: "sign(n)"}, {expr: "sign(f8)"}, {expr: "sign(i4)"}, {expr: "sign(n2)"},
	{expr: "ceil(tx)"}, {expr: "trunc(f8, 1)"}, {expr: "exp(f8)", refused: true}, {expr: "ln(n)", refused: true},
	// date_trunc / extract / date_part
	{expr: "date_trunc('month', ts)"}, {expr: "date_trunc('hour', tz)"}, {expr: "date_trunc('year', d)"}, {expr: "date_trunc('week', ts)"},
	{expr: "date_trunc('quarter', ts)"}, {expr: "date_trunc('decade', ts)"}, {expr: "date_trunc('century', ts)"},
	{expr: "date_trunc('millennium', tz)"}, {expr: "date_trunc('second', ts)"}, {expr: "date_trunc('milliseconds', ts)"},
	{expr: "date_trunc('minute', tz)"}, {expr: "date_trunc('day', ts)"}, {expr: "date_trunc('DAY', ts)"}, {expr: "date_trunc('foo', ts)"},
	{expr: "date_trunc('dow', ts)"}, {expr: "date_trunc('mon', ts)"}, {expr: "date_trunc(tx, ts)", refused: true}, {expr: "date_trunc('day', i4)"},
	{expr: "extract(year from ts)"}, {expr: "extract(month from d)"}, {expr: "extract(second from ts)"}, {expr: "extract(epoch from ts)"},
	{expr: "extract(epoch from tz)"}, {expr: "extract(epoch from d)"}, {expr: "extract(dow from ts)"}, {expr: "extract(isodow from d)"},
	{expr: "extract(doy from ts)"}, {expr: "extract(week from d)"}, {expr: "extract(isoyear from d)"}, {expr: "extract(quarter from tz)"},
	{expr: "extract(milliseconds from ts)"}, {expr: "extract(microseconds from tz)"}, {expr: "extract(hour from d)"},
	{expr: "extract(century from d)"}, {expr: "extract(decade from ts)"}, {expr: "extract(millennium from ts)"},
	{expr: "extract(timezone from tz)"}, {expr: "extract(timezone from ts)"}, {expr: "extract(foo from ts)"}, {expr: "extract(day from tz)"},
	{expr: "date_part('year', ts)"}, {expr: "date_part('second', ts)"}, {expr: "date_part('epoch', tz)"}, {expr: "date_part('hour', d)"},
	{expr: "date_part('milliseconds', ts)"}, {expr: "date_part('dow', d)"}, {expr: "date_part('epoch', d)"}, {expr: "date_part('minute', ts)"},
	// make_date / to_char
	{expr: "make_date(2020, 2, 29)"}, {expr: "make_date(2021, 2, 29)"}, {expr: "make_date(i4, 1, 1)"}, {expr: "make_date(-44, 3, 15)"},
	{expr: "make_date(0, 1, 1)"}, {expr: "make_date(2020, 13, 1)"},
	{expr: "to_char(ts, 'YYYY-MM-DD HH24:MI:SS')"}, {expr: "to_char(tz, 'YYYY-MM-DD\"T\"HH24:MI:SS.US')"}, {expr: "to_char(ts, 'Mon DD, YYYY')"},
	{expr: "to_char(ts, 'Day Month')"}, {expr: "to_char(ts, 'FMDay FMMonth')"}, {expr: "to_char(ts, 'DAY dy MON mon')"},
	{expr: "to_char(ts, 'HH12:MI AM')"}, {expr: "to_char(d, 'YYYY/MM/DD')"}, {expr: "to_char(ts, 'YY Q DDD D MS')"},
	{expr: "to_char(ts, 'FMMM/FMDD/YYYY')"}, {expr: "to_char(ts, 'Tomorrow')", refused: true}, {expr: "to_char(i4, '999')", refused: true},
	// intervals: see pg_interval_test.go
	{expr: "date_trunc('day', tz, 'UTC')", refused: true}, {expr: "to_char(ts, 'SSSS')", refused: true},
	{expr: "to_char(ts, 'HH24\"h\"MI')"}, {expr: "to_char(NULL::timestamp, 'YYYY')"}, {expr: "to_char(ts, NULL)"},
	// more regular expressions
	{expr: "E'a\\nb' ~ 'a.b'"}, {expr: "E'a\\nb' ~ 'a$'"}, {expr: "E'a\\nb' ~ '[^x]b'"}, {expr: "tx ~ '^$'"}, {expr: "tx ~ ''"},
	{expr: "tx ~ '\\d{2}'"}, {expr: "'aB' ~* '[a-b]{2}'"}, {expr: "'É' ~* 'é'"}, {expr: "regexp_replace('abcabc', '(b|bc)', 'X', 'g')"},
	{expr: "regexp_replace('aaa', 'a*', 'X', 'g')"}, {expr: "regexp_replace(tx, '', 'X', 'g')"}, {expr: "regexp_replace(tx, 'Q*', '-')"},
	{expr: "tx ~ 'a{256}'", refused: true}, {expr: "tx ~ '\\b'", refused: true},
	// jsonb
	{expr: "jb -> 'a'"}, {expr: "jb ->> 'a'"}, {expr: "jb -> 0"}, {expr: "jb ->> 1"}, {expr: "jb -> -1"}, {expr: "jb -> i2"},
	{expr: "jb -> i8"}, {expr: "jb -> tx"}, {expr: "jb #>> '{a}'"}, {expr: "jb #>> '{1}'"}, {expr: "jb #>> '{}'"},
	{expr: "jb @> '{\"a\": 1}'"}, {expr: "jb @> '1'"}, {expr: "jb @> '[2]'"}, {expr: "jb @> '{}'"}, {expr: "jb @> '\"s\"'"},
	{expr: "jb @> jb"}, {expr: "jb @> '{\"a\": 1.0}'"}, {expr: "jb ? 'a'"}, {expr: "jb ? 's'"}, {expr: "jb ? '1'"},
	{expr: "jsonb_typeof(jb)"}, {expr: "jsonb_typeof('{\"a\": [1, 2.50, 1e2]}')"}, {expr: "jsonb_array_length('[1, [2], {}]')"},
	{expr: "jsonb_array_length('5')"}, {expr: "jsonb_typeof('bad')"}, {expr: "jb @> '{\"a\": 1, \"a\": 2}'"},
	{expr: "mod('7', '3')"}, {expr: "sqrt('4')"}, {expr: "ceil('1.5')"}, {expr: "left('abc', '2')"}, {expr: "floor(-0.001)"},
	{expr: "ceil(0.001)"}, {expr: "floor(n2)"}, {expr: "trunc(12345.678, -2)"}, {expr: "sign(-0.0)"}, {expr: "jsonb_array_length(jb)"}, {expr: "jsonb_typeof(j)"},
	{expr: "jb @> '{bad'"}, {expr: "jb #>> '{0}'"}, {expr: "jb #>> '{0,a}'"}, {expr: "jb ? 'null'"},
	{expr: "regexp_replace(tx, '^a', 'X', 'g')", refused: true}, {expr: "regexp_replace(tx, '^.', 'X')"},
	{expr: "regexp_replace('a.b.c', '[.^]', '-', 'g')"}, {expr: "regexp_replace('héllo', '', '-', 'g')"}, {expr: "j -> 'a'", refused: true}, {expr: "jb #>> tx", refused: true},
	{expr: "jb @> '{\"b\": [1, {\"c\": \"x\"}], \"aa\": 1e2}'"}, {expr: "jb ->> 'a' = '1'"},
	// ANY / ALL
	{expr: "i4 = ANY(ARRAY[10, 3])"}, {expr: "i4 = ANY(ARRAY[1, NULL])"}, {expr: "i4 <> ALL(ARRAY[1, NULL])"}, {expr: "i4 <> ALL(ARRAY[1, 2])"},
	{expr: "tx = ANY(ARRAY['abc', ''])"}, {expr: "i4 > ALL(ARRAY[0, 5])"}, {expr: "i4 < ANY(ARRAY[1.5, 10.5])"}, {expr: "i4 = ANY(ARRAY[i2, i8])"},
	{expr: "i4 = ANY(ARRAY[1, 'x'])"}, {expr: "i4 = ANY(ARRAY[1, tx])"}, {expr: "NULL = ANY(ARRAY[1])"}, {expr: "d = ANY(ARRAY['2020-01-02'::date])"},
}

func init() { pgCases = append(pgCases, funcCases...) }
