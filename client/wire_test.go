package client

import (
	"encoding/json"
	"reflect"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/api"
)

// TestSearchParamsNames checks that SearchParams, every field set, asks
// with exactly the parameters /api/v1/artifacts takes: the artifact
// filters, sort and paging.
func TestSearchParamsNames(t *testing.T) {
	yes := true
	p := SearchParams{
		Annotations: []string{"k=v"}, ArtifactType: "a/b", MediaType: "c/d", Repository: "r", RepositoryPrefix: "r/",
		Tag: "t", Text: "x", Subject: "sha256:00", HasSubject: &yes, Signed: &yes,
		PushedAfter: time.Unix(1, 0), PushedBefore: time.Unix(2, 0), Sort: "size", Limit: 3, PageToken: "tok",
	}
	v := reflect.ValueOf(p)
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			t.Fatalf("SearchParams.%s is not set here; set it so that its parameter is checked", v.Type().Field(i).Name)
		}
	}
	var got []string
	for name := range p.Values() {
		got = append(got, name)
	}
	want := append([]string{api.ParamSort, api.ParamLimit, api.ParamPageToken}, api.ArtifactFilters...)
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("SearchParams sends %v; /api/v1/artifacts takes %v", got, want)
	}
}

// TestWireFieldsKept checks that what the server sends is decoded, not
// dropped: fields the client's own structs once lacked among them.
func TestWireFieldsKept(t *testing.T) {
	const artifact = `{"repository":"r","digest":"sha256:01","mediaType":"m","size":3,"manifestSize":2,"tags":[],"annotations":{},
		"subject":"sha256:02","layers":[],"pushedAt":"2024-06-03T09:12:44Z","signed":true,
		"signatures":[{"manifest":"sha256:03","position":1,"form":"referrer","keyId":"k","verified":true,"signedAt":"2024-06-03T09:15:02Z"}],
		"visibility":"unlisted","referrers":[{"repository":"r","digest":"sha256:03","mediaType":"m","size":1,"manifestSize":1,"tags":[],"annotations":{},"layers":[],"pushedAt":"2024-06-03T09:15:02Z","signed":false,"signatures":[]}]}`
	var a Artifact
	if err := json.Unmarshal([]byte(artifact), &a); err != nil {
		t.Fatal(err)
	}
	switch {
	case a.Visibility != "unlisted":
		t.Errorf("visibility %q", a.Visibility)
	case a.Subject != "sha256:02":
		t.Errorf("subject %q", a.Subject)
	case len(a.Signatures) != 1 || !a.Signatures[0].Verified || a.Signatures[0].Form != "referrer":
		t.Errorf("signatures %+v", a.Signatures)
	case len(a.Referrers) != 1 || a.Referrers[0].Digest != "sha256:03":
		t.Errorf("referrers %+v", a.Referrers)
	case string(a.Raw) != artifact:
		t.Errorf("raw %s", a.Raw)
	}
	// The client's Artifact adds Raw only: it marshals as the wire type.
	got, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	want, err := json.Marshal(a.Artifact)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("client.Artifact marshals as\n%s\nnot as api.Artifact:\n%s", got, want)
	}

	var n LineageNode
	if err := json.Unmarshal([]byte(`{"ref":"r@sha256:01","repository":"r","digest":"sha256:01","tags":[],"annotations":{},"present":true,"signed":true,"depth":-1}`), &n); err != nil {
		t.Fatal(err)
	}
	if !n.Signed || n.Depth != -1 {
		t.Errorf("lineage node %+v", n)
	}
}
