package web

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/quirehq/quire/sync"
)

// Metrics is the Prometheus side of sync.Metrics, plus the hub's gauges.
// Create it first, hand it to sync.NewHub, then to New, which adds the
// gauges that read the hub.
type Metrics struct {
	reg         *prometheus.Registry
	messagesIn  *prometheus.CounterVec
	messagesOut prometheus.Counter
	bytesIn     prometheus.Counter
	bytesOut    prometheus.Counter
	apply       prometheus.Histogram
	persist     prometheus.Histogram
	persistN    prometheus.Histogram
	errors      *prometheus.CounterVec
	httpReqs    *prometheus.CounterVec
}

var _ sync.Metrics = (*Metrics)(nil)

// NewMetrics registers quire's metrics, and the Go runtime and process
// collectors, in a new registry.
func NewMetrics() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		reg: reg,
		messagesIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quire_messages_in_total", Help: "y-protocols messages received from peers, by type.",
		}, []string{"type"}),
		messagesOut: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "quire_messages_out_total", Help: "Frames (one message each) written to peers.",
		}),
		bytesIn: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "quire_bytes_in_total", Help: "WebSocket frame bytes received from peers.",
		}),
		bytesOut: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "quire_bytes_out_total", Help: "WebSocket frame bytes written to peers.",
		}),
		apply: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "quire_apply_seconds", Help: "Time to apply one update to a document.",
			Buckets: prometheus.ExponentialBuckets(1e-6, 4, 12), // 1µs .. 4s
		}),
		persist: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "quire_persist_seconds", Help: "Time of one storage append (one group commit).",
			Buckets: prometheus.ExponentialBuckets(1e-5, 3, 13), // 10µs .. 5s
		}),
		persistN: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "quire_persist_batch_updates", Help: "Updates written by one storage append.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 10),
		}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quire_errors_total", Help: "Failures and refusals by kind (sync: bad_frame, bad_update, bad_awareness, slow_peer, too_big, load, persist, compact, read_only, ...; web: conn_limit, conn_limit_ip, unauthorized, forbidden, bad_origin).",
		}, []string{"kind"}),
		httpReqs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quire_http_requests_total", Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
	}
	reg.MustRegister(m.messagesIn, m.messagesOut, m.bytesIn, m.bytesOut, m.apply, m.persist, m.persistN, m.errors, m.httpReqs,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, t := range []sync.MessageType{sync.MsgSync, sync.MsgAwareness, sync.MsgAuth, sync.MsgQueryAwareness} {
		m.messagesIn.WithLabelValues(t.String())
	}
	for _, k := range []string{sync.ErrKindFrame, sync.ErrKindUpdate, sync.ErrKindAwareness, sync.ErrKindSlowPeer,
		sync.ErrKindTooBig, sync.ErrKindLoad, sync.ErrKindPersist, sync.ErrKindCompact, sync.ErrKindReadOnly,
		ErrKindConnLimit, ErrKindConnLimitIP, ErrKindAuth, ErrKindForbidden, ErrKindOrigin} {
		m.errors.WithLabelValues(k)
	}
	return m
}

// Registry is where the metrics live, for /metrics.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in Prometheus's text format, without
// authentication: for a separate, private listener (quire serve
// --metrics-addr).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// observeHub adds the gauges that read h.
func (m *Metrics) observeHub(h *sync.Hub) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "quire_connections", Help: "Connected WebSocket peers.",
		}, func() float64 { return float64(h.Stats().Peers) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "quire_documents_loaded", Help: "Documents loaded in memory (open sessions).",
		}, func() float64 { return float64(h.Stats().Docs) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "quire_compactions_total", Help: "Successful log compactions.",
		}, func() float64 { return float64(h.Stats().Compactions) }),
	)
}

// MessageIn implements sync.Metrics.
func (m *Metrics) MessageIn(t sync.MessageType, bytes int) {
	m.messagesIn.WithLabelValues(msgLabel(t)).Inc()
	if bytes > 0 {
		m.bytesIn.Add(float64(bytes))
	}
}

// msgLabel bounds the label's cardinality: unknown types share one.
func msgLabel(t sync.MessageType) string {
	if t <= sync.MsgQueryAwareness {
		return t.String()
	}
	return "unknown"
}

// MessageOut implements sync.Metrics.
func (m *Metrics) MessageOut(bytes int) {
	m.messagesOut.Inc()
	m.bytesOut.Add(float64(bytes))
}

// Apply implements sync.Metrics.
func (m *Metrics) Apply(d time.Duration) { m.apply.Observe(d.Seconds()) }

// Persist implements sync.Metrics.
func (m *Metrics) Persist(d time.Duration, n int) {
	m.persist.Observe(d.Seconds())
	m.persistN.Observe(float64(n))
}

// Error implements sync.Metrics.
func (m *Metrics) Error(kind string) { m.errors.WithLabelValues(kind).Inc() }
