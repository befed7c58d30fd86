package postings

import (
	"cmp"
	"container/heap"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/google/btree"
	"github.com/opencontainers/go-digest"

	"github.com/cairn-dev/cairn/annotations"
	"github.com/cairn-dev/cairn/catalog"
)

// Artifacts returns up to n artifacts matching q, in the order s, strictly
// after the cursor (nil for the first), with the semantics of
// catalog.Querier.Artifacts. q, s and the cursor must have been checked
// (as sqlquery does).
func (ix *Index) Artifacts(q catalog.Query, s catalog.Sort, n int, after *catalog.Cursor) ([]Hit, error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	set, keep := ix.match(q)
	var pivot *entry
	if after != nil {
		pivot = &entry{repo: &repo{name: after.Repository}, digest: string(after.Digest)}
	}
	switch s.Field {
	case catalog.SortPushed, catalog.SortSize, catalog.SortRepository:
		tree, less := ix.byName, byName
		if pivot != nil && s.Field != catalog.SortRepository {
			v, err := strconv.ParseInt(after.Value, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%w: cursor value %q is not an integer", catalog.ErrInvalidQuery, after.Value)
			}
			pivot.pushed, pivot.size = v, v
		}
		switch s.Field {
		case catalog.SortPushed:
			tree, less = ix.byPushed, byPushed
		case catalog.SortSize:
			tree, less = ix.bySize, bySize
		}
		es := ordered(set, keep, tree, less, s.Desc, ref(pivot), n, ix.entryAt)
		return hits(es), nil
	case catalog.SortAnnotation:
		return ix.byAnnotationKey(set, keep, s, pivot, after, n), nil
	}
	return nil, fmt.Errorf("%w: unknown sort field %d", catalog.ErrInvalidQuery, int(s.Field))
}

// byAnnotationKey is Artifacts sorted by an annotation: those that have
// it by its sort key, then those that lack it.
func (ix *Index) byAnnotationKey(set *roaring.Bitmap, keep func(*entry) bool, s catalog.Sort, pivot *entry, after *catalog.Cursor, n int) []Hit {
	kid, known := ix.strs.lookup(s.Key)
	kp := ix.keys[kid]
	if !known || kp == nil {
		// Every artifact lacks it; a cursor among those that had it (gone
		// since) leaves them all still to come.
		if after != nil && !after.Missing {
			pivot = nil
		}
		return hits(ordered(set, keep, ix.byName, byName, s.Desc, ref(pivot), n, ix.entryAt))
	}
	var out []Hit
	if after == nil || !after.Missing {
		var ip *annItem
		if pivot != nil {
			ip = &annItem{e: pivot, pivot: parsePivot(after.Value)}
		}
		tree := ix.annotationOrder(kid)
		present := roaring.And(set, kp.all)
		itemAt := func(slot uint32) annItem {
			e := ix.entries[slot]
			v, _ := e.value(kid)
			return annItem{e: e, vid: v}
		}
		var ikeep func(annItem) bool
		if keep != nil {
			ikeep = func(it annItem) bool { return keep(it.e) }
		}
		for _, it := range ordered(present, ikeep, tree, ix.annLess, s.Desc, ip, n, itemAt) {
			sk := ix.strs.sortKey(it.vid)
			out = append(out, Hit{Key: it.e.key(), SortKey: &sk})
		}
		pivot = nil // the others start at the first that lacks it
	}
	if len(out) < n {
		absent := roaring.AndNot(set, kp.all)
		out = append(out, hits(ordered(absent, keep, ix.byName, byName, s.Desc, ref(pivot), n-len(out), ix.entryAt))...)
	}
	return out
}

// ref returns a pointer to the pivot p, nil when there is none.
func ref(p *entry) **entry {
	if p == nil {
		return nil
	}
	return &p
}

func (ix *Index) entryAt(slot uint32) *entry { return ix.entries[slot] }

func (e *entry) key() Key { return Key{Repository: e.repo.name, Digest: digest.Digest(e.digest)} }

// hits are the artifacts of es, none sorted by an annotation.
func hits(es []*entry) []Hit {
	out := make([]Hit, len(es))
	for i, e := range es {
		out[i] = Hit{Key: e.key()}
	}
	return out
}

// annItem is an artifact in the order of one annotation: by the sort key
// of its value there (vid), then repository and digest. A cursor's item
// carries its sort key as pivot instead.
type annItem struct {
	e     *entry
	vid   uint32
	pivot *pivotKey
}

