// Added to FerretDB v1.24.2's handler by scripts/install-tools.sh (see patch-ferretdb.py).
//
// Upstream applies an update by reading the document, changing it in Go and writing it back, with
// nothing keeping another connection from doing the same in between: concurrent `$inc`s are lost
// and a conditional update can act on a stale read. MongoDB makes each single-document update
// atomic; holding this lock from an update's read to its write gives the same guarantee (this
// server is one process, so a process-wide lock per collection is enough).

package handler

import "sync"

var collectionLocks sync.Map // "<db>.<collection>" → *sync.Mutex

// lockCollection locks the collection's read-modify-write section and returns the unlock function.
func lockCollection(db, collection string) func() {
	m, _ := collectionLocks.LoadOrStore(db+"."+collection, &sync.Mutex{})
	mu := m.(*sync.Mutex)
	mu.Lock()

	return mu.Unlock
}
