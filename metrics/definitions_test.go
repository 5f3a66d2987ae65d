package metrics

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDefinitionsIndexedByID(t *testing.T) {
	require.Len(t, Definitions, int(numMetrics))
	for i, d := range Definitions {
		assert.Equal(t, MetricID(i), d.ID, "Definitions[%d] is %s", i, d.Name)
	}
}

// TestDefinitionsNaming checks the Prometheus conventions the names promise;
// the Prometheus module lints them again with promlint.
func TestDefinitionsNaming(t *testing.T) {
	seen := map[string]bool{}
	for _, d := range Definitions {
		t.Run(d.Name, func(t *testing.T) {
			assert.False(t, seen[d.Name], "duplicate name")
			seen[d.Name] = true
			assert.True(t, strings.HasPrefix(d.Name, "raftlog_"))
			assert.NotEmpty(t, d.Help)
			assert.Equal(t, d.Kind == KindCounter, strings.HasSuffix(d.Name, "_total"),
				"exactly the counters end in _total")
			base := strings.TrimSuffix(d.Name, "_total")
			switch d.Unit {
			case "seconds", "bytes", "entries":
				assert.True(t, strings.HasSuffix(base, "_"+d.Unit), "unit %q not the suffix", d.Unit)
			case "":
			default:
				t.Errorf("unknown unit %q", d.Unit)
			}
			if d.Kind == KindHistogram {
				require.NotEmpty(t, d.Buckets)
				assert.True(t, slices.IsSorted(d.Buckets))
				assert.Equal(t, len(d.Buckets), len(slices.Compact(slices.Clone(d.Buckets))), "repeated bound")
				assert.Greater(t, d.Buckets[0], 0.0)
			} else {
				assert.Nil(t, d.Buckets)
				assert.Contains(t, []Kind{KindCounter, KindGauge}, d.Kind)
			}
		})
	}
}

// TestDocListsEveryMetric keeps the table in doc.go in step with Definitions.
func TestDocListsEveryMetric(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	require.NoError(t, err)
	for _, d := range Definitions {
		assert.Regexp(t, `(?m)^//\t`+d.Name+` +`+d.Kind.String()+` `, string(doc), "doc.go table row")
	}
}

func TestMetricIDString(t *testing.T) {
	assert.Equal(t, "raftlog_fsync_duration_seconds", FsyncLatency.String())
	assert.Equal(t, "raftlog_failures_total", Failures.String())
	assert.Equal(t, "MetricID(-1)", MetricID(-1).String())
	assert.Equal(t, "MetricID(999)", MetricID(999).String())
	assert.Equal(t, "histogram", KindHistogram.String())
	assert.Equal(t, "Kind(0)", Kind(0).String())
}

func TestPowersOfTwo(t *testing.T) {
	assert.Equal(t, []float64{1, 2, 4, 8}, powersOfTwo(0, 3))
	assert.Equal(t, []float64{64}, powersOfTwo(6, 6))
}
