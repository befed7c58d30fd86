package client_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/cairn-dev/cairn/client"
)

// fakeCairn answers the two catalog API calls the examples make, the way a
// cairn server does.
func fakeCairn() *httptest.Server {
	blob := []byte("papers of neurips-2024")
	sum := sha256.Sum256(blob)
	dgst := "sha256:" + hex.EncodeToString(sum[:])
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/artifacts", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		if r.URL.Query().Get("annotation") == "bad key=1" {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":{"code":"INVALID_PARAMETER","message":"annotation=bad key=1: invalid annotation filter","detail":{"parameter":"annotation"}}}`)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"artifacts": []map[string]any{{
			"repository": "datasets/neurips", "digest": "sha256:" + fmt.Sprintf("%064x", 1),
			"mediaType": "application/vnd.oci.image.manifest.v1+json", "artifactType": "application/vnd.cairn.embeddings.v1",
			"size": 1234, "manifestSize": 600, "tags": []string{}, "annotations": map[string]string{"org.example.year": "2024"},
			"layers": []any{}, "pushedAt": "2024-06-01T12:00:00Z",
		}}})
	})
	mux.HandleFunc("GET /api/v1/resolve", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("id") != "hash://sha256/"+dgst[len("sha256:"):] {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(w, `{"error":{"code":"BLOB_UNKNOWN","message":"no repository holds %s"}}`, r.URL.Query().Get("id"))
			return
		}
		w.Header().Set("Docker-Content-Digest", dgst)
		http.Redirect(w, r, "/v2/datasets/neurips/blobs/"+dgst, http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("GET /v2/datasets/neurips/blobs/{digest}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Docker-Content-Digest", dgst)
		_, _ = w.Write(blob)
	})
	return httptest.NewServer(mux)
}

func Example() {
	srv := fakeCairn()
	defer srv.Close()
	ctx := context.Background()

	c, err := client.New(srv.URL)
	if err != nil {
		panic(err)
	}
	page, err := c.Search(ctx, client.SearchParams{
		ArtifactType: "application/vnd.cairn.embeddings.v1",
		Annotations:  []string{"org.example.year>=2024"},
	})
	if err != nil {
		panic(err)
	}
	for _, a := range page.Artifacts {
		fmt.Println(a.Repository, a.Annotations["org.example.year"], a.Size)
	}

	// A content id resolves to bytes checked against it as they stream.
	sum := sha256.Sum256([]byte("papers of neurips-2024"))
	body, d, err := c.Resolve(ctx, "hash://sha256/"+hex.EncodeToString(sum[:]))
	if err != nil {
		panic(err)
	}
	defer body.Close()
	b, err := io.ReadAll(body) // an error wrapping ErrDigestMismatch if they do not match
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s: %q\n", d.String()[:19], b)
	// Output:
	// datasets/neurips 2024 1234
	// sha256:8773f598a394: "papers of neurips-2024"
}

func ExampleError() {
	srv := fakeCairn()
	defer srv.Close()

	c, _ := client.New(srv.URL)
	_, err := c.Search(context.Background(), client.SearchParams{Annotations: []string{"bad key=1"}})
	var e *client.Error
	if errors.As(err, &e) {
		fmt.Println(e.StatusCode, e.Code, e.Parameter())
		fmt.Println(e)
	}
	// Output:
	// 400 INVALID_PARAMETER annotation
	// annotation=bad key=1: invalid annotation filter
}

// Push two files and a directory to a registry without TLS, tagging the
// artifact from its annotations, then pull it elsewhere only if it was made
// with the same embedding model.
func ExampleRegistry_Push() {
	ctx := context.Background()
	reg := client.NewRegistry(client.WithPlainHTTP("127.0.0.1:5000"))
	res, err := reg.Push(ctx, "127.0.0.1:5000/datasets/abstracts", []string{"papers.db", "embeddings.npy", "clusters/"}, client.PushOptions{
		ArtifactType: "application/vnd.cairn.dataset.v1",
		Annotations:  map[string]string{"org.example.conference": "neurips", "org.example.year": "2024", "org.example.model": "qwen3"},
		TagTemplate:  "{conference}-{year}_{model}",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Reference, res.Digest)

	pulled, err := reg.Pull(ctx, res.Reference, client.PullOptions{
		Output:  "data",
		Require: map[string]string{"org.example.model": "qwen3"},
		Progress: func(ev client.ProgressEvent) {
			if ev.State == "done" {
				fmt.Println(ev.Status, ev.Title)
			}
		},
	})
	if errors.Is(err, client.ErrRequirement) {
		log.Fatal("made with another model: ", err)
	}
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(pulled.Layers), "layers in", pulled.Output)
}
