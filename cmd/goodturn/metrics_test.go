package main

import (
	"io"
	"net/http"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape gets /metrics from h and parses it.
func scrape(t *testing.T, h http.Handler) (string, map[string]*dto.MetricFamily) {
	t.Helper()
	code, body := get(t, h, "/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d\n%s", code, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics is not the text format: %v\n%s", err, body)
	}
	return body, fams
}

// series is a metric's expected value; labels are name, value pairs.
type series struct {
	name   string
	labels []string
	value  float64
}

// checkSamples reports every expected sample that is missing or has
// another value.
func checkSamples(t *testing.T, fams map[string]*dto.MetricFamily, want []series) {
	t.Helper()
	for _, w := range want {
		got, ok := metricValue(fams, w.name, w.labels...)
		if !ok {
			t.Errorf("/metrics lacks %s%v", w.name, w.labels)
		} else if got != w.value {
			t.Errorf("%s%v = %v, want %v", w.name, w.labels, got, w.value)
		}
	}
}

// metricValue returns the value of the named metric's series with the
// labels (name, value pairs): a counter's or gauge's value, a histogram's
// count.
func metricValue(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	fam, ok := fams[name]
	if !ok {
		return 0, false
	}
	for _, m := range fam.GetMetric() {
		have := map[string]string{}
		for _, lp := range m.GetLabel() {
			have[lp.GetName()] = lp.GetValue()
		}
		if len(have) != len(labels)/2 {
			continue
		}
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				match = false
			}
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		}
	}
	return 0, false
}

// proxyTo is a handler that passes requests on to a running server.
func proxyTo(t *testing.T, addr string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, err := http.Get("http://" + addr + r.URL.Path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	})
}

// checkAccessLog checks that serve's log, in JSON lines, has the access
// log lines of a scrape of /metrics (at debug level) and of the login
// page (at info), and never a query or a cookie.
func checkAccessLog(t *testing.T, log string) {
	t.Helper()
	var scrape, login bool
	for _, rec := range jsonLines(t, log) {
		if rec["msg"] != "http request" {
			continue
		}
		for _, k := range []string{"time", "level", "method", "path", "status", "duration", "bytes"} {
			if _, ok := rec[k]; !ok {
				t.Errorf("access log line without %s: %v", k, rec)
			}
		}
		switch rec["path"] {
		case "/metrics":
			scrape = rec["level"] == "DEBUG" && rec["status"] == 200.0 && rec["bytes"].(float64) > 0
		case "/login":
			login = rec["level"] == "INFO" && rec["method"] == "GET" && rec["status"] == 200.0
		}
	}
	if !scrape || !login {
		t.Errorf("access log: scrape %v, login %v:\n%s", scrape, login, log)
	}
	if strings.Contains(log, "secret") {
		t.Errorf("the log has a query or a cookie:\n%s", log)
	}
}
