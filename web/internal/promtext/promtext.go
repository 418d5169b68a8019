// Package promtext reads the few metrics the status page shows out of a
// service's /metrics (the Prometheus text format). A service's answer is
// input the web app does not control, so it is parsed with the Prometheus
// project's own parser, bounded in size, and only the named families are
// kept.
package promtext

import (
	"bytes"
	"fmt"
	"sort"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// MaxInput bounds the text parsed: a service's /metrics is a few tens of KB.
const MaxInput = 4 << 20

// Sample is one series of a counter, gauge or untyped family.
type Sample struct {
	Labels map[string]string
	Value  float64
}

// Label returns the value of label name ("" when absent).
func (s Sample) Label(name string) string { return s.Labels[name] }

// Metrics is the parsed families of one /metrics answer, by name.
type Metrics map[string][]Sample

// Parse reads text in the Prometheus text exposition format and keeps the
// counters, gauges and untyped series of every family in names (all
// families when names is empty). Series are sorted by their labels, so the
// order does not depend on the service's.
func Parse(text []byte, names ...string) (Metrics, error) {
	if len(text) > MaxInput {
		return nil, fmt.Errorf("metrics: %d bytes, more than %d", len(text), MaxInput)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	out := Metrics{}
	for name, f := range fams {
		if len(want) > 0 && !want[name] {
			continue
		}
		var ss []Sample
		for _, m := range f.GetMetric() {
			v, ok := value(f.GetType(), m)
			if !ok {
				continue
			}
			l := make(map[string]string, len(m.GetLabel()))
			for _, lp := range m.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			ss = append(ss, Sample{Labels: l, Value: v})
		}
		sort.Slice(ss, func(i, j int) bool { return key(ss[i].Labels) < key(ss[j].Labels) })
		out[name] = ss
	}
	return out, nil
}

func value(t dto.MetricType, m *dto.Metric) (float64, bool) {
	switch t {
	case dto.MetricType_COUNTER:
		return m.GetCounter().GetValue(), m.Counter != nil
	case dto.MetricType_GAUGE:
		return m.GetGauge().GetValue(), m.Gauge != nil
	case dto.MetricType_UNTYPED:
		return m.GetUntyped().GetValue(), m.Untyped != nil
	default:
		return 0, false
	}
}

func key(l map[string]string) string {
	ks := make([]string, 0, len(l))
	for k := range l {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	var b bytes.Buffer
	for _, k := range ks {
		fmt.Fprintf(&b, "%s=%s\x00", k, l[k])
	}
	return b.String()
}

// Value returns the value of family name's one series without labels, and
// whether there is one.
func (m Metrics) Value(name string) (float64, bool) {
	for _, s := range m[name] {
		if len(s.Labels) == 0 {
			return s.Value, true
		}
	}
	return 0, false
}

// Where returns the series of family name whose labels include every
// pair of match.
func (m Metrics) Where(name string, match map[string]string) []Sample {
	var out []Sample
	for _, s := range m[name] {
		ok := true
		for k, v := range match {
			if s.Labels[k] != v {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, s)
		}
	}
	return out
}
