// Added to FerretDB v1.24.2's SQLite backend by scripts/install-tools.sh (see patch-ferretdb.py).
//
// Upstream pushes a filter down to SQLite only when it is exactly `{_id: <string|ObjectId>}`.
// Switchboard keys every document by its natural ID and filters like `{_id: X, status: …}` or
// `{_id: {$in: [...]}}`: without pushdown each of those scans the whole table. The handler applies
// the complete filter to whatever the backend returns, so narrowing rows by `_id` here is safe.

package sqlite

import (
	"fmt"
	"strings"

	"github.com/FerretDB/FerretDB/internal/backends/sqlite/metadata"
	"github.com/FerretDB/FerretDB/internal/handler/sjson"
	"github.com/FerretDB/FerretDB/internal/types"
)

// maxPushdownIDs stays far below SQLite's limit on bound parameters.
const maxPushdownIDs = 10000

// idPushdown returns a WHERE clause restricting rows to the filter's `_id` equality, `$in` list
// of strings/ObjectIds or prefix range, or "" when the filter has no such condition.
func idPushdown(filter *types.Document) (string, []any) {
	if filter == nil {
		return "", nil
	}

	v, err := filter.Get("_id")
	if err != nil {
		return "", nil
	}

	switch v := v.(type) {
	case string, types.ObjectID:
		if arg, ok := idArg(v); ok {
			return fmt.Sprintf(` WHERE %s = ?`, metadata.IDColumn), []any{arg}
		}
	case *types.Document:
		if where, args := idPrefixRange(v); where != "" {
			return where, args
		}

		if v.Len() != 1 {
			return "", nil
		}

		in, err := v.Get("$in")
		if err != nil {
			return "", nil
		}

		arr, ok := in.(*types.Array)
		if !ok || arr.Len() == 0 || arr.Len() > maxPushdownIDs {
			return "", nil
		}

		args := make([]any, 0, arr.Len())
		for i := 0; i < arr.Len(); i++ {
			el, err := arr.Get(i)
			if err != nil {
				return "", nil
			}

			arg, ok := idArg(el)
			if !ok {
				return "", nil
			}

			args = append(args, arg)
		}

		marks := strings.TrimSuffix(strings.Repeat("?, ", len(args)), ", ")

		return fmt.Sprintf(` WHERE %s IN (%s)`, metadata.IDColumn, marks), args
	}

	return "", nil
}

// idPrefixRange pushes down `_id: {$gte: "P:", $lt: "P;"}` — every string _id starting with a
// prefix — as a range over the _id index. Only for bounds that differ just in their last character
// (by one) and contain no character JSON escapes: then the JSON text of every matching _id lies
// in the same range of JSON texts, so the pushed range holds every document the filter matches.
func idPrefixRange(d *types.Document) (string, []any) {
	if d.Len() != 2 {
		return "", nil
	}

	lo, errLo := d.Get("$gte")
	hi, errHi := d.Get("$lt")

	if errLo != nil || errHi != nil {
		return "", nil
	}

	l, okLo := lo.(string)
	h, okHi := hi.(string)

	if !okLo || !okHi || len(l) == 0 || len(l) != len(h) || l[:len(l)-1] != h[:len(h)-1] || h[len(h)-1] != l[len(l)-1]+1 {
		return "", nil
	}

	for _, c := range l + h {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == ':' || c == ';' || c == '_' || c == '-' || c == '.') {
			return "", nil
		}
	}

	loArg, _ := idArg(l)
	hiArg, _ := idArg(h)

	return fmt.Sprintf(` WHERE %s >= ? AND %s < ?`, metadata.IDColumn, metadata.IDColumn), []any{loArg, hiArg}
}

func idArg(v any) (string, bool) {
	switch v.(type) {
	case string, types.ObjectID:
		b, err := sjson.MarshalSingleValue(v)
		if err != nil {
			return "", false
		}

		return string(b), true
	default:
		return "", false
	}
}
