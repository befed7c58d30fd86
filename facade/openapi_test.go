package facade

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gorilla/mux"
	"github.com/opencontainers/go-digest"
	"go.uber.org/zap"

	"github.com/cairn-dev/cairn/api"
	"github.com/cairn-dev/cairn/catalog"
	"github.com/cairn-dev/cairn/registry"
)

// The tests below hold openapi.json to the router and the handlers: the
// document must be valid OpenAPI 3.0.3, describe every catalog API route
// and no other, list exactly the query parameters each handler takes (each
// one of the api package's names), and its schemas must match what the
// handlers answer. openapi_types_test.go holds the schemas to the api
// types themselves.

// loadOpenAPI parses and validates the embedded document.
func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(openAPIDocument)
	if err != nil {
		t.Fatalf("openapi.json does not load: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.json is not a valid OpenAPI document: %v", err)
	}
	if doc.OpenAPI != "3.0.3" {
		t.Fatalf("openapi.json declares OpenAPI %q, want 3.0.3", doc.OpenAPI)
	}
	return doc
}

// isCatalogPath reports whether a route or path belongs to the catalog API
// (its errors have the API's shape and openapi.json describes it).
func isCatalogPath(p string) bool {
	return strings.HasPrefix(p, "/api/") || strings.HasPrefix(p, "/resolve/")
}

// apiTestServer is a Server with just enough to route and run the catalog
// API handlers over store.
func apiTestServer(store catalog.Store) *Server {
	core, err := registry.New(zap.NewNop(), nil, store)
	if err != nil {
		panic(err)
	}
	return &Server{log: zap.NewNop(), core: core, metrics: newMetrics(store), store: store}
}

// catalogRoute is one route of the catalog API as the router has it.
type catalogRoute struct {
	route    *mux.Route
	template string
	prefix   bool
	methods  []string
}

// catalogRoutes walks the router built by routes() and returns the catalog
// API's routes.
func catalogRoutes(t *testing.T, router *mux.Router) []catalogRoute {
	t.Helper()
	var out []catalogRoute
	err := router.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		tpl, err := route.GetPathTemplate()
		if err != nil || !isCatalogPath(tpl) {
			return nil
		}
		re, err := route.GetPathRegexp()
		if err != nil {
			return err
		}
		methods, err := route.GetMethods()
		if err != nil {
			return err
		}
		out = append(out, catalogRoute{route: route, template: tpl, prefix: !strings.HasSuffix(re, "$"), methods: methods})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatal("the router has no catalog API routes")
	}
	return out
}

// operations returns a path item's operations by upper-case method.
func operations(item *openapi3.PathItem) map[string]*openapi3.Operation {
	ops := map[string]*openapi3.Operation{}
	for m, op := range item.Operations() {
		ops[strings.ToUpper(m)] = op
	}
	return ops
}

// opParams returns the parameters of an operation, the path item's included.
func opParams(item *openapi3.PathItem, op *openapi3.Operation) []*openapi3.Parameter {
	var out []*openapi3.Parameter
	for _, refs := range []openapi3.Parameters{item.Parameters, op.Parameters} {
		for _, r := range refs {
			out = append(out, r.Value)
		}
	}
	return out
}

var templateVar = regexp.MustCompile(`\{([^}]+)\}`)

// concretePaths fills a path template with the examples of its path
// parameters, every example of each ("x" where a parameter has none).
func concretePaths(t *testing.T, path string, ps []*openapi3.Parameter) []string {
	t.Helper()
	out := []string{path}
	for _, v := range templateVar.FindAllString(path, -1) {
		name := v[1 : len(v)-1]
		var p *openapi3.Parameter
		for _, c := range ps {
			if c.In == openapi3.ParameterInPath && c.Name == name {
				p = c
			}
		}
		if p == nil {
			t.Fatalf("%s: no path parameter %s", path, name)
		}
		var values []string
		if s, ok := p.Example.(string); ok {
			values = append(values, s)
		}
		for _, ex := range p.Examples {
			if s, ok := ex.Value.Value.(string); ok {
				values = append(values, s)
			}
		}
		if len(values) == 0 {
			values = []string{"x"}
		}
		var next []string
		for _, o := range out {
			for _, val := range values {
				next = append(next, strings.Replace(o, v, val, 1))
			}
		}
		out = next
	}
	return out
}

