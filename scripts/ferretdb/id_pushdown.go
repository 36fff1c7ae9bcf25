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
// of strings/ObjectIds or string range, or "" when the filter has no such condition.
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

// idPrefixRange pushes down a string range over `_id` with both ends given — `{$gte|$gt: A,
// $lt|$lte: B}`, e.g. every _id starting with a prefix (`{$gte: "P:", $lt: "P;"}`) or a span of
// zero-padded sequence numbers — as a range over the _id index. Only for bounds made of characters
// JSON never escapes and that sort above '"': then JSON texts ('"' + s + '"') compare as the
// strings do, so the pushed range holds every string _id the filter matches (and the handler
// still applies the whole filter to what comes back).
func idPrefixRange(d *types.Document) (string, []any) {
	if d.Len() != 2 {
		return "", nil
	}

	loOp, lo := "", any(nil)
	hiOp, hi := "", any(nil)

	for _, op := range []string{"$gte", "$gt"} {
		if v, err := d.Get(op); err == nil {
			loOp, lo = op, v
		}
	}

	for _, op := range []string{"$lt", "$lte"} {
		if v, err := d.Get(op); err == nil {
			hiOp, hi = op, v
		}
	}

	l, okLo := lo.(string)
	h, okHi := hi.(string)

	if loOp == "" || hiOp == "" || !okLo || !okHi || len(l) == 0 || len(h) == 0 {
		return "", nil
	}

	for _, c := range l + h {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == ':' || c == ';' || c == '_' || c == '-' || c == '.') {
			return "", nil
		}
	}

	loArg, _ := idArg(l)
	hiArg, _ := idArg(h)
	sqlOp := map[string]string{"$gte": ">=", "$gt": ">", "$lt": "<", "$lte": "<="}

	return fmt.Sprintf(` WHERE %s %s ? AND %s %s ?`, metadata.IDColumn, sqlOp[loOp], metadata.IDColumn, sqlOp[hiOp]), []any{loArg, hiArg}
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
