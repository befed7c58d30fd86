package facade

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/opencontainers/go-digest"

	"github.com/cairn-dev/cairn/api"
)

// The tests below hold openapi.json to the api package, field by field
// and both ways: every JSON field of an api type is a property of its
// schema with a compatible type (required exactly when the field is
// never omitted), and every property of the schema is a field of the
// type. The answers test above checks what handlers send over a stub
// store; these check the types, so that a field the stub leaves empty,
// or one added to one side only, cannot slip through.

// schemaTypes ties each schema of components/schemas to the Go type it
// describes.
var schemaTypes = map[string]any{
	"Digest":      digest.Digest(""),
	"Layer":       api.Layer{},
	"Artifact":    api.Artifact{},
	"Signature":   api.Signature{},
	"Repository":  api.Repository{},
	"Count":       api.Count{},
	"BlobUse":     api.BlobUse{},
	"Error":       api.ErrorBody{},
	"LineageNode": api.LineageNode{},
	"LineageEdge": api.LineageEdge{},
	"Lineage":     api.Lineage{},
	"Impact":      api.Impact{},
	"Trust":       api.Trust{},
	"TrustKey":    api.Key{},
	"TokenInfo":   api.TokenInfo{},
	"IssuedToken": api.IssuedToken{},
	"Promotion":   api.Promotion{},
}

// schemasNotOurs are the schemas that describe no api type, and why.
var schemasNotOurs = map[string]string{
	"EventData": "the data of zot's events: zot defines it, cairn reads three of its fields",
}

// bodyTypes ties each JSON body of an operation, "METHOD path status" for
// an answer and "METHOD path request" for a request, to its Go type.
// Error answers (4xx, 5xx) are api.ErrorBody and need no entry.
var bodyTypes = map[string]any{
	"GET /api/v1/artifacts 200":                          api.ArtifactPage{},
	"GET /api/v1/artifacts/{reference} 200":              api.Artifact{},
	"POST /api/v1/artifacts/{reference}/promote 200":     api.Promotion{},
	"POST /api/v1/artifacts/{reference}/promote request": api.PromotionRequest{},
	"GET /api/v1/repositories 200":                       api.RepositoryPage{},
	"GET /api/v1/annotations 200":                        api.AnnotationKeys{},
	"GET /api/v1/annotations/{key}/values 200":           api.AnnotationValues{},
	"GET /api/v1/blobs/{digest} 200":                     api.BlobUses{},
	"GET /api/v1/lineage/{reference} 200":                api.Lineage{},
	"GET /api/v1/lineage/{reference}/impact 200":         api.Impact{},
	"GET /api/v1/tokens 200":                             api.TokenList{},
	"POST /api/v1/tokens 201":                            api.IssuedToken{},
	"POST /api/v1/tokens request":                        api.TokenRequest{},
	"DELETE /api/v1/tokens/{id} 200":                     api.Revoked{},
	"GET /api/v1/trust 200":                              api.Trust{},
	"POST /api/v1/events 202":                            api.EventReceipt{},
}

// bodiesNotOurs are the JSON bodies that are no api type, and why.
var bodiesNotOurs = map[string]string{
	"GET /api/v1/openapi.json 200": "the document itself",
	"POST /api/v1/events request":  "a CloudEvent from zot, in the form zot sends",
}

func TestOpenAPISchemasMatchTypes(t *testing.T) {
	doc := loadOpenAPI(t)
	for name, ref := range doc.Components.Schemas {
		typ, ok := schemaTypes[name]
		if !ok {
			if _, ok := schemasNotOurs[name]; !ok {
				t.Errorf("components/schemas/%s describes no api type; add it to schemaTypes", name)
			}
			continue
		}
		for _, p := range compareSchema("#/components/schemas/"+name, ref.Value, reflect.TypeOf(typ), map[string]bool{}) {
			t.Error(p)
		}
	}
	for name := range schemaTypes {
		if doc.Components.Schemas[name] == nil {
			t.Errorf("schemaTypes names %s, which components/schemas does not have", name)
		}
	}
}

