// Package postings is an in-memory index of the catalog for its API's
// queries: for each annotation value, repository, artifact type, tag,
// subject, owner and visibility, the set of artifacts that have it (a
// posting list, kept as a compressed bitmap of artifact slots), and the
// artifacts in each sort order (B-trees). A filtered, sorted page is then
// an intersection of bitmaps and a short walk along one order, and a
// facet a count of intersections, where SQL on a key-value table must
// search a B-tree for every artifact it considers (a few microseconds
// each, thousands of them for a rare filter).
//
// The index answers which artifacts, in which order; the store it sits
// beside reads their details. It holds what Entry holds of each artifact,
// and is kept current by whoever owns it (catalog/sqlite replays its
// change log before each query).
package postings

import (
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/google/btree"
	"github.com/opencontainers/go-digest"

	"github.com/cairn-dev/cairn/annotations"
	"github.com/cairn-dev/cairn/catalog"
)

// Entry is what the index holds of one artifact.
type Entry struct {
	Repository   string
	Digest       digest.Digest
	MediaType    string
	ArtifactType string
	Subject      digest.Digest
	TotalSize    int64
	// PushedAt is in microseconds since the Unix epoch, as the stores keep
	// it and as cursors carry it.
	PushedAt    int64
	Annotations map[string]string
	Tags        []string
	Owner       string
	Visibility  catalog.Visibility
	// Signed: the artifact has a verified signature.
	Signed bool
}

// Key names an artifact.
type Key struct {
	Repository string
	Digest     digest.Digest
}

// Hit is one artifact of a page, in order: its key and, sorted by an
// annotation, that annotation's sort key (nil when it lacks it).
type Hit struct {
	Key
	SortKey *string
}

// treeDegree is the B-trees' degree: nodes of up to 63 items.
const treeDegree = 32

// maxAnnotationOrders bounds how many orders by an annotation the index
// keeps at once (each costs about 10 bytes an artifact that has the key);
// the least recently used is dropped, and built again when asked for.
const maxAnnotationOrders = 8

// Index is the in-memory index. Its methods are safe for concurrent use.
type Index struct {
	mu sync.RWMutex

	strs    interner // annotation keys and values, types, tags, subjects, owners
	entries []*entry // by slot; nil for a free slot
	free    []uint32
	slots   map[Key]uint32
	repos   map[string]*repo
	// repoNames are the names of repos, sorted; nil when a repository
	// was added or removed since (sorted again when asked for).
	repoNames []string

	live       *roaring.Bitmap
	media      map[uint32]*roaring.Bitmap
	types      map[uint32]*roaring.Bitmap
	tags       map[uint32]*roaring.Bitmap
	subjects   map[uint32]*roaring.Bitmap
	owners     map[uint32]*roaring.Bitmap
	hasSubject *roaring.Bitmap
	signed     *roaring.Bitmap
	vis        [numVis]*roaring.Bitmap
	keys       map[uint32]*keyPostings

	byPushed *btree.BTreeG[*entry]
	bySize   *btree.BTreeG[*entry]
	byName   *btree.BTreeG[*entry]

	// ordersMu guards byAnnotation, which queries fill under mu's read
	// lock (writers hold its write lock, so never alongside).
	ordersMu     sync.Mutex
	byAnnotation map[uint32]*annotationOrder
	clock        uint64
}

// entry is an artifact as the index holds it.
type entry struct {
	slot                       uint32
	vis                        visCode
	signed                     bool
	repo                       *repo
	digest                     string
	media, typ, subject, owner uint32
	pushed, size               int64
	// annots holds key and value ids in pairs, by key id.
	annots []uint32
	tags   []uint32
}

// repo is one repository and the artifacts it holds.
type repo struct {
	name string
	bm   *roaring.Bitmap
}

// keyPostings are the artifacts with an annotation key: all of them, and
// those with each value.
type keyPostings struct {
	all    *roaring.Bitmap
	values map[uint32]posting
}

