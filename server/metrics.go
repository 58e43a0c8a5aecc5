package server

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the server's own Prometheus collectors.
type metrics struct {
	gatherer      prometheus.Gatherer
	requests      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	forwarded     *prometheus.CounterVec
	watches       prometheus.Gauge
	watchesClosed *prometheus.CounterVec
	authFailures  prometheus.Counter
}

func newMetrics(reg *prometheus.Registry) (*metrics, error) {
	m := &metrics{
		gatherer: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sprint_http_requests_total",
			Help: "HTTP requests served, by method, route and status code.",
		}, []string{"method", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sprint_http_request_duration_seconds",
			Help:    "Time to answer HTTP requests (streams excluded), by method and route.",
			Buckets: prometheus.DefBuckets,
		}, []string{"method", "route"}),
		forwarded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sprint_http_forwarded_total",
			Help: "Requests forwarded to the leader, by outcome (ok, retry, failed, loop, no_leader).",
		}, []string{"outcome"}),
		watches: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sprint_http_watch_streams",
			Help: "Open watch streams.",
		}),
		watchesClosed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sprint_http_watch_streams_closed_total",
			Help: "Watch streams the server closed, by reason (too_slow: fell behind its buffer; write_timeout: its client stopped reading; error).",
		}, []string{"reason"}),
		authFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sprint_http_auth_failures_total",
			Help: "Requests refused for a missing or invalid bearer token.",
		}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.forwarded, m.watches, m.watchesClosed, m.authFailures} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// common is the middleware of every route: observe, then recoverPanic,
// then authenticate, around the handler. echo applies its middlewares
// anew on every request, each one a closure allocated per request; as one
// they cost one.
func (s *Server) common(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error { return s.observe(c, next) }
}

// observe counts every request and times the non-streaming ones.
func (s *Server) observe(c echo.Context, next echo.HandlerFunc) error {
	start := time.Now()
	err := s.recoverPanic(c, next)
	if err != nil {
		// Let the error handler write the Status now, so the code
		// counted is the one the client sees.
		c.Error(err)
	}
	route := c.Path()
	if route == "" {
		route = "unmatched"
	}
	code := c.Response().Status
	s.metrics.requests.WithLabelValues(c.Request().Method, route, statusCode(code)).Inc()
	if queryParam(c, "watch") == "" && queryParam(c, "follow") == "" {
		s.metrics.duration.WithLabelValues(c.Request().Method, route).Observe(time.Since(start).Seconds())
	}
	return nil
}

// statusCodes are the decimal forms of the status codes 100-599, so that
// counting a request formats none.
var statusCodes = func() (out [500]string) {
	for i := range out {
		out[i] = strconv.Itoa(100 + i)
	}
	return out
}()

// statusCode is code in decimal.
func statusCode(code int) string {
	if code >= 100 && code < 600 {
		return statusCodes[code-100]
	}
	return strconv.Itoa(code)
}

// recoverPanic turns a handler panic into a 500 Status instead of a
// dropped connection; authentication runs inside it.
func (s *Server) recoverPanic(c echo.Context, next echo.HandlerFunc) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if r == http.ErrAbortHandler {
				panic(r)
			}
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return s.authenticate(c, next)
}

func (s *Server) serveMetrics(c echo.Context) error {
	promhttp.HandlerFor(s.metrics.gatherer, promhttp.HandlerOpts{}).ServeHTTP(c.Response(), c.Request())
	return nil
}
