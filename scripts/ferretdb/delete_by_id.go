// Added to FerretDB v1.24.2's handler by scripts/install-tools.sh (see patch-ferretdb.py).
//
// Upstream deletes by reading every matching document, decoding it and testing the filter in Go,
// then deleting the `_id`s it kept. For a filter that is only `_id` — `{_id: X}` or
// `{_id: {$in: [...]}}` — the rows to delete are known without reading them: a queue that deletes
// the 1,000 events it has just applied no longer decodes all 1,000 again (and tests each against a
// 1,000-element `$in`) first.

package handler

import (
	"github.com/FerretDB/FerretDB/internal/types"
)

// maxDirectDeleteIDs stays far below SQLite's limit on bound parameters.
const maxDirectDeleteIDs = 10000

// idsOnlyFilter returns the `_id`s named by a filter that is exactly `{_id: <string|ObjectId>}` or
// `{_id: {$in: [<string|ObjectId>, ...]}}`; false for any other filter.
func idsOnlyFilter(filter *types.Document) ([]any, bool) {
	if filter == nil || filter.Len() != 1 {
		return nil, false
	}

	v, err := filter.Get("_id")
	if err != nil {
		return nil, false
	}

	switch v := v.(type) {
	case string, types.ObjectID:
		return []any{v}, true
	case *types.Document:
		if v.Len() != 1 {
			return nil, false
		}

		in, err := v.Get("$in")
		if err != nil {
			return nil, false
		}

		arr, ok := in.(*types.Array)
		if !ok || arr.Len() == 0 || arr.Len() > maxDirectDeleteIDs {
			return nil, false
		}

		ids := make([]any, 0, arr.Len())

		for i := 0; i < arr.Len(); i++ {
			el, err := arr.Get(i)
			if err != nil {
				return nil, false
			}

			switch el.(type) {
			case string, types.ObjectID:
				ids = append(ids, el)
			default:
				return nil, false
			}
		}

		return ids, true
	}

	return nil, false
}