// posting is the artifacts with one value of a key: a slot held inline
// while there is one (most values of identifiers, titles and times belong
// to one artifact, and a bitmap costs about 200 bytes), a bitmap once there
// are more.
type posting struct {
	one uint32
	bm  *roaring.Bitmap
}

// card returns how many artifacts p holds.
func (p posting) card() uint64 {
	if p.bm == nil {
		return 1
	}
	return p.bm.GetCardinality()
}

// andCard returns how many artifacts of set p holds.
func (p posting) andCard(set *roaring.Bitmap) uint64 {
	if p.bm != nil {
		return set.AndCardinality(p.bm)
	}
	if set.Contains(p.one) {
		return 1
	}
	return 0
}

// union returns the artifacts of ps, as one bitmap.
func union(ps []posting) *roaring.Bitmap {
	var bms []*roaring.Bitmap
	var ones []uint32
	for _, p := range ps {
		if p.bm != nil {
			bms = append(bms, p.bm)
		} else {
			ones = append(ones, p.one)
		}
	}
	if len(ones) > 0 {
		bms = append(bms, roaring.BitmapOf(ones...))
	}
	switch len(bms) {
	case 0:
		return nil
	case 1:
		return bms[0]
	}
	return roaring.FastOr(bms...)
}

func addValue(m map[uint32]posting, id, slot uint32) {
	p, ok := m[id]
	switch {
	case !ok:
		m[id] = posting{one: slot}
	case p.bm == nil:
		m[id] = posting{bm: roaring.BitmapOf(p.one, slot)}
	default:
		p.bm.Add(slot)
	}
}

func dropValue(m map[uint32]posting, id, slot uint32) {
	p, ok := m[id]
	switch {
	case !ok:
	case p.bm == nil:
		if p.one == slot {
			delete(m, id)
		}
	default:
		p.bm.Remove(slot)
		if p.bm.GetCardinality() == 1 {
			m[id] = posting{one: p.bm.Minimum()}
		}
	}
}

// annotationOrder is the artifacts with one annotation key, in the order
// of its sort key, then repository and digest.
type annotationOrder struct {
	tree *btree.BTreeG[annItem]
	used uint64
}

// visCode is a visibility as the index numbers it.
type visCode uint8

const (
	visInherit visCode = iota
	visStaged
	visPrivate
	visUnlisted
	visPublic
	numVis
)

var visCodes = map[catalog.Visibility]visCode{
	catalog.Inherit: visInherit, catalog.Staged: visStaged, catalog.Private: visPrivate,
	catalog.Unlisted: visUnlisted, catalog.Public: visPublic,
}

// New returns an empty index.
func New() *Index {
	ix := &Index{
		slots:        map[Key]uint32{},
		repos:        map[string]*repo{},
		live:         roaring.New(),
		media:        map[uint32]*roaring.Bitmap{},
		types:        map[uint32]*roaring.Bitmap{},
		tags:         map[uint32]*roaring.Bitmap{},
		subjects:     map[uint32]*roaring.Bitmap{},
		owners:       map[uint32]*roaring.Bitmap{},
		hasSubject:   roaring.New(),
		signed:       roaring.New(),
		keys:         map[uint32]*keyPostings{},
		byAnnotation: map[uint32]*annotationOrder{},
	}
	ix.strs.init()
	for i := range ix.vis {
		ix.vis[i] = roaring.New()
	}
	ix.byPushed = btree.NewG(treeDegree, byPushed)
	ix.bySize = btree.NewG(treeDegree, bySize)
	ix.byName = btree.NewG(treeDegree, byName)
	return ix
}

// Len returns the number of artifacts the index holds.
func (ix *Index) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.slots)
}

// Update makes the index hold es and no longer hold the artifacts of
// gone, in one step that queries see whole. An entry replaces the one
// with its key.
func (ix *Index) Update(es []Entry, gone []Key) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for _, k := range gone {
		if slot, ok := ix.slots[k]; ok {
			ix.remove(ix.entries[slot])
			delete(ix.slots, k)
			ix.entries[slot] = nil
			ix.free = append(ix.free, slot)
		}
	}
	for i := range es {
		ix.put(&es[i])
	}
}

