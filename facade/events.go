package facade

import (
	"encoding/json"
	"mime"
	"net/http"
	"strings"

	"go.uber.org/zap"

	"github.com/cairn-dev/cairn/api"
	"github.com/cairn-dev/cairn/errcode"
)

// maxEventSize bounds an event: an image event carries its manifest (up to
// 4 MiB) as a JSON string.
const maxEventSize = 9 << 20

// eventData is the data of zot's events (its events extension posts
// CloudEvents: zotregistry.image.updated, .image.deleted,
// .image.lint_failed, .repository.created).
type eventData struct {
	Name      string `json:"name"`
	Reference string `json:"reference"`
	Digest    string `json:"digest"`
}

// cloudEvent is a CloudEvent in structured mode.
type cloudEvent struct {
	SpecVersion string          `json:"specversion"`
	Type        string          `json:"type"`
	Source      string          `json:"source"`
	ID          string          `json:"id"`
	Data        json.RawMessage `json:"data"`
}

// postEvent answers POST /api/v1/events: a registry behind cairn tells it
// that a repository changed. cairn does not trust the event's content: it
// queues the repository and walks it in the engine, so the catalog ends up
// as the engine is, whatever the event said. Binary and structured
// CloudEvents are both accepted.
func (s *catalogAPI) postEvent(w http.ResponseWriter, r *http.Request) error {
	if _, err := newParams(r.URL); err != nil {
		return err
	}
	body, err := readBody(w, r, maxEventSize, "event")
	if err != nil {
		return err
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	typ, data := r.Header.Get("Ce-Type"), json.RawMessage(body)
	if mt == "application/cloudevents+json" {
		var ce cloudEvent
		if err := json.Unmarshal(body, &ce); err != nil {
			return invalidParam("body", "event is not a CloudEvent in JSON: %v", err)
		}
		typ, data = ce.Type, ce.Data
	}
	if typ == "" {
		return invalidParam("type", "event has no type: send a CloudEvent (ce-type header, or application/cloudevents+json)")
	}
	var d eventData
	if err := json.Unmarshal(data, &d); err != nil {
		return invalidParam("data", "event data is not a JSON object: %v", err)
	}
	log := s.logger(r.Context()).With(zap.String("event", typ), zap.String("repo", d.Name), zap.String("reference", d.Reference))
	if !strings.HasPrefix(typ, "zotregistry.image.") && typ != "zotregistry.repository.created" {
		log.Info("event of a type cairn does not act on; ignored")
		return writeJSON(w, http.StatusAccepted, api.EventReceipt{Status: "ignored"})
	}
	if err := checkName(d.Name); err != nil {
		return invalidParam("name", "event names no valid repository: %s", errcode.As(err).Message)
	}
	s.core.NeedsRepair(r.Context(), d.Name)
	s.core.RepairSoon()
	log.Info("event: repository queued for reindex")
	return writeJSON(w, http.StatusAccepted, api.EventReceipt{Status: "queued", Repository: d.Name})
}