func TestOpenAPIBodiesMatchTypes(t *testing.T) {
	doc := loadOpenAPI(t)
	found := map[string]bool{}
	check := func(key string, schema *openapi3.Schema, errorAnswer bool) {
		found[key] = true
		var typ any
		switch t, ok := bodyTypes[key]; {
		case ok:
			typ = t
		case errorAnswer:
			typ = api.ErrorBody{}
		default:
			return
		}
		for _, p := range compareSchema(key, schema, reflect.TypeOf(typ), map[string]bool{}) {
			t.Error(p)
		}
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range operations(item) {
			if rb := op.RequestBody; rb != nil && rb.Value != nil {
				if mt := rb.Value.Content.Get("application/json"); mt != nil {
					key := method + " " + path + " request"
					check(key, mt.Schema.Value, false)
					if _, ok := bodyTypes[key]; !ok {
						if _, ok := bodiesNotOurs[key]; !ok {
							t.Errorf("%s: a JSON body with no api type; add it to bodyTypes", key)
						}
					}
				}
			}
			for code, resp := range op.Responses.Map() {
				if resp.Value == nil {
					continue
				}
				mt := resp.Value.Content.Get("application/json")
				if mt == nil {
					continue
				}
				status, err := strconv.Atoi(code)
				if err != nil {
					t.Errorf("%s %s: response %q is not a status", method, path, code)
					continue
				}
				key := fmt.Sprintf("%s %s %d", method, path, status)
				check(key, mt.Schema.Value, status >= 400)
				if _, ok := bodyTypes[key]; !ok && status < 400 {
					if _, ok := bodiesNotOurs[key]; !ok {
						t.Errorf("%s: a JSON answer with no api type; add it to bodyTypes", key)
					}
				}
			}
		}
	}
	for key := range bodyTypes {
		if !found[key] {
			t.Errorf("bodyTypes names %s, which openapi.json does not describe", key)
		}
	}
}

// TestOpenAPIComparesTypes proves that compareSchema finds a field on one
// side only, a type that disagrees, and required that disagrees with
// omitempty.
func TestOpenAPIComparesTypes(t *testing.T) {
	str := &openapi3.Schema{Type: &openapi3.Types{openapi3.TypeString}}
	integer := &openapi3.Schema{Type: &openapi3.Types{openapi3.TypeInteger}}
	object := func(required []string, props map[string]*openapi3.Schema) *openapi3.Schema {
		s := &openapi3.Schema{Type: &openapi3.Types{openapi3.TypeObject}, Required: required, Properties: openapi3.Schemas{}}
		for k, v := range props {
			s.Properties[k] = &openapi3.SchemaRef{Value: v}
		}
		return s
	}
	type both struct {
		A string `json:"a"`
		B int    `json:"b,omitempty"`
	}
	type extra struct {
		A string `json:"a"`
		B int    `json:"b,omitempty"`
		C string `json:"c"`
	}
	type wrongType struct {
		A int `json:"a"`
		B int `json:"b,omitempty"`
	}
	type omitted struct {
		A string `json:"a,omitempty"`
		B int    `json:"b,omitempty"`
	}
	schema := object([]string{"a"}, map[string]*openapi3.Schema{"a": str, "b": integer})
	for _, tt := range []struct {
		name string
		typ  any
		want string // in the one problem found; "" for none
	}{
		{"agree", both{}, ""},
		{"field the schema lacks", extra{}, "has no property c"},
		{"property the type lacks", struct {
			A string `json:"a"`
		}{}, "no field of the Go type"},
		{"type disagrees", wrongType{}, "a JSON integer"},
		{"omitempty but required", omitted{}, "required"},
		{"time as a string", struct {
			A time.Time `json:"a"`
			B int       `json:"b,omitempty"`
		}{}, "date-time"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := compareSchema("s", schema, reflect.TypeOf(tt.typ), map[string]bool{})
			switch {
			case tt.want == "" && len(got) != 0:
				t.Errorf("found %q in types that agree", got)
			case tt.want != "" && (len(got) != 1 || !strings.Contains(got[0], tt.want)):
				t.Errorf("found %q, want one problem mentioning %q", got, tt.want)
			}
		})
	}
}

// effective is the schema s stands for: a lone allOf (how the document
// adds a description to a $ref) is its one member, and several are
// merged into one object.
func effective(s *openapi3.Schema) *openapi3.Schema {
	for s != nil && len(s.AllOf) == 1 && (s.Type == nil || s.Type.IsEmpty()) && len(s.Properties) == 0 {
		s = s.AllOf[0].Value
	}
	if s == nil || len(s.AllOf) < 2 {
		return s
	}
	merged := &openapi3.Schema{Type: &openapi3.Types{openapi3.TypeObject}, Properties: openapi3.Schemas{}}
	for _, sub := range s.AllOf {
		e := effective(sub.Value)
		for k, v := range e.Properties {
			merged.Properties[k] = v
		}
		merged.Required = append(merged.Required, e.Required...)
	}
	return merged
}

var (
	timeType   = reflect.TypeOf(time.Time{})
	digestType = reflect.TypeOf(digest.Digest(""))
)

// jsonField is one field of a struct as encoding/json sees it.
type jsonField struct {
	name      string
	typ       reflect.Type
	omittable bool // omitempty or omitzero
}

// jsonFields lists t's JSON fields, those of embedded structs included.
func jsonFields(t reflect.Type) []jsonField {
	var out []jsonField
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			out = append(out, jsonFields(f.Type)...)
			continue
		}
		if name == "" {
			name = f.Name
		}
		omit := slices.Contains(strings.Split(opts, ","), "omitempty") || slices.Contains(strings.Split(opts, ","), "omitzero")
		out = append(out, jsonField{name: name, typ: f.Type, omittable: omit})
	}
	return out
}