// pivotKey is a cursor's annotation sort key: its kind and bits or text
// when it is one annotations.SortKey makes (as cursors the store made
// are), and only its text when it is not.
type pivotKey struct {
	raw  string
	ok   bool
	kind annotations.Kind
	bits uint64
	text string
}

func parsePivot(sk string) *pivotKey {
	p := &pivotKey{raw: sk}
	if sk == "" {
		return p
	}
	switch k := annotations.Kind(sk[0]); k {
	case annotations.Text:
		p.ok, p.kind, p.text = true, k, sk[1:]
	case annotations.Number, annotations.Time:
		if len(sk) == 17 && strings.ToLower(sk) == sk {
			if bits, err := strconv.ParseUint(sk[1:], 16, 64); err == nil {
				p.ok, p.kind, p.bits = true, k, bits
			}
		}
	}
	return p
}

// compareSortKeys compares the sort keys of a and b as strings would be,
// without making them.
func (ix *Index) compareSortKeys(a, b annItem) int {
	if a.pivot != nil && !a.pivot.ok || b.pivot != nil && !b.pivot.ok {
		return strings.Compare(ix.sortKeyOf(a), ix.sortKeyOf(b))
	}
	ka, ba, ta := ix.keyParts(a)
	kb, bb, tb := ix.keyParts(b)
	if ka != kb {
		return cmp.Compare(ka, kb)
	}
	if ka == annotations.Text {
		return strings.Compare(ta, tb)
	}
	return cmp.Compare(ba, bb)
}

func (ix *Index) keyParts(it annItem) (annotations.Kind, uint64, string) {
	if p := it.pivot; p != nil {
		return p.kind, p.bits, p.text
	}
	return ix.strs.kinds[it.vid], ix.strs.bits[it.vid], ix.strs.strs[it.vid]
}

func (ix *Index) sortKeyOf(it annItem) string {
	if it.pivot != nil {
		return it.pivot.raw
	}
	return ix.strs.sortKey(it.vid)
}

func (ix *Index) annLess(a, b annItem) bool {
	if c := ix.compareSortKeys(a, b); c != 0 {
		return c < 0
	}
	return byName(a.e, b.e)
}

// annotationOrder returns the order of the artifacts with key kid, built
// now if the index does not keep it (under the read lock).
func (ix *Index) annotationOrder(kid uint32) *btree.BTreeG[annItem] {
	ix.ordersMu.Lock()
	defer ix.ordersMu.Unlock()
	ix.clock++
	if o := ix.byAnnotation[kid]; o != nil {
		o.used = ix.clock
		return o.tree
	}
	if len(ix.byAnnotation) >= maxAnnotationOrders {
		var oldest uint32
		var at uint64
		for k, o := range ix.byAnnotation {
			if at == 0 || o.used < at {
				oldest, at = k, o.used
			}
		}
		delete(ix.byAnnotation, oldest)
	}
	tree := btree.NewG(treeDegree, ix.annLess)
	it := ix.keys[kid].all.Iterator()
	for it.HasNext() {
		e := ix.entries[it.Next()]
		v, _ := e.value(kid)
		tree.ReplaceOrInsert(annItem{e: e, vid: v})
	}
	ix.byAnnotation[kid] = &annotationOrder{tree: tree, used: ix.clock}
	return tree
}

// walkBudget is how many times the entries it expects to read a walk
// along an order may read before it reads the set's artifacts directly
// instead (the set is then sparse where the walk began).
const walkBudget = 4

// keepWalk is how many entries a walk may read, at least, when a test on
// each entry (text, push times) decides besides the set: a few
// milliseconds of tests.
const keepWalk = 1 << 15