// put adds or replaces one entry.
func (ix *Index) put(in *Entry) {
	k := Key{in.Repository, in.Digest}
	slot, ok := ix.slots[k]
	if ok {
		ix.remove(ix.entries[slot])
	} else if n := len(ix.free); n > 0 {
		slot, ix.free = ix.free[n-1], ix.free[:n-1]
	} else {
		slot = uint32(len(ix.entries))
		ix.entries = append(ix.entries, nil)
	}
	r := ix.repos[in.Repository]
	if r == nil {
		r = &repo{name: in.Repository, bm: roaring.New()}
		ix.repos[in.Repository] = r
		ix.repoNames = nil
	}
	e := &entry{
		slot:    slot,
		vis:     visCodes[in.Visibility],
		signed:  in.Signed,
		repo:    r,
		digest:  string(in.Digest),
		media:   ix.strs.id(in.MediaType),
		typ:     ix.strs.id(in.ArtifactType),
		subject: ix.strs.id(string(in.Subject)),
		owner:   ix.strs.id(in.Owner),
		pushed:  in.PushedAt,
		size:    in.TotalSize,
	}
	if len(in.Annotations) > 0 {
		e.annots = make([]uint32, 0, 2*len(in.Annotations))
		for k, v := range in.Annotations {
			e.annots = append(e.annots, ix.strs.id(k), ix.strs.value(v))
		}
		sortPairs(e.annots)
	}
	for _, t := range in.Tags {
		e.tags = append(e.tags, ix.strs.id(t))
	}
	ix.entries[slot] = e
	ix.slots[k] = slot

	ix.live.Add(slot)
	r.bm.Add(slot)
	add(ix.media, e.media, slot)
	add(ix.types, e.typ, slot)
	if e.subject != 0 {
		add(ix.subjects, e.subject, slot)
		ix.hasSubject.Add(slot)
	}
	add(ix.owners, e.owner, slot)
	if e.signed {
		ix.signed.Add(slot)
	}
	ix.vis[e.vis].Add(slot)
	for _, t := range e.tags {
		add(ix.tags, t, slot)
	}
	for i := 0; i < len(e.annots); i += 2 {
		kp := ix.keys[e.annots[i]]
		if kp == nil {
			kp = &keyPostings{all: roaring.New(), values: map[uint32]posting{}}
			ix.keys[e.annots[i]] = kp
		}
		kp.all.Add(slot)
		addValue(kp.values, e.annots[i+1], slot)
		if o := ix.byAnnotation[e.annots[i]]; o != nil {
			o.tree.ReplaceOrInsert(annItem{e: e, vid: e.annots[i+1]})
		}
	}
	ix.byPushed.ReplaceOrInsert(e)
	ix.bySize.ReplaceOrInsert(e)
	ix.byName.ReplaceOrInsert(e)
}

// remove takes e out of every posting list and order.
func (ix *Index) remove(e *entry) {
	slot := e.slot
	ix.live.Remove(slot)
	e.repo.bm.Remove(slot)
	if e.repo.bm.IsEmpty() {
		delete(ix.repos, e.repo.name)
		ix.repoNames = nil
	}
	drop(ix.media, e.media, slot)
	drop(ix.types, e.typ, slot)
	if e.subject != 0 {
		drop(ix.subjects, e.subject, slot)
		ix.hasSubject.Remove(slot)
	}
	drop(ix.owners, e.owner, slot)
	ix.signed.Remove(slot)
	ix.vis[e.vis].Remove(slot)
	for _, t := range e.tags {
		drop(ix.tags, t, slot)
	}
	for i := 0; i < len(e.annots); i += 2 {
		kp := ix.keys[e.annots[i]]
		kp.all.Remove(slot)
		dropValue(kp.values, e.annots[i+1], slot)
		if kp.all.IsEmpty() {
			delete(ix.keys, e.annots[i])
		}
		if o := ix.byAnnotation[e.annots[i]]; o != nil {
			o.tree.Delete(annItem{e: e, vid: e.annots[i+1]})
		}
	}
	ix.byPushed.Delete(e)
	ix.bySize.Delete(e)
	ix.byName.Delete(e)
}

