package metrics_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v3"

	"github.com/exportd/exportd/internal/domain"
	"github.com/exportd/exportd/internal/metrics"
)

const alertsDir = "../../deploy/prometheus"

// exposed returns the exportd series the daemon's metrics expose, each
// family with its label names, after one of every observation.
func exposed(t *testing.T) map[string][]string {
	t.Helper()
	reg := prometheus.NewRegistry()
	m := metrics.New(reg, []string{"audit-log-rows"})
	m.SetBuildInfo("test")
	m.ConfigReloaded(true, time.Now())
	m.RunFinished("audit-log-rows", domain.OutcomeExported, 10, 100, time.Second, time.Now())
	m.RunFinished("audit-log-rows", domain.OutcomeLost, 0, 0, 0, time.Now())
	m.RunFailed("audit-log-rows", metrics.ReasonQuery, time.Second)
	m.MissedFire("audit-log-rows", metrics.MissedOverlap)
	m.LateRows("audit-log-rows", 1)
	m.Revision("audit-log-rows")
	m.SetPaused("audit-log-rows", true)
	done := m.RunStarted()
	defer done()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, f := range fams {
		var labels []string
		for _, mt := range f.GetMetric() {
			for _, l := range mt.GetLabel() {
				if !slices.Contains(labels, l.GetName()) {
					labels = append(labels, l.GetName())
				}
			}
		}
		out[f.GetName()] = labels
		if f.GetType().String() == "HISTOGRAM" {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				out[f.GetName()+s] = append(slices.Clone(labels), "le")
			}
		}
	}
	return out
}

var metricName = regexp.MustCompile(`\bexportd_[a-z0-9_]+\b`)

// TestAlertRulesUseExposedSeries checks that every exportd metric named in
// deploy/prometheus/alerts.yaml, and every series its promtool test feeds
// in, is one the daemon registers, with label names it uses (besides the
// job and instance Prometheus adds).
func TestAlertRulesUseExposedSeries(t *testing.T) {
	known := exposed(t)
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	readYAML(t, filepath.Join(alertsDir, "alerts.yaml"), &rules)
	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			names := metricName.FindAllString(r.Expr, -1)
			if len(names) == 0 {
				t.Errorf("alert %s uses no exportd series: %s", r.Alert, r.Expr)
			}
			for _, name := range names {
				n++
				if _, ok := known[name]; !ok {
					t.Errorf("alert %s uses %s, which the daemon does not expose", r.Alert, name)
				}
			}
		}
	}
	for _, want := range []string{"ExportdExportFailing", "ExportdArchiveStale", "ExportdWindowsLost", "ExportdSchedulePaused"} {
		found := false
		for _, g := range rules.Groups {
			for _, r := range g.Rules {
				found = found || r.Alert == want
			}
		}
		if !found {
			t.Errorf("alerts.yaml has no %s", want)
		}
	}

	var tests struct {
		Tests []struct {
			InputSeries []struct {
				Series string `yaml:"series"`
			} `yaml:"input_series"`
		} `yaml:"tests"`
	}
	readYAML(t, filepath.Join(alertsDir, "alerts_test.yaml"), &tests)
	series := regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\}$`)
	for _, tc := range tests.Tests {
		for _, in := range tc.InputSeries {
			m := series.FindStringSubmatch(in.Series)
			if m == nil {
				t.Errorf("input series %q: not name{labels}", in.Series)
				continue
			}
			labels, ok := known[m[1]]
			if !ok {
				t.Errorf("input series %s: the daemon does not expose %s", in.Series, m[1])
				continue
			}
			for _, kv := range strings.Split(m[2], ",") {
				k, _, _ := strings.Cut(kv, "=")
				if k != "job" && k != "instance" && !slices.Contains(labels, k) {
					t.Errorf("input series %s: %s has no label %q (it has %v)", in.Series, m[1], k, labels)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no series in the rules")
	}
}

// TestAlertRulesWithPromtool runs promtool (Debian's prometheus package;
// .ci/run installs it) on the rules and their unit tests.
func TestAlertRulesWithPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is needed to test deploy/prometheus/alerts.yaml: apt-get install -y prometheus (.ci/run does)")
	}
	for _, args := range [][]string{{"check", "rules", "alerts.yaml"}, {"test", "rules", "alerts_test.yaml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = alertsDir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

func readYAML(t *testing.T, file string, v any) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}
