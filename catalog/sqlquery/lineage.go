package sqlquery

import (
	"github.com/cairn-dev/cairn/catalog"
)

// Lineage returns the statement of catalog.Store.Lineage. Its rows are
// the edges' child repository and digest, parent registry, repository and
// digest, and kind, sorted.
//
// The walk is a recursive query over the edges table: upward along its
// primary key (child first), downward along edges_parent. UNION drops a
// row already produced, so a walk without a depth bound visits each node
// once and ends on cycles; with a bound, each node at most once per depth.
// Upward, a parent in another registry is a leaf (cairn holds none of its
// edges).
func Lineage(d Dialect, root catalog.Node, dir catalog.Direction, depth int) (Statement, error) {
	for _, f := range []struct{ what, s string }{
		{"registry", root.Registry}, {"repository", root.Repository}, {"digest", string(root.Digest)},
	} {
		if err := checkText(f.what, f.s); err != nil {
			return Statement{}, err
		}
	}
	if depth < 0 {
		return Statement{}, invalid("depth %d is negative", depth)
	}
	b := &builder{d: d}
	cols, start, depthCol, next := "registry, repository, digest", "", "", ""
	start = d.Text(b.arg(root.Registry)) + ", " + d.Text(b.arg(root.Repository)) + ", " + d.Text(b.arg(string(root.Digest)))
	if depth > 0 {
		cols += ", depth"
		start += ", 0"
		depthCol = ", w.depth + 1"
	}
	var step, join string
	if dir == catalog.Up {
		step = "SELECT e.parent_registry, e.parent_repository, e.parent_digest" + depthCol +
			" FROM walk w JOIN edges e ON e.child_repository = w.repository AND e.child_digest = w.digest WHERE w.registry = ''"
		join = "e.child_repository = w.repository AND e.child_digest = w.digest AND w.registry = ''"
	} else {
		step = "SELECT " + d.Text("''") + ", e.child_repository, e.child_digest" + depthCol +
			" FROM walk w JOIN edges e ON e.parent_registry = w.registry AND e.parent_repository = w.repository AND e.parent_digest = w.digest WHERE TRUE"
		join = "e.parent_registry = w.registry AND e.parent_repository = w.repository AND e.parent_digest = w.digest"
	}
	if depth > 0 {
		next = b.arg(depth)
		step += " AND w.depth < " + next
		join += " AND w.depth < " + b.arg(depth)
	}
	return b.statement("WITH RECURSIVE walk(" + cols + ") AS (SELECT " + start + " UNION " + step + ")" +
		" SELECT DISTINCT e.child_repository, e.child_digest, e.parent_registry, e.parent_repository, e.parent_digest, e.kind" +
		" FROM walk w JOIN edges e ON " + join +
		" ORDER BY e.child_repository, e.child_digest, e.parent_registry, e.parent_repository, e.parent_digest, e.kind"), nil
}