// compareSchema lists where schema s and Go type typ disagree.
func compareSchema(at string, s *openapi3.Schema, typ reflect.Type, seen map[string]bool) []string {
	s = effective(s)
	if s == nil {
		return []string{at + ": no schema"}
	}
	key := fmt.Sprintf("%p %v", s, typ)
	if seen[key] {
		return nil
	}
	seen[key] = true
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	is := func(want string) []string {
		if s.Type == nil || !s.Type.Is(want) {
			var has []string
			if s.Type != nil {
				has = *s.Type
			}
			return []string{fmt.Sprintf("%s: the Go type is %v, a JSON %s; the schema's type is %v", at, typ, want, has)}
		}
		return nil
	}
	switch {
	case typ == timeType:
		if p := is(openapi3.TypeString); p != nil {
			return p
		}
		if s.Format != "date-time" {
			return []string{fmt.Sprintf("%s: the Go type is a time; the schema's format is %q, not date-time", at, s.Format)}
		}
		return nil
	case typ == digestType:
		if p := is(openapi3.TypeString); p != nil {
			return p
		}
		if !strings.Contains(s.Pattern, "sha256:") {
			return []string{fmt.Sprintf("%s: the Go type is a digest; the schema is a string without the Digest pattern (use #/components/schemas/Digest)", at)}
		}
		return nil
	}
	switch typ.Kind() {
	case reflect.String:
		if p := is(openapi3.TypeString); p != nil {
			return p
		}
		if strings.Contains(s.Pattern, "sha256:") {
			return []string{fmt.Sprintf("%s: the schema is a digest; the Go type is a plain %v (use digest.Digest)", at, typ)}
		}
		return nil
	case reflect.Bool:
		return is(openapi3.TypeBoolean)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return is(openapi3.TypeInteger)
	case reflect.Float32, reflect.Float64:
		return is(openapi3.TypeNumber)
	case reflect.Slice, reflect.Array:
		if p := is(openapi3.TypeArray); p != nil {
			return p
		}
		if s.Items == nil {
			return []string{at + ": an array schema without items"}
		}
		return compareSchema(at+"[]", s.Items.Value, typ.Elem(), seen)
	case reflect.Map:
		if p := is(openapi3.TypeObject); p != nil {
			return p
		}
		if len(s.Properties) != 0 {
			return []string{fmt.Sprintf("%s: the Go type is a map; the schema lists properties", at)}
		}
		if s.AdditionalProperties.Schema == nil {
			return []string{fmt.Sprintf("%s: the Go type is a map of %v; the schema has no additionalProperties", at, typ.Elem())}
		}
		return compareSchema(at+"{}", s.AdditionalProperties.Schema.Value, typ.Elem(), seen)
	case reflect.Struct:
		if p := is(openapi3.TypeObject); p != nil {
			return p
		}
		var out []string
		fields := map[string]bool{}
		for _, f := range jsonFields(typ) {
			fields[f.name] = true
			where := at + "." + f.name
			p := s.Properties[f.name]
			if p == nil {
				out = append(out, fmt.Sprintf("%s: the schema has no property %s, which %v sends", at, f.name, typ))
				continue
			}
			switch required := slices.Contains(s.Required, f.name); {
			case f.omittable && required:
				out = append(out, fmt.Sprintf("%s: required, but %v omits it when empty (omitempty)", where, typ))
			case !f.omittable && !required:
				out = append(out, fmt.Sprintf("%s: %v always sends it, but the schema does not list it as required", where, typ))
			}
			out = append(out, compareSchema(where, p.Value, f.typ, seen)...)
		}
		var extra []string
		for name := range s.Properties {
			if !fields[name] {
				extra = append(extra, name)
			}
		}
		sort.Strings(extra)
		for _, name := range extra {
			out = append(out, fmt.Sprintf("%s.%s: a property of the schema, but no field of the Go type %v", at, name, typ))
		}
		return out
	case reflect.Interface:
		return nil // any JSON value
	}
	return []string{fmt.Sprintf("%s: the Go type %v has no JSON counterpart this test knows", at, typ)}
}

// TestOpenAPIErrorCodes checks that the error codes openapi.json lists are
// api.Codes.
func TestOpenAPIErrorCodes(t *testing.T) {
	doc := loadOpenAPI(t)
	code := doc.Components.Schemas["Error"].Value.Properties["error"].Value.Properties["code"].Value
	var got []string
	for _, e := range code.Enum {
		got = append(got, fmt.Sprint(e))
	}
	want := slices.Clone(api.Codes)
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("openapi.json lists error codes %v; api.Codes is %v", got, want)
	}
}
