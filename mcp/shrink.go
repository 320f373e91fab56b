package mcp

// Maps that give memory back.
//
// A Go map never shrinks: deleting entries leaves its table at the size it
// grew to, and maps.Clone copies that size too. The maps that grow with the
// number of clients (the sessions by id, the per-owner index, a keeper's
// hijacked streams) would so keep the memory of their busiest moment for
// the life of the process: after 10,000 idle streams have come and gone,
// some 400 KiB for the session table alone. Each of them remembers its
// high-water mark, and once it has fallen well below it the map is copied
// into a fresh one sized to what is left, and the old table becomes garbage.

// shrinkMinPeak is the high-water mark below which a map is left alone:
// its table costs some 10 KiB at most, and a small map that fills
// and empties again must not be copied back and forth.
const shrinkMinPeak = 256

// mapPeak is the high-water mark of one map's length since it was last
// rebuilt.
type mapPeak int

// grew records the map's length after an insert.
func (p *mapPeak) grew(n int) {
	if n > int(*p) {
		*p = mapPeak(n)
	}
}

// shrunk returns m, or a fresh copy of m when m has fallen below a quarter
// of its high-water mark p (which then restarts from the copy's length).
// Call it after deleting from m, under the lock that guards m. A copy costs
// len(m), less than a third of the deletions since the peak, so the cost
// per delete stays constant.
func shrunk[K comparable, V any](m map[K]V, p *mapPeak) map[K]V {
	if int(*p) < shrinkMinPeak || len(m) >= int(*p)/4 {
		return m
	}
	fresh := make(map[K]V, len(m))
	for k, v := range m {
		fresh[k] = v
	}
	*p = mapPeak(len(fresh))
	return fresh
}