func TestOpenAPIDocumentIsValid(t *testing.T) {
	doc := loadOpenAPI(t)
	if doc.Info == nil || !strings.Contains(doc.Info.Description, "page_token") || !strings.Contains(doc.Info.Description, "annotation") {
		t.Error("info.description should explain the annotation filters and page tokens")
	}
	for _, name := range []string{"Artifact", "Layer", "Repository", "Count", "BlobUse", "Error"} {
		if doc.Components.Schemas[name] == nil {
			t.Errorf("components/schemas has no %s", name)
		}
	}
	for _, name := range api.ArtifactFilters {
		if doc.Components.Parameters[name] == nil {
			t.Errorf("components/parameters has no shared artifact filter %s", name)
		}
	}

	// The check above must not pass a broken document: prove that the
	// validation this test relies on refuses one.
	var broken map[string]any
	if err := json.Unmarshal(openAPIDocument, &broken); err != nil {
		t.Fatal(err)
	}
	broken["paths"].(map[string]any)["/api/v1/artifacts/{reference}"].(map[string]any)["get"].(map[string]any)["parameters"] = []any{}
	b, err := json.Marshal(broken)
	if err != nil {
		t.Fatal(err)
	}
	bad, err := openapi3.NewLoader().LoadFromData(b)
	if err == nil {
		err = bad.Validate(context.Background())
	}
	if err == nil {
		t.Error("a document with an undeclared path parameter passed validation")
	}
}

// TestOpenAPIPathsMatchRoutes checks that every catalog API route of the
// router is described, that every described path is routed to one, and
// that the methods agree.
func TestOpenAPIPathsMatchRoutes(t *testing.T) {
	doc := loadOpenAPI(t)
	router, ok := apiTestServer(nil).routes().(*mux.Router)
	if !ok {
		t.Fatal("routes() no longer returns a *mux.Router")
	}
	routes := catalogRoutes(t, router)
	covered := map[*mux.Route]bool{}

	for path, item := range doc.Paths.Map() {
		if !isCatalogPath(path) {
			t.Errorf("%s: the document describes a path outside /api/ and /resolve/", path)
		}
		ops := operations(item)
		if len(ops) == 0 {
			t.Errorf("%s: no operation", path)
		}
		for method, op := range ops {
			for _, target := range concretePaths(t, path, opParams(item, op)) {
				matchRoute(t, router, routes, covered, method, path, target)
			}
		}
	}

	for _, rt := range routes {
		if !covered[rt.route] {
			kind := "path"
			if rt.prefix {
				kind = "prefix"
			}
			t.Errorf("the router serves %s %s, which openapi.json does not describe", kind, rt.template)
		}
	}
}

// matchRoute checks that the router sends method target (an instance of
// the documented path) to the catalog API route of that path, and marks
// the route covered.
func matchRoute(t *testing.T, router *mux.Router, routes []catalogRoute, covered map[*mux.Route]bool, method, path, target string) {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	var m mux.RouteMatch
	if !router.Match(req, &m) || m.MatchErr != nil || m.Route == nil {
		t.Errorf("%s %s (%s): the router serves no such route", method, path, target)
		return
	}
	var rt *catalogRoute
	for i := range routes {
		if routes[i].route == m.Route {
			rt = &routes[i]
		}
	}
	switch {
	case rt == nil:
		t.Errorf("%s %s (%s): routed outside the catalog API", method, path, target)
	case !rt.prefix && rt.template != path:
		t.Errorf("%s %s: routed to %s", method, path, rt.template)
	case rt.prefix && !strings.HasPrefix(path, rt.template):
		t.Errorf("%s %s: routed to prefix %s", method, path, rt.template)
	default:
		covered[rt.route] = true
	}
}

// apiParams returns the values of the api package's Param constants, read
// from its source: a constant added there must be documented too.
func apiParams(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob("../api/*.go")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if !strings.HasPrefix(n.Name, "Param") || i >= len(vs.Values) {
						continue
					}
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						t.Fatalf("api.%s is not a string literal", n.Name)
					}
					v, _ := strconv.Unquote(lit.Value)
					out[n.Name] = v
				}
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("found no Param constants in ../api")
	}
	return out
}