// ordered returns up to n items of set (those keep, when not nil, also
// passes) in the order of tree (less; reversed when desc), strictly after
// pivot when it is not nil. Where set is dense in tree it walks the tree
// from pivot, testing each item; where it is sparse, or the walk reads
// far more than the density promised, it reads each item of set and keeps
// the first n in order.
func ordered[T orderItem](set *roaring.Bitmap, keep func(T) bool, tree *btree.BTreeG[T], less func(a, b T) bool, desc bool, pivot *T, n int, itemAt func(uint32) T) []T {
	card := set.GetCardinality()
	if card == 0 || n <= 0 {
		return nil
	}
	before := less
	if desc {
		before = func(a, b T) bool { return less(b, a) }
	}
	// A walk reads about n/density entries, reading the set costs one
	// entry each (and a heap push): walk when that is fewer.
	if expect := uint64(n) * uint64(tree.Len()) / card; expect <= card {
		budget := walkBudget*expect + 64
		if keep != nil {
			// The set's density says nothing of how many keep passes
			// (text, push times): walk further before reading it all.
			budget = max(budget, keepWalk)
		}
		var out []T
		visits := uint64(0)
		complete := true
		visit := func(it T) bool {
			if pivot != nil && !before(*pivot, it) {
				return true // the cursor's own item
			}
			if visits++; visits > budget {
				complete = false
				return false
			}
			if set.Contains(it.itemSlot()) && (keep == nil || keep(it)) {
				out = append(out, it)
			}
			return len(out) < n
		}
		switch {
		case pivot == nil && !desc:
			tree.Ascend(visit)
		case pivot == nil:
			tree.Descend(visit)
		case !desc:
			tree.AscendGreaterOrEqual(*pivot, visit)
		default:
			tree.DescendLessOrEqual(*pivot, visit)
		}
		if complete {
			return out
		}
	}
	// Keep the n first in a heap whose top is the last of them.
	h := &topN[T]{before: before}
	it := set.Iterator()
	for it.HasNext() {
		item := itemAt(it.Next())
		if pivot != nil && !before(*pivot, item) || keep != nil && !keep(item) {
			continue
		}
		if len(h.items) < n {
			heap.Push(h, item)
		} else if before(item, h.items[0]) {
			h.items[0] = item
			heap.Fix(h, 0)
		}
	}
	out := h.items
	slices.SortFunc(out, func(a, b T) int {
		if before(a, b) {
			return -1
		}
		return 1
	})
	return out
}

// orderItem is an item of an order: an artifact, or an artifact with its
// value of the annotation ordered by.
type orderItem interface{ itemSlot() uint32 }

func (e *entry) itemSlot() uint32 { return e.slot }

func (it annItem) itemSlot() uint32 { return it.e.slot }

// topN is a heap whose top is the item that comes last.
type topN[T any] struct {
	items  []T
	before func(a, b T) bool
}

func (h *topN[T]) Len() int           { return len(h.items) }
func (h *topN[T]) Less(i, j int) bool { return h.before(h.items[j], h.items[i]) }
func (h *topN[T]) Swap(i, j int)      { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *topN[T]) Push(x any)         { h.items = append(h.items, x.(T)) }
func (h *topN[T]) Pop() any {
	x := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return x
}

// match returns the artifacts q selects but for its push time bounds and
// its text, and the test of those on an artifact (nil when it has none).
func (ix *Index) match(q catalog.Query) (*roaring.Bitmap, func(*entry) bool) {
	var ands, nots []*roaring.Bitmap
	none := false
	need := func(bm *roaring.Bitmap) {
		if bm == nil || bm.IsEmpty() {
			none = true
			return
		}
		ands = append(ands, bm)
	}
	byID := func(m map[uint32]*roaring.Bitmap, s string) *roaring.Bitmap {
		if id, ok := ix.strs.lookup(s); ok {
			return m[id]
		}
		return nil
	}
	if q.Repository != "" {
		var bm *roaring.Bitmap
		if r := ix.repos[q.Repository]; r != nil {
			bm = r.bm
		}
		need(bm)
	}
	if q.RepositoryPrefix != "" {
		need(ix.reposWithPrefix(q.RepositoryPrefix))
	}
	if q.ArtifactType != "" {
		need(byID(ix.types, q.ArtifactType))
	}
	if q.MediaType != "" {
		need(byID(ix.media, q.MediaType))
	}
	if q.Tag != "" {
		need(byID(ix.tags, q.Tag))
	}
	if q.Subject != "" {
		need(byID(ix.subjects, string(q.Subject)))
	}
	if q.HasSubject != nil {
		if *q.HasSubject {
			need(ix.hasSubject)
		} else {
			nots = append(nots, ix.hasSubject)
		}
	}
	if q.Signed != nil {
		if *q.Signed {
			need(ix.signed)
		} else {
			nots = append(nots, ix.signed)
		}
	}
	for _, f := range q.Annotations {
		switch f.Op {
		case annotations.Ne:
			if bm := ix.filter(annotations.Filter{Key: f.Key, Op: annotations.Eq, Values: f.Values}); bm != nil {
				nots = append(nots, bm)
			}
		case annotations.Absent:
			if bm := ix.filter(annotations.Filter{Key: f.Key, Op: annotations.Exists}); bm != nil {
				nots = append(nots, bm)
			}
		default:
			need(ix.filter(f))
		}
	}
	if q.Viewer != nil {
		need(ix.seen(q.Viewer))
	}
	if none {
		return roaring.New(), nil
	}
	var out *roaring.Bitmap
	if len(ands) == 0 {
		out = ix.live.Clone()
	} else {
		slices.SortFunc(ands, func(a, b *roaring.Bitmap) int { return cmp.Compare(a.GetCardinality(), b.GetCardinality()) })
		out = ands[0].Clone()
		for _, bm := range ands[1:] {
			out.And(bm)
		}
	}
	for _, bm := range nots {
		out.AndNot(bm)
	}
	var keep func(*entry) bool
	if !q.PushedAfter.IsZero() || !q.PushedBefore.IsZero() {
		lo, hi := int64(-1<<63), int64(1<<63-1)
		if !q.PushedAfter.IsZero() {
			lo = q.PushedAfter.UnixMicro()
		}
		if !q.PushedBefore.IsZero() {
			hi = q.PushedBefore.UnixMicro()
		}
		keep = func(e *entry) bool {
			return (q.PushedAfter.IsZero() || e.pushed > lo) && (q.PushedBefore.IsZero() || e.pushed < hi)
		}
	}
	if q.Text != "" {
		needle, pushed := foldASCII(q.Text), keep
		keep = func(e *entry) bool {
			return (pushed == nil || pushed(e)) && ix.hasText(e, needle)
		}
	}
	return out, keep
}

