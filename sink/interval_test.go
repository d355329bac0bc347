package sink

import "github.com/rippledb/ripple/internal/row"

// enumOID is an enum type registered for the sink tests, as cdc registers
// the source's enums; its values are stored as their labels.
const enumOID row.OID = 990101

// enumDDL creates enumOID's type in a PostgreSQL database.
const enumDDL = "CREATE TYPE mood AS ENUM ('Zen Mode', 'sad', 'ok', 'happy');\n"

// Interval and enum columns in every sink's round trip: equal spans with
// different fields ('1 day' and '24:00:00') must come back as written, and
// enum labels whose order is not their text order as their labels.
func init() {
	row.RegisterEnum(enumOID, &row.EnumType{Name: "mood", Labels: map[string]float64{"sad": 1, "ok": 2, "happy": 3, "Zen Mode": 0.5}})
	enum := typedColumn{"md", row.Type{OID: enumOID, Mod: -1}, []string{"happy", "Zen Mode", "sad", ""}}
	allTypes = append(allTypes, typedColumn{"iv", row.Interval, []string{"1 year 2 mons -3 days +04:05:06.5", "24:00:00", "1 day", ""}}, enum)
	myAllTypes = append(myAllTypes, typedColumn{"iv", row.Interval, []string{"-178956970 years -8 mons -2147483648 days -2562047788:00:54.775807", "24:00:00", "1 day", ""}}, enum)
}
