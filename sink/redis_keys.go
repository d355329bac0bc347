package sink

import (
	"strings"

	"github.com/rippledb/ripple/internal/row"
)

// This file holds the Redis sink's key layout (see Redis and
// redis_layout.md). Every key is built here, so the layout lives in one
// place.

// DefaultRedisPrefix is the key prefix of a Redis sink whose RedisConfig
// leaves Prefix empty.
const DefaultRedisPrefix = "ripple:"

// redisKeysSuffix ends the name of a view's key-index set. No row key is
// that name: a row key's first component never starts with an unescaped '_'.
const redisKeysSuffix = "__keys"

// redisProgressKey is the key holding pipeline's progress LSN.
func redisProgressKey(prefix, pipeline string) string {
	return prefix + "__progress:" + pipeline
}

// redisCatalogKey is the hash mapping each view segment of pipeline to its
// catalog entry (JSON).
func redisCatalogKey(prefix, pipeline string) string {
	return prefix + "__views:" + pipeline
}

// redisOwnersKey is the hash mapping each view segment to the pipeline that
// loaded it, shared by every pipeline writing under prefix. It is what lets
// Open refuse a view another pipeline keeps.
func redisOwnersKey(prefix string) string {
	return prefix + "__owners"
}

// redisPartsKey is the hash in which a step written in parts (redisParts)
// records the keys of the view with segment seg that its earlier parts
// retracted ("0") or inserted ("1"): the queued commands of a MULTI are not
// run until EXEC, so later parts are checked against it. Only the pipeline
// that owns the view writes it, and it is deleted when the step ends.
func redisPartsKey(prefix, seg string) string {
	return prefix + "__parts:" + seg
}

// redisViewSegment names a view inside keys: schema and name joined with
// '.', each with '\', ':' and '.' escaped by a backslash, so that distinct
// views never share a segment and the segment always ends at the first
// unescaped ':'.
func redisViewSegment(name row.TableName) string {
	b := appendRedisEscaped(nil, name.Schema, true)
	b = append(b, '.')
	b = appendRedisEscaped(b, name.Name, true)
	return string(b)
}

// redisKeysKey is the set of row keys of the view with segment seg.
func redisKeysKey(prefix, seg string) string {
	return prefix + seg + ":" + redisKeysSuffix
}

// appendRedisRowKey appends the key of the hash holding r, a row of a view
// whose keys start with rowPrefix ({prefix}{segment}:) and whose unique key
// is the columns key: the key columns' text joined with ':', each escaped
// ('\' → "\\", ':' → "\:"), NULL written "\N". A leading '_' is written
// "\_" so that no row key is the view's "__keys" set.
func appendRedisRowKey(buf []byte, rowPrefix string, key []int, r row.Row) []byte {
	buf = append(buf, rowPrefix...)
	for i, k := range key {
		if i > 0 {
			buf = append(buf, ':')
		}
		d := r[k]
		if d.IsNull() {
			buf = append(buf, `\N`...)
			continue
		}
		s := row.FormatText(d)
		if i == 0 && strings.HasPrefix(s, "_") {
			buf = append(buf, '\\')
		}
		buf = appendRedisEscaped(buf, s, false)
	}
	return buf
}

// appendRedisEscaped appends s with '\' and ':' (and '.' when dot is set)
// preceded by a backslash.
func appendRedisEscaped(buf []byte, s string, dot bool) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' || c == ':' || (dot && c == '.'):
			buf = append(buf, '\\', c)
		default:
			buf = append(buf, c)
		}
	}
	return buf
}
