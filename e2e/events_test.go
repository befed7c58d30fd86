package e2e

import (
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// waitForCatalog polls the front's catalog until it holds want.
func waitForCatalog(t *testing.T, front *cairn, want string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !slices.Contains(catalogDigests(t, front), want) {
		if time.Now().After(deadline) {
			t.Fatalf("the catalog did not learn of %s within %s\n%s", want, within, front.log())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestEvents: an event naming a repository makes cairn walk it at once,
// in binary and structured CloudEvents alike; bad events are 400s.
func TestEvents(t *testing.T) {
	up := startCairn(t)
	front := startCairn(t, "--upstream", "http://"+up.addr, "--reconcile-interval", "0")
	pushDataset(t, front, front.addr)

	push := func(name, tag string) string {
		writeFile(t, up.workDir, name, []byte("content of "+name))
		out := up.run("oras", "push", "--plain-http", "--format", "json", up.addr+"/models/"+strings.TrimSuffix(name, ".bin")+":"+tag, name)
		return parsePushed(t, out).Digest
	}
	binary := push("a.bin", "v1")
	code, _, body := do(t, http.MethodPost, front.url("/api/v1/events"), []byte(`{"name":"models/a","reference":"v1","digest":"`+binary+`"}`),
		map[string]string{"Content-Type": "application/json", "Ce-Type": "zotregistry.image.updated", "Ce-Specversion": "1.0", "Ce-Source": "zotregistry.dev", "Ce-Id": "1"})
	mustf(t, code == http.StatusAccepted, "binary event: %d %s", code, body)
	waitForCatalog(t, front, binary, 10*time.Second)

	structured := push("b.bin", "v1")
	code, _, body = do(t, http.MethodPost, front.url("/api/v1/events"),
		[]byte(`{"specversion":"1.0","type":"zotregistry.image.updated","source":"zotregistry.dev","id":"2","data":{"name":"models/b","reference":"v1"}}`),
		map[string]string{"Content-Type": "application/cloudevents+json"})
	mustf(t, code == http.StatusAccepted, "structured event: %d %s", code, body)
	waitForCatalog(t, front, structured, 10*time.Second)

	code, _, body = do(t, http.MethodPost, front.url("/api/v1/events"), []byte(`{"name":"x"}`), map[string]string{"Content-Type": "application/json", "Ce-Type": "com.example.other"})
	mustf(t, code == http.StatusAccepted && strings.Contains(string(body), "ignored"), "other event type: %d %s", code, body)

	for _, bad := range []struct {
		body   string
		header map[string]string
		param  string
	}{
		{`{"name":"models/a"}`, map[string]string{"Content-Type": "application/json"}, "type"},
		{`not json`, map[string]string{"Content-Type": "application/cloudevents+json"}, "body"},
		{`{"name":"Bad/Name"}`, map[string]string{"Content-Type": "application/json", "Ce-Type": "zotregistry.image.deleted"}, "name"},
		{`[1]`, map[string]string{"Content-Type": "application/json", "Ce-Type": "zotregistry.image.deleted"}, "data"},
	} {
		code, _, body := do(t, http.MethodPost, front.url("/api/v1/events"), []byte(bad.body), bad.header)
		mustf(t, code == http.StatusBadRequest && strings.Contains(string(body), `"parameter":"`+bad.param+`"`), "bad event %s: %d %s", bad.body, code, body)
	}
}

// TestZotEvents: zot's own events extension, posting to cairn, keeps the
// catalog current with pushes made straight to zot. Needs a zot built with
// the events extension (-tags containers_image_openpgp,events) in ZOT_BIN.
func TestZotEvents(t *testing.T) {
	zot := os.Getenv("ZOT_BIN")
	if zot == "" {
		t.Skip("SKIPPED: ZOT_BIN is not set; this test needs a zot binary built with the events extension")
	}
	// The front's address must be known before zot starts: reserve it.
	frontAddr := freeAddr(t)
	addr, zotLog := startZotWith(t, zot, `"extensions":{"events":{"enable":true,"sinks":[{"type":"http","address":"http://`+frontAddr+`/api/v1/events","timeout":"5s"}]}}`)
	if b, _ := os.ReadFile(zotLog); strings.Contains(string(b), "skipping setting up events") {
		t.Skip("SKIPPED: the zot in ZOT_BIN was built without the events extension (-tags containers_image_openpgp,events)")
	}
	front := &cairn{t: t, addr: frontAddr, dataDir: t.TempDir() + "/data", workDir: t.TempDir(), args: []string{"--upstream", "http://" + addr, "--reconcile-interval", "0"}}
	front.start()
	t.Cleanup(front.stop)

	writeFile(t, front.workDir, "w.bin", []byte("weights behind cairn's back"))
	out := front.run("oras", "push", "--plain-http", "--format", "json", addr+"/models/direct:v1", "w.bin")
	d := parsePushed(t, out).Digest
	waitForCatalog(t, front, d, 15*time.Second)
}