// filter returns the artifacts a drivable annotation filter (Eq, Prefix,
// Exists or a range) selects, nil for none.
func (ix *Index) filter(f annotations.Filter) *roaring.Bitmap {
	kid, ok := ix.strs.lookup(f.Key)
	kp := ix.keys[kid]
	if !ok || kp == nil {
		return nil
	}
	var ps []posting
	switch f.Op {
	case annotations.Exists:
		return kp.all
	case annotations.Eq:
		for _, v := range f.Values {
			if vid, ok := ix.strs.lookup(v); ok {
				if p, ok := kp.values[vid]; ok {
					ps = append(ps, p)
				}
			}
		}
	case annotations.Prefix:
		for vid, p := range kp.values {
			if strings.HasPrefix(ix.strs.strs[vid], f.Values[0]) {
				ps = append(ps, p)
			}
		}
	default:
		in := rangeTest(f)
		for vid, p := range kp.values {
			if in(ix.strs.strs[vid], ix.strs.kinds[vid], ix.strs.bits[vid]) {
				ps = append(ps, p)
			}
		}
	}
	return union(ps)
}

// rangeTest returns the test of a range filter on a value, given its
// annotations.SortBits: annotations.Filter.MatchesValue without parsing
// the value again.
func rangeTest(f annotations.Filter) func(v string, kind annotations.Kind, bits uint64) bool {
	operand := f.Values[0]
	okind, obits := annotations.SortBits(operand)
	return func(v string, kind annotations.Kind, bits uint64) bool {
		var c int
		if okind != annotations.Text && kind == okind {
			c = cmp.Compare(bits, obits)
		} else {
			c = strings.Compare(v, operand)
		}
		return f.Op.Holds(c)
	}
}

// reposWithPrefix returns the artifacts of the repositories whose names
// start with p.
func (ix *Index) reposWithPrefix(p string) *roaring.Bitmap {
	names := ix.names()
	var bms []*roaring.Bitmap
	for i := sort.SearchStrings(names, p); i < len(names) && strings.HasPrefix(names[i], p); i++ {
		bms = append(bms, ix.repos[names[i]].bm)
	}
	return roaring.FastOr(bms...)
}

// seen returns the artifacts v sees: catalog.Viewer.Sees over sets.
func (ix *Index) seen(v *catalog.Viewer) *roaring.Bitmap {
	parts := []*roaring.Bitmap{ix.vis[visPublic]}
	if v.ByDigest {
		parts = append(parts, ix.vis[visUnlisted])
	}
	if v.User != "" {
		if id, ok := ix.strs.lookup(v.User); ok && ix.owners[id] != nil {
			parts = append(parts, ix.owners[id])
		}
	}
	var read, public []*roaring.Bitmap
	for name, r := range ix.repos {
		switch {
		case v.Admin.Has(name):
			parts = append(parts, r.bm)
			continue
		case v.Read.Has(name):
			read = append(read, r.bm)
		}
		if v.Public.Has(name) {
			public = append(public, r.bm)
		}
	}
	if len(read) > 0 {
		parts = append(parts, roaring.AndNot(roaring.FastOr(read...), ix.vis[visStaged]))
	}
	if len(public) > 0 {
		parts = append(parts, roaring.And(roaring.FastOr(public...), ix.vis[visInherit]))
	}
	return roaring.FastOr(parts...)
}