func add(m map[uint32]*roaring.Bitmap, id, slot uint32) {
	bm := m[id]
	if bm == nil {
		bm = roaring.New()
		m[id] = bm
	}
	bm.Add(slot)
}

func drop(m map[uint32]*roaring.Bitmap, id, slot uint32) {
	if bm := m[id]; bm != nil {
		bm.Remove(slot)
		if bm.IsEmpty() {
			delete(m, id)
		}
	}
}

// sortPairs sorts key, value id pairs by key id.
func sortPairs(p []uint32) {
	n := len(p) / 2
	sort.Sort(pairs{p, n})
}

type pairs struct {
	p []uint32
	n int
}

func (s pairs) Len() int           { return s.n }
func (s pairs) Less(i, j int) bool { return s.p[2*i] < s.p[2*j] }
func (s pairs) Swap(i, j int) {
	s.p[2*i], s.p[2*j] = s.p[2*j], s.p[2*i]
	s.p[2*i+1], s.p[2*j+1] = s.p[2*j+1], s.p[2*i+1]
}

// value returns the value id of key id k on e, or 0 and false.
func (e *entry) value(k uint32) (uint32, bool) {
	for i := 0; i < len(e.annots); i += 2 {
		if e.annots[i] == k {
			return e.annots[i+1], true
		}
	}
	return 0, false
}

// interner numbers strings; id 0 is "". Strings are never forgotten: the
// ids of values no artifact holds any more stay (a catalog's values are
// mostly its artifacts' own).
type interner struct {
	ids  map[string]uint32
	strs []string
	// kinds and bits are annotations.SortBits of the strings used as
	// annotation values (kind 0 for others): their sort keys, without
	// a string each.
	kinds []annotations.Kind
	bits  []uint64
}

func (in *interner) init() {
	in.ids = map[string]uint32{"": 0}
	in.strs = []string{""}
	in.kinds = []annotations.Kind{0}
	in.bits = []uint64{0}
}

func (in *interner) id(s string) uint32 {
	if id, ok := in.ids[s]; ok {
		return id
	}
	id := uint32(len(in.strs))
	s = strings.Clone(s)
	in.ids[s] = id
	in.strs = append(in.strs, s)
	in.kinds = append(in.kinds, 0)
	in.bits = append(in.bits, 0)
	return id
}

// value is id for an annotation value, whose sort order it keeps.
func (in *interner) value(s string) uint32 {
	id := in.id(s)
	if in.kinds[id] == 0 {
		in.kinds[id], in.bits[id] = annotations.SortBits(s)
	}
	return id
}

// sortKey returns annotations.SortKey of the value id.
func (in *interner) sortKey(id uint32) string {
	if k := in.kinds[id]; k != annotations.Text {
		return annotations.SortKeyOf(k, in.bits[id])
	}
	return string(annotations.Text) + in.strs[id]
}

// lookup returns the id of s, if it has one.
func (in *interner) lookup(s string) (uint32, bool) {
	id, ok := in.ids[s]
	return id, ok
}

// names returns the names of the repositories, sorted.
func (ix *Index) names() []string {
	// Under the read lock: computed by whichever query comes first;
	// writers reset it under the write lock.
	ix.ordersMu.Lock()
	defer ix.ordersMu.Unlock()
	if ix.repoNames == nil {
		names := make([]string, 0, len(ix.repos))
		for n := range ix.repos {
			names = append(names, n)
		}
		slices.Sort(names)
		ix.repoNames = names
	}
	return ix.repoNames
}

// The orders: by push time, total size or annotation sort key, then
// repository, then digest.

func byName(a, b *entry) bool {
	if c := strings.Compare(a.repo.name, b.repo.name); c != 0 {
		return c < 0
	}
	return a.digest < b.digest
}

func byPushed(a, b *entry) bool {
	if a.pushed != b.pushed {
		return a.pushed < b.pushed
	}
	return byName(a, b)
}

func bySize(a, b *entry) bool {
	if a.size != b.size {
		return a.size < b.size
	}
	return byName(a, b)
}
