package facade

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/errcode"
)

func TestParseV2(t *testing.T) {
	d256 := "sha256:" + strings.Repeat("a", 64)
	d512 := "sha512:" + strings.Repeat("b", 128)
	long := strings.Repeat("a", 250) + "/bcdef"
	tests := []struct {
		path     string
		kind     routeKind
		name     string
		ref      string
		wantCode string // "" when the path is valid
	}{
		{path: "/v2/", kind: routeBase},
		{path: "/v2", kind: routeBase},
		{path: "/v2/_catalog", kind: routeCatalog},
		{path: "/v2/a/manifests/latest", kind: routeManifest, name: "a", ref: "latest"},
		{path: "/v2/datasets/abstracts/manifests/neurips-2024", kind: routeManifest, name: "datasets/abstracts", ref: "neurips-2024"},
		{path: "/v2/a/b/c/manifests/" + d256, kind: routeManifest, name: "a/b/c", ref: d256},
		{path: "/v2/a/manifests/" + d512, kind: routeManifest, name: "a", ref: d512},
		// Resource words are fine as name components.
		{path: "/v2/manifests/blobs/manifests/v1", kind: routeManifest, name: "manifests/blobs", ref: "v1"},
		{path: "/v2/blobs/uploads/blobs/uploads/", kind: routeUploadStart, name: "blobs/uploads"},
		{path: "/v2/a/blobs/" + d256, kind: routeBlob, name: "a", ref: d256},
		{path: "/v2/a/blobs/uploads/", kind: routeUploadStart, name: "a"},
		{path: "/v2/a/blobs/uploads/0b6e-4f", kind: routeUpload, name: "a", ref: "0b6e-4f"},
		{path: "/v2/a/tags/list", kind: routeTags, name: "a"},
		{path: "/v2/a/referrers/" + d256, kind: routeReferrers, name: "a", ref: d256},
		{path: "/v2/a.b_c__d-e--f/manifests/x", kind: routeManifest, name: "a.b_c__d-e--f", ref: "x"},
		{path: "/v2/" + strings.Repeat("a", 255) + "/manifests/x", kind: routeManifest, name: strings.Repeat("a", 255), ref: "x"},
		{path: "/v2/" + strings.Repeat("a", 249) + "/bcdef/manifests/x", kind: routeManifest, name: strings.Repeat("a", 249) + "/bcdef", ref: "x"},
		// A first component that looks like a host is a path component
		// like any other, when it is one.
		{path: "/v2/localhost/a/manifests/x", kind: routeManifest, name: "localhost/a", ref: "x"},
		{path: "/v2/registry.example.com/a/tags/list", kind: routeTags, name: "registry.example.com/a"},
		{path: "/v2/127.0.0.1/a/manifests/x", kind: routeManifest, name: "127.0.0.1/a", ref: "x"},
		{path: "/v2/a/manifests/_", kind: routeManifest, name: "a", ref: "_"},
		{path: "/v2/a/manifests/V1.0_rc-2", kind: routeManifest, name: "a", ref: "V1.0_rc-2"},
		{path: "/v2/a/manifests/" + strings.Repeat("t", 128), kind: routeManifest, name: "a", ref: strings.Repeat("t", 128)},

		{path: "/v2/A/manifests/latest", wantCode: "NAME_INVALID"},
		{path: "/v2/a/../b/manifests/latest", wantCode: "NAME_INVALID"},
		{path: "/v2/a//b/manifests/latest", wantCode: "NAME_INVALID"},
		{path: "/v2/a//manifests/latest", wantCode: "NAME_INVALID"},
		{path: "/v2/a%2Fb/manifests/latest", wantCode: "NAME_INVALID"},
		{path: "/v2/-a/manifests/latest", wantCode: "NAME_INVALID"},
		{path: "/v2/a./manifests/latest", wantCode: "NAME_INVALID"},
		{path: "/v2/a___b/manifests/latest", wantCode: "NAME_INVALID"},
		{path: "/v2/" + long + "/manifests/x", wantCode: "NAME_INVALID"},
		{path: "/v2/" + strings.Repeat("a", 256) + "/manifests/x", wantCode: "NAME_INVALID"},
		// Hosts are not repository names: no port, no upper case, no IPv6.
		{path: "/v2/localhost:5000/a/manifests/x", wantCode: "NAME_INVALID"},
		{path: "/v2/Example.com/a/manifests/x", wantCode: "NAME_INVALID"},
		{path: "/v2/[::1]/a/manifests/x", wantCode: "NAME_INVALID"},
		{path: "/v2/a/B/manifests/x", wantCode: "NAME_INVALID"},
		{path: "/v2/a-/b/manifests/x", wantCode: "NAME_INVALID"},
		{path: "/v2/a/manifests/", wantCode: "MANIFEST_INVALID"},
		{path: "/v2/a/manifests/-v1", wantCode: "MANIFEST_INVALID"},
		{path: "/v2/manifests/latest", wantCode: "NAME_INVALID"},
		{path: "/v2/a/unknown/x", wantCode: "NAME_INVALID"},
		{path: "/v2/a/manifests/.hidden", wantCode: "MANIFEST_INVALID"},
		{path: "/v2/a/manifests/" + strings.Repeat("t", 129), wantCode: "MANIFEST_INVALID"},
		{path: "/v2/a/manifests/sha256:baddigeststring", wantCode: "DIGEST_INVALID"},
		{path: "/v2/a/manifests/sha256:" + strings.Repeat("A", 64), wantCode: "DIGEST_INVALID"},
		{path: "/v2/a/manifests/md5:d41d8cd98f00b204e9800998ecf8427e", wantCode: "DIGEST_INVALID"},
		{path: "/v2/a/manifests/sha256:", wantCode: "DIGEST_INVALID"},
		{path: "/v2/a/blobs/latest", wantCode: "DIGEST_INVALID"},
		{path: "/v2/a/blobs/uploads", wantCode: "DIGEST_INVALID"},
		{path: "/v2/a/referrers/sha256:abc", wantCode: "DIGEST_INVALID"},
		{path: "/v2/a/referrers/latest", wantCode: "DIGEST_INVALID"},
	}
	for _, tt := range tests {
		t.Run(tt.path[:min(len(tt.path), 60)], func(t *testing.T) {
			u, err := url.Parse(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			rt, err := parseV2(u)
			if tt.wantCode != "" {
				var e *errcode.Error
				if !errors.As(err, &e) || e.Code.Name != tt.wantCode {
					t.Fatalf("parseV2(%q) = %+v, %v; want %s", tt.path, rt, err, tt.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseV2(%q): %v", tt.path, err)
			}
			if rt.kind != tt.kind || rt.name != tt.name || rt.ref != tt.ref {
				t.Fatalf("parseV2(%q) = {%v %q %q}, want {%v %q %q}", tt.path, rt.kind, rt.name, rt.ref, tt.kind, tt.name, tt.ref)
			}
		})
	}
}

// TestCheckName checks names as the catalog API and the event receiver
// take them (not through a path), with the error each gets.
func TestCheckName(t *testing.T) {
	tests := []struct {
		name    string
		wantMsg string // "" when the name is valid
	}{
		{name: "a"},
		{name: "datasets/abstracts"},
		{name: "a.b_c__d-e--f/g"},
		{name: "localhost/a"},
		{name: strings.Repeat("a", 255)},
		{name: "", wantMsg: `invalid repository name ""`},
		{name: "a/", wantMsg: `invalid repository name "a/"`},
		{name: "/a", wantMsg: `invalid repository name "/a"`},
		{name: "a/../b", wantMsg: `invalid repository name "a/../b"`},
		{name: "A", wantMsg: `invalid repository name "A"`},
		{name: "localhost:5000/a", wantMsg: `invalid repository name "localhost:5000/a"`},
		{name: "Example.com/a", wantMsg: `invalid repository name "Example.com/a"`},
		{name: "a:b", wantMsg: `invalid repository name "a:b"`},
		{name: "a@sha256:" + strings.Repeat("0", 64), wantMsg: "invalid repository name"},
		{name: "caf\u00e9", wantMsg: "invalid repository name"},
		{name: "a\n", wantMsg: "invalid repository name"},
		{name: strings.Repeat("a", 256), wantMsg: "repository name is 256 characters; at most 255 are allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name[:min(len(tt.name), 40)], func(t *testing.T) {
			err := checkName(tt.name)
			if tt.wantMsg == "" {
				if err != nil {
					t.Fatalf("checkName(%q): %v", tt.name, err)
				}
				return
			}
			var e *errcode.Error
			if !errors.As(err, &e) || e.Code.Name != "NAME_INVALID" || !strings.Contains(e.Error(), tt.wantMsg) {
				t.Fatalf("checkName(%q) = %v; want NAME_INVALID saying %q", tt.name, err, tt.wantMsg)
			}
		})
	}
}

// TestTagGrammar checks tags as the catalog API takes them, where no
// path escaping stands in front of the grammar.
func TestTagGrammar(t *testing.T) {
	tests := []struct {
		tag  string
		want bool
	}{
		{"latest", true},
		{"_", true},
		{"V1.0_rc-2", true},
		{"0", true},
		{strings.Repeat("t", 128), true},
		{strings.Repeat("t", 129), false},
		{"", false},
		{".hidden", false},
		{"-v1", false},
		{"v1:2", false},
		{"v1/2", false},
		{"caf\u00e9", false},
		{"v1\n", false},
		{" v1", false},
	}
	for _, tt := range tests {
		if got := tagRE.MatchString(tt.tag); got != tt.want {
			t.Errorf("tag %q: valid = %v, want %v", tt.tag, got, tt.want)
		}
	}
}

func FuzzParseV2(f *testing.F) {
	for _, s := range []string{"/v2/a/manifests/latest", "/v2/a/b/blobs/uploads/x", "/v2/x/referrers/sha256:" + strings.Repeat("0", 64), "/v2/a%2F/tags/list"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		u, err := url.Parse(p)
		if err != nil {
			return
		}
		rt, err := parseV2(u)
		if err != nil {
			var e *errcode.Error
			if !errors.As(err, &e) || e.Code.Status >= 500 {
				t.Fatalf("parseV2(%q): error %v is not a client error", p, err)
			}
			return
		}
		if rt.kind != routeBase && rt.kind != routeCatalog && checkName(rt.name) != nil {
			t.Fatalf("parseV2(%q) accepted invalid name %q", p, rt.name)
		}
	})
}