// TestOpenAPIParameters checks that every query parameter a handler takes
// is documented, on the operation that takes it and only there, and that
// each is one of the api package's names.
func TestOpenAPIParameters(t *testing.T) {
	doc := loadOpenAPI(t)

	documented := map[string]bool{}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			for _, p := range opParams(item, op) {
				if p.In == openapi3.ParameterInQuery {
					documented[p.Name] = true
				}
			}
		}
	}
	for _, name := range append(slices.Clone(api.ArtifactFilters), api.ParamSort, api.ParamLimit, api.ParamPageToken, api.ParamPrefix, api.ParamID) {
		if !documented[name] {
			t.Errorf("query parameter %s is taken by a handler but not in openapi.json", name)
		}
	}
	// Both sides spell parameters with api's constants: each is
	// documented, and each documented parameter is one of them.
	consts := map[string]bool{}
	for name, v := range apiParams(t) {
		consts[v] = true
		if !documented[v] {
			t.Errorf("api.%s (%q) is no query parameter of openapi.json", name, v)
		}
	}
	for name := range documented {
		if !consts[name] {
			t.Errorf("query parameter %s of openapi.json has no constant in package api", name)
		}
	}

	// Per operation: a handler refuses an unknown parameter, naming those
	// it takes; they must be the operation's documented query parameters.
	s := apiTestServer(nil)
	const probe = "zz_probe"
	for path, item := range doc.Paths.Map() {
		for method, op := range operations(item) {
			ps := opParams(item, op)
			var want []string
			for _, p := range ps {
				if p.In == openapi3.ParameterInQuery {
					want = append(want, p.Name)
				}
			}
			sort.Strings(want)
			target := concretePaths(t, path, ps)[0] + "?" + probe + "=1"
			rec := httptest.NewRecorder()
			s.routes().ServeHTTP(rec, httptest.NewRequest(method, target, nil))
			if path == "/api/v1/openapi.json" {
				// The document itself ignores its query string.
				if rec.Code != http.StatusOK || len(want) != 0 {
					t.Errorf("%s: status %d with %v documented; want 200 and no parameters", path, rec.Code, want)
				}
				continue
			}
			var body struct {
				Error struct {
					Code    string            `json:"code"`
					Message string            `json:"message"`
					Detail  map[string]string `json:"detail"`
				} `json:"error"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != http.StatusBadRequest || body.Error.Detail["parameter"] != probe {
				t.Errorf("%s %s: an unknown parameter got %d %s; want 400 INVALID_PARAMETER naming it", method, target, rec.Code, rec.Body)
				continue
			}
			_, list, ok := strings.Cut(body.Error.Message, "this endpoint takes ")
			if !ok {
				t.Fatalf("%s: the unknown-parameter message %q no longer lists the parameters; update this test", path, body.Error.Message)
			}
			var got []string
			for _, name := range strings.Split(list, ", ") {
				if name != "" {
					got = append(got, name)
				}
			}
			sort.Strings(got)
			if !slices.Equal(got, want) {
				t.Errorf("%s %s: the handler takes %v, openapi.json documents %v", method, path, got, want)
			}
		}
	}
}

// apiStubStore answers the catalog API's reads with one sample of
// everything (mode ""), with nothing (mode "empty": unknown tags,
// manifests and blobs), or with errors (mode "down"). Other methods are
// not implemented (nil embedded Store).
type apiStubStore struct {
	catalog.Store
	mode string
}

var (
	stubDigest  = digest.Digest("sha256:" + strings.Repeat("ab", 32))
	stubSubject = digest.Digest("sha256:" + strings.Repeat("cd", 32))
	stubTime    = time.Date(2024, 6, 3, 9, 12, 44, 0, time.UTC)
	errStubDown = errors.New("stub store is down")
)

func stubManifest(repo string, d digest.Digest) catalog.Manifest {
	return catalog.Manifest{
		Repository:   repo,
		Digest:       d,
		MediaType:    "application/vnd.oci.image.manifest.v1+json",
		ArtifactType: "application/vnd.example+json",
		Annotations:  map[string]string{"org.opencontainers.image.title": "x"},
		Layers: []catalog.Layer{
			{Kind: "config", Digest: stubSubject, MediaType: "application/vnd.oci.empty.v1+json", Size: 2},
			{Kind: "layer", Digest: stubSubject, MediaType: "application/octet-stream", Size: 5, Title: "a.bin", Annotations: map[string]string{"org.opencontainers.image.title": "a.bin"}},
			{Kind: "manifest", Digest: stubSubject, MediaType: "application/vnd.oci.image.manifest.v1+json", Size: 300, ArtifactType: "x/y"},
		},
		Subject:   stubSubject,
		Size:      400,
		TotalSize: 707,
		PushedAt:  stubTime,
		Tags:      []string{"v1"},
	}
}

// err is what a read of one thing answers in s.mode: nothing for lists in
// mode "empty", the store's ErrNotFound for Manifest and ResolveTag.
func (s apiStubStore) err(one bool) error {
	switch {
	case s.mode == "down":
		return errStubDown
	case s.mode == "empty" && one:
		return fmt.Errorf("stub: %w", catalog.ErrNotFound)
	}
	return nil
}

func (s apiStubStore) Artifacts(context.Context, catalog.Query, catalog.Sort, int, *catalog.Cursor) (catalog.ArtifactPage, error) {
	switch s.mode {
	case "down":
		return catalog.ArtifactPage{}, errStubDown
	case "empty":
		return catalog.ArtifactPage{}, nil
	}
	return catalog.ArtifactPage{
		Artifacts: []catalog.Manifest{
			stubManifest("a/b", stubDigest),
			{Repository: "c", Digest: stubSubject, MediaType: "application/vnd.oci.image.index.v1+json", Size: 10, TotalSize: 10, PushedAt: stubTime},
		},
		Next: &catalog.Cursor{Value: "1", Repository: "c", Digest: stubSubject},
	}, nil
}

func (s apiStubStore) RepositorySummaries(_ context.Context, _, _ string, _ *catalog.Viewer, limit int) ([]catalog.RepositorySummary, error) {
	if s.mode != "" {
		return nil, s.err(false)
	}
	rs := []catalog.RepositorySummary{{Name: "a/b", Artifacts: 2, Tags: 1, Size: 700, LastPush: stubTime}, {Name: "c", Artifacts: 1, LastPush: stubTime}}
	return rs[:min(len(rs), limit)], nil
}

func (s apiStubStore) AnnotationKeys(context.Context, catalog.Query, int) ([]catalog.Count, error) {
	if s.mode != "" {
		return nil, s.err(false)
	}
	return []catalog.Count{{Value: "org.opencontainers.image.title", Count: 3}}, nil
}

func (s apiStubStore) AnnotationValues(context.Context, string, catalog.Query, int) ([]catalog.Count, error) {
	if s.mode != "" {
		return nil, s.err(false)
	}
	return []catalog.Count{{Value: "x", Count: 3}}, nil
}

func (s apiStubStore) BlobUses(context.Context, digest.Digest, string, *catalog.Viewer, int) ([]catalog.BlobUse, error) {
	switch s.mode {
	case "down":
		return nil, errStubDown
	case "empty":
		return nil, nil
	}
	return []catalog.BlobUse{
		{Repository: "a/b", Manifest: stubDigest, Kind: "layer", MediaType: "application/octet-stream", Size: 5, Title: "a.bin"},
		{Repository: "c", Manifest: stubSubject, Kind: "manifest-self", MediaType: "application/vnd.oci.image.manifest.v1+json", Size: 5},
	}, nil
}

func (s apiStubStore) Manifest(_ context.Context, repo string, d digest.Digest) (catalog.Manifest, error) {
	if s.mode != "" {
		return catalog.Manifest{}, s.err(true)
	}
	return stubManifest(repo, d), nil
}

func (s apiStubStore) Manifests(_ context.Context, nodes []catalog.Node) ([]catalog.Manifest, error) {
	if s.mode != "" {
		return nil, s.err(false)
	}
	var out []catalog.Manifest
	for _, n := range nodes {
		out = append(out, stubManifest(n.Repository, n.Digest))
	}
	return out, nil
}

func (s apiStubStore) ResolveTag(context.Context, string, string) (digest.Digest, error) {
	if s.mode != "" {
		return "", s.err(true)
	}
	return stubDigest, nil
}

func (s apiStubStore) Referrers(_ context.Context, repo string, _ digest.Digest, _ string) ([]catalog.Manifest, error) {
	if s.mode != "" {
		return nil, s.err(false)
	}
	return []catalog.Manifest{stubManifest(repo, stubSubject)}, nil
}

func (s apiStubStore) Lineage(_ context.Context, root catalog.Node, dir catalog.Direction, _ int) ([]catalog.Edge, error) {
	if s.mode != "" {
		return nil, s.err(false)
	}
	other := catalog.Node{Registry: "ghcr.io", Repository: "org/base", Digest: stubSubject}
	if dir == catalog.Up {
		return []catalog.Edge{{Child: root, Parent: other, Kind: catalog.EdgeDerivedFrom}}, nil
	}
	return []catalog.Edge{{Child: catalog.Node{Repository: root.Repository, Digest: stubSubject}, Parent: root, Kind: catalog.EdgeSubject}}, nil
}

// TestOpenAPIAnswersMatchSchemas serves every documented operation over a
// stub store (answering, empty and down) and with a bad parameter, and
// checks each answer against the document: its status is documented, its
// body validates against the schema, and it has no property the schema
// does not describe.
func TestOpenAPIAnswersMatchSchemas(t *testing.T) {
	doc := loadOpenAPI(t)
	for _, mode := range []string{"", "empty", "down"} {
		h := apiTestServer(apiStubStore{mode: mode}).routes()
		for path, item := range doc.Paths.Map() {
			for method, op := range operations(item) {
				queries := []string{"", "limit=0"}
				if path == "/api/v1/resolve" {
					queries = []string{"id=hash://sha256/" + stubDigest.Encoded(), "id=hash://md5/00"}
				}
				for _, target := range concretePaths(t, path, opParams(item, op)) {
					for _, q := range queries {
						u := target
						if q != "" {
							u += "?" + q
						}
						rec := httptest.NewRecorder()
						h.ServeHTTP(rec, httptest.NewRequest(method, u, nil))
						checkAnswer(t, fmt.Sprintf("store %q: %s %s", mode, method, u), op, rec)
					}
				}
			}
		}
	}
}

func checkAnswer(t *testing.T, what string, op *openapi3.Operation, rec *httptest.ResponseRecorder) {
	t.Helper()
	resp := op.Responses.Status(rec.Code)
	if resp == nil || resp.Value == nil {
		t.Errorf("%s: answered %d, which is not documented: %s", what, rec.Code, rec.Body)
		return
	}
	for name := range resp.Value.Headers {
		if rec.Header().Get(name) == "" {
			t.Errorf("%s: documented header %s is missing", what, name)
		}
	}
	mt := resp.Value.Content.Get("application/json")
	if mt == nil {
		if rec.Body.Len() != 0 {
			t.Errorf("%s: %d has a body but no documented content", what, rec.Code)
		}
		return
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: Content-Type %q", what, ct)
	}
	var body any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Errorf("%s: the body is not JSON: %v", what, err)
		return
	}
	if err := mt.Schema.Value.VisitJSON(body, openapi3.VisitAsResponse(), openapi3.MultiErrors()); err != nil {
		t.Errorf("%s: the answer does not match the documented schema: %v\n%s", what, err, rec.Body)
	}
	for _, p := range undocumented(mt.Schema.Value, body, "") {
		t.Errorf("%s: the answer has %s, which the schema does not describe", what, p)
	}
}

// undocumented lists the object properties in v that schema does not
// describe. Free-form objects (additionalProperties, or no properties at
// all) are not checked.
func undocumented(schema *openapi3.Schema, v any, at string) []string {
	if schema == nil {
		return nil
	}
	if len(schema.AllOf) > 0 && len(schema.Properties) == 0 {
		var out []string
		for _, sub := range schema.AllOf {
			out = append(out, undocumented(sub.Value, v, at)...)
		}
		return out
	}
	var out []string
	switch v := v.(type) {
	case map[string]any:
		if len(schema.Properties) == 0 {
			if ap := schema.AdditionalProperties.Schema; ap != nil {
				for k, e := range v {
					out = append(out, undocumented(ap.Value, e, at+"."+k)...)
				}
			}
			return out
		}
		for k, e := range v {
			if p := schema.Properties[k]; p != nil {
				out = append(out, undocumented(p.Value, e, at+"."+k)...)
			} else {
				out = append(out, at+"."+k)
			}
		}
	case []any:
		if schema.Items != nil {
			for _, e := range v {
				out = append(out, undocumented(schema.Items.Value, e, at+"[]")...)
			}
		}
	}
	return out
}