// matching returns the artifacts q selects, push time bounds and text
// included.
func (ix *Index) matching(q catalog.Query) *roaring.Bitmap {
	set, keep := ix.match(q)
	if keep == nil {
		return set
	}
	out := roaring.New()
	it := set.Iterator()
	for it.HasNext() {
		if slot := it.Next(); keep(ix.entries[slot]) {
			out.Add(slot)
		}
	}
	return out
}

// AnnotationKeys counts, for each annotation key, the artifacts matching q
// that have it: most used first, then by key, up to limit; with the
// semantics of catalog.Querier.AnnotationKeys (q checked).
func (ix *Index) AnnotationKeys(q catalog.Query, limit int) []catalog.Count {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	set := ix.matching(q)
	whole := set.GetCardinality() == ix.live.GetCardinality()
	out := []catalog.Count{}
	for kid, kp := range ix.keys {
		var c uint64
		if whole {
			c = kp.all.GetCardinality()
		} else {
			c = set.AndCardinality(kp.all)
		}
		if c > 0 {
			out = append(out, catalog.Count{Value: ix.strs.strs[kid], Count: int64(c)})
		}
	}
	return top(out, limit)
}

// AnnotationValues counts, for each value of key, the artifacts matching
// q that have it: most used first, then by value, up to limit; with the
// semantics of catalog.Querier.AnnotationValues.
func (ix *Index) AnnotationValues(key string, q catalog.Query, limit int) []catalog.Count {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	out := []catalog.Count{}
	kid, ok := ix.strs.lookup(key)
	kp := ix.keys[kid]
	if !ok || kp == nil {
		return out
	}
	set := ix.matching(q)
	set.And(kp.all)
	n := set.GetCardinality()
	switch {
	case n == kp.all.GetCardinality():
		for vid, p := range kp.values {
			out = append(out, catalog.Count{Value: ix.strs.strs[vid], Count: int64(p.card())})
		}
	case n < 8*uint64(len(kp.values)):
		counts := map[uint32]int64{}
		it := set.Iterator()
		for it.HasNext() {
			v, _ := ix.entries[it.Next()].value(kid)
			counts[v]++
		}
		for vid, c := range counts {
			out = append(out, catalog.Count{Value: ix.strs.strs[vid], Count: c})
		}
	default:
		for vid, p := range kp.values {
			if c := p.andCard(set); c > 0 {
				out = append(out, catalog.Count{Value: ix.strs.strs[vid], Count: int64(c)})
			}
		}
	}
	return top(out, limit)
}

// top sorts counts, most first, then by value, and keeps the first limit.
func top(cs []catalog.Count, limit int) []catalog.Count {
	slices.SortFunc(cs, func(a, b catalog.Count) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), strings.Compare(a.Value, b.Value))
	})
	if len(cs) > limit {
		cs = cs[:limit]
	}
	return cs
}

// RepositorySummaries lists the repositories whose names start with
// prefix, by name, after the name after, up to limit, with the semantics
// of catalog.Querier.RepositorySummaries (arguments checked): only those
// where v (nil: everything) sees an artifact, counting what it sees.
func (ix *Index) RepositorySummaries(prefix, after string, v *catalog.Viewer, limit int) []catalog.RepositorySummary {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	var seen *roaring.Bitmap
	if v != nil {
		seen = ix.seen(v)
	}
	out := []catalog.RepositorySummary{}
	names := ix.names()
	for i := sort.SearchStrings(names, prefix); i < len(names) && strings.HasPrefix(names[i], prefix) && len(out) < limit; i++ {
		if names[i] <= after {
			continue
		}
		set := ix.repos[names[i]].bm
		if seen != nil {
			if set = roaring.And(set, seen); set.IsEmpty() {
				continue
			}
		}
		r := catalog.RepositorySummary{Name: names[i]}
		last := int64(-1 << 63)
		it := set.Iterator()
		for it.HasNext() {
			e := ix.entries[it.Next()]
			r.Artifacts++
			r.Tags += int64(len(e.tags))
			r.Size += e.size
			last = max(last, e.pushed)
		}
		r.LastPush = time.UnixMicro(last).UTC()
		out = append(out, r)
	}
	return out
}
