package facade

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cairn-dev/cairn/catalog"
)

// metrics are the façade's Prometheus series, on a registry of its own so
// that two servers in one process (tests) do not collide.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	bytesIn  *prometheus.CounterVec
	bytesOut *prometheus.CounterVec
}

func newMetrics(store catalog.Store) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cairn_http_requests_total",
			Help: "HTTP requests by route class, method and status.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "cairn_http_request_duration_seconds",
			Help:    "HTTP request duration by route class.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10),
		}, []string{"route"}),
		bytesIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cairn_http_request_bytes_total",
			Help: "Bytes received in request bodies, by route class.",
		}, []string{"route"}),
		bytesOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cairn_http_response_bytes_total",
			Help: "Bytes sent in response bodies, by route class.",
		}, []string{"route"}),
	}
	m.reg.MustRegister(m.requests, m.duration, m.bytesIn, m.bytesOut,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&catalogCollector{store: store})
	return m
}

func (m *metrics) observe(route, method string, status int, in, out int64, d time.Duration) {
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(route).Observe(d.Seconds())
	m.bytesIn.WithLabelValues(route).Add(float64(in))
	m.bytesOut.WithLabelValues(route).Add(float64(out))
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// catalogCollector reports the index size at scrape time.
type catalogCollector struct{ store catalog.Store }

var (
	descRepos     = prometheus.NewDesc("cairn_catalog_repositories", "Repositories in the catalog.", nil, nil)
	descManifests = prometheus.NewDesc("cairn_catalog_manifests", "Manifests in the catalog.", nil, nil)
	descTags      = prometheus.NewDesc("cairn_catalog_tags", "Tags in the catalog.", nil, nil)
	descUp        = prometheus.NewDesc("cairn_catalog_up", "1 when the catalog answered the last scrape.", nil, nil)
)

func (c *catalogCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descRepos
	ch <- descManifests
	ch <- descTags
	ch <- descUp
}

func (c *catalogCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := c.store.Stats(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, 1)
	ch <- prometheus.MustNewConstMetric(descRepos, prometheus.GaugeValue, float64(st.Repositories))
	ch <- prometheus.MustNewConstMetric(descManifests, prometheus.GaugeValue, float64(st.Manifests))
	ch <- prometheus.MustNewConstMetric(descTags, prometheus.GaugeValue, float64(st.Tags))
}
