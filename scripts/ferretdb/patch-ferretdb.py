"""Local fixes applied to FerretDB v1.24.2's source before scripts/install-tools.sh builds it.

1. The SQLite backend looks documents up by `_ferretdb_sjson->'$._id'` while the unique `_id`
   index it creates is on `_ferretdb_sjson->"_id"`: the same value, but SQLite uses an index only
   when the expression matches, so every lookup by _id scanned the whole table (about 100 ms at
   50k documents instead of 0.5 ms). The lookup is spelled like the index.
3. An `update` command with many statements (a bulkWrite) kept every statement's query open until
   the whole command ended (`defer` inside the loop). Each open query holds one of the SQLite
   pool's 100 connections, so a bulk of more than ~100 updates waited forever for a connection it
   held itself — and every other client with it. Each statement's query is closed when it is done.
2. Queries push `_id` equality, `_id: {$in: [...]}` and string-prefix ranges
   (`{$gte: "P:", $lt: "P;"}`) down to SQLite even when the filter has other conditions too
   (id_pushdown.go); upstream only pushes a filter that is exactly `{_id: X}`.
4. A delete whose filter is only `_id` (`{_id: X}`, `{_id: {$in: [...]}}`) deletes those rows
   directly instead of reading and decoding every one first (delete_by_id.go).
Each replacement must apply exactly, or the build stops: a silent no-op would hide a slow database.
"""
import shutil
import sys
from pathlib import Path

src = Path(sys.argv[1])
here = Path(__file__).resolve().parent


def replace(rel: str, old: str, new: str) -> None:
    path = src / rel
    text = path.read_text()
    if text.count(old) != 1:
        sys.exit(f"FerretDB patch did not apply to {rel}: expected one occurrence of {old!r}")
    path.write_text(text.replace(old, new))


replace(
    "internal/backends/sqlite/metadata/metadata.go",
    "IDColumn = DefaultColumn + \"->'$._id'\"",
    'IDColumn = DefaultColumn + `->"_id"`',
)
replace(
    "internal/backends/sqlite/collection.go",
    """	if params.Filter.Len() == 1 {
		v, _ := params.Filter.Get("_id")
		switch v.(type) {
		case string, types.ObjectID:
			whereClause = fmt.Sprintf(` WHERE %s = ?`, metadata.IDColumn)
			args = []any{string(must.NotFail(sjson.MarshalSingleValue(v)))}
		}
	}

	q += whereClause""",
    """	whereClause, args = idPushdown(params.Filter)

	q += whereClause""",
)
replace(
    "internal/handler/msg_update.go",
    """		closer := iterator.NewMultiCloser()
		defer closer.Close()

		closer.Add(res.Iter)

		iter := common.FilterIterator(res.Iter, closer, u.Filter)

		if !u.Multi {
			iter = common.LimitIterator(iter, closer, 1)
		}

		result, err := common.UpdateDocument(ctx, c, "update", iter, &u)
		if err != nil {""",
    """		closer := iterator.NewMultiCloser()

		closer.Add(res.Iter)

		iter := common.FilterIterator(res.Iter, closer, u.Filter)

		if !u.Multi {
			iter = common.LimitIterator(iter, closer, 1)
		}

		result, err := common.UpdateDocument(ctx, c, "update", iter, &u)
		closer.Close()
		if err != nil {""",
)
shutil.copy(here / "id_pushdown.go", src / "internal/backends/sqlite/id_pushdown.go")
# 4. Updates are read-modify-write in Go (read the document, apply $inc/$set/$max, write it back)
#    with nothing stopping two connections from interleaving: 50 concurrent `$inc: {n: 1}` on one
#    document left n = 16. Each update statement and findAndModify now holds a per-collection
#    lock from its read to its write (write_lock.go), as MongoDB's document-level atomicity promises.
replace(
    "internal/handler/msg_update.go",
    """		res, err := c.Query(ctx, &qp)
		if err != nil {
			return 0, 0, nil, lazyerrors.Error(err)
		}
""",
    """		unlock := lockCollection(params.DB, params.Collection)

		res, err := c.Query(ctx, &qp)
		if err != nil {
			unlock()
			return 0, 0, nil, lazyerrors.Error(err)
		}
""",
)
replace(
    "internal/handler/msg_update.go",
    """		result, err := common.UpdateDocument(ctx, c, "update", iter, &u)
		closer.Close()
""",
    """		result, err := common.UpdateDocument(ctx, c, "update", iter, &u)
		closer.Close()
		unlock()
""",
)
replace(
    "internal/handler/msg_findandmodify.go",
    """	queryRes, err := c.Query(ctx, &qp)
""",
    """	defer lockCollection(params.DB, params.Collection)()

	queryRes, err := c.Query(ctx, &qp)
""",
)
shutil.copy(here / "write_lock.go", src / "internal/handler/write_lock.go")
replace(
    "internal/handler/msg_delete.go",
    """func (h *Handler) execDelete(ctx context.Context, c backends.Collection, p *common.Delete) (int32, error) {
	var qp backends.QueryParams
""",
    """func (h *Handler) execDelete(ctx context.Context, c backends.Collection, p *common.Delete) (int32, error) {
	if ids, ok := idsOnlyFilter(p.Filter); ok && !h.DisablePushdown && (!p.Limited || len(ids) == 1) {
		d, err := c.DeleteAll(ctx, &backends.DeleteAllParams{IDs: ids})
		if err != nil {
			return 0, lazyerrors.Error(err)
		}

		return d.Deleted, nil
	}

	var qp backends.QueryParams
""",
)
shutil.copy(here / "delete_by_id.go", src / "internal/handler/delete_by_id.go")
