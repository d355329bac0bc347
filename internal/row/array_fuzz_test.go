package row

// Arrays join FuzzParseText's types: array_in's quoting, escapes and
// white space must round-trip like every scalar.
func init() {
	fuzzTypes = append(fuzzTypes, Type{OIDInt4Array, -1}, Type{OIDTextArray, -1}, Type{OIDNumericArray, -1},
		Type{OIDByteaArray, -1}, Type{OIDJSONArray, -1}, Type{OIDTimestampTZArray, -1}, Type{OIDFloat4Array, -1})
}
