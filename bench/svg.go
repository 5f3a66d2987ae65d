package main

import (
	"fmt"
	"html"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Chart geometry, in SVG user units.
const (
	chartW, chartH = 640, 360
	padL, padR     = 70, 20
	padT, padB     = 40, 50
)

// writeCharts writes, for every result, <key>-latency.svg (the CDF of its
// operation latencies) and, when it ran long enough to sample,
// <key>-throughput.svg (entries/s in each 100 ms).
func writeCharts(dir string, rows []result) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("chart dir: %w", err)
	}
	for _, r := range rows {
		if lat := r.sortedLatencies(); len(lat) > 0 {
			if err := writeFile(filepath.Join(dir, r.Key+"-latency.svg"), latencyCDF(r.Name, lat)); err != nil {
				return err
			}
		}
		if len(r.Throughput) > 0 {
			if err := writeFile(filepath.Join(dir, r.Key+"-throughput.svg"), throughputChart(r.Name, r.Throughput)); err != nil {
				return err
			}
		}
	}
	return nil
}

func writeFile(path, content string) error {
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		return fmt.Errorf("write chart: %w", err)
	}
	return nil
}

// latencyCDF plots the fraction of operations at or below each latency,
// latency on a log scale: tails spread over decades.
func latencyCDF(title string, sorted []time.Duration) string {
	lo := math.Max(float64(sorted[0]), 1)
	hi := math.Max(float64(sorted[len(sorted)-1]), lo*10)
	x0, x1 := math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
	if x1 <= x0 {
		x1 = x0 + 1
	}
	// At most ~1000 points: enough for a smooth line, a small file.
	step := max(1, len(sorted)/1000)
	var xs, ys []float64
	for i := 0; i < len(sorted); i += step {
		xs = append(xs, math.Log10(math.Max(float64(sorted[i]), 1)))
		ys = append(ys, float64(i+1)/float64(len(sorted)))
	}
	xs = append(xs, math.Log10(math.Max(float64(sorted[len(sorted)-1]), 1)))
	ys = append(ys, 1)
	var xt []tick
	for e := x0; e <= x1; e++ {
		xt = append(xt, tick{e, round(time.Duration(math.Pow(10, e)))})
	}
	var yt []tick
	for _, p := range []float64{0, 0.25, 0.5, 0.75, 0.9, 1} {
		yt = append(yt, tick{p, fmt.Sprintf("%g", p)})
	}
	return plot(title+": latency CDF", "latency (log scale)", "fraction ≤ latency", xs, ys, x0, x1, 0, 1, xt, yt)
}

// throughputChart plots entries/s per 100 ms sample over the run.
func throughputChart(title string, samples []float64) string {
	xs := make([]float64, len(samples))
	top := 0.0
	for i, s := range samples {
		xs[i] = float64(i+1) * sampleInterval.Seconds()
		top = math.Max(top, s)
	}
	top = niceCeil(top)
	x1 := math.Max(xs[len(xs)-1], sampleInterval.Seconds())
	var xt, yt []tick
	for i := 0; i <= 5; i++ {
		v := x1 * float64(i) / 5
		xt = append(xt, tick{v, fmt.Sprintf("%.1f", v)})
		w := top * float64(i) / 5
		yt = append(yt, tick{w, siNumber(w)})
	}
	return plot(title+": throughput", "time (s)", "entries/s (100 ms samples)", xs, samples, 0, x1, 0, top, xt, yt)
}

type tick struct {
	v     float64
	label string
}

// plot draws one polyline in a framed chart with labelled ticks.
func plot(title, xlabel, ylabel string, xs, ys []float64, x0, x1, y0, y1 float64, xt, yt []tick) string {
	pw, ph := float64(chartW-padL-padR), float64(chartH-padT-padB)
	px := func(x float64) float64 { return padL + (x-x0)/(x1-x0)*pw }
	py := func(y float64) float64 { return padT + ph - (y-y0)/(y1-y0)*ph }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`+"\n",
		chartW, chartH, chartW, chartH)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%d" y="20" font-size="13" font-weight="bold">%s</text>`+"\n", padL, html.EscapeString(title))
	for _, t := range xt {
		x := px(t.v)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", x, padT, x, padT+ph)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", x, padT+ph+15, html.EscapeString(t.label))
	}
	for _, t := range yt {
		y := py(t.v)
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", padL, y, padL+pw, y)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", padL-5, y+4, html.EscapeString(t.label))
	}
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.0f" height="%.0f" fill="none" stroke="black"/>`+"\n", padL, padT, pw, ph)
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", padL+pw/2, chartH-10, html.EscapeString(xlabel))
	fmt.Fprintf(&b, `<text transform="translate(15 %.1f) rotate(-90)" text-anchor="middle">%s</text>`+"\n", padT+ph/2, html.EscapeString(ylabel))
	b.WriteString(`<polyline fill="none" stroke="#1f77b4" stroke-width="1.5" points="`)
	for i := range xs {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%.1f,%.1f", px(xs[i]), py(ys[i]))
	}
	b.WriteString(`"/>` + "\n</svg>\n")
	return b.String()
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten, for axis tops.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func siNumber(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.3gM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.3gk", v/1e3)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}
