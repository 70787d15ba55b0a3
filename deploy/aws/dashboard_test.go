package deployaws_test

import (
	"encoding/json"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

var subVarRE = regexp.MustCompile(`\$\{([^}!][^}]*)\}`)

// TestDashboard: the CloudWatch dashboard's body is valid JSON once
// substituted, its tenantry_* metrics are searched in the namespace the
// worker writes its embedded-metric-format lines to (and its error widget
// in the metric filter's), and it covers the provider, the pool and the
// queues. (internal/service TestDashboardShowsExportedMetrics ties the
// metric names to the code.)
func TestDashboard(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	ids := tpl.resourcesOfType("AWS::CloudWatch::Dashboard")
	if len(ids) != 1 {
		t.Fatalf("%d dashboards, want 1", len(ids))
	}
	p := tpl.props(ids[0])
	k, arg, ok := intrinsic(p["DashboardBody"])
	args := asList(arg)
	if !ok || k != "Fn::Sub" || len(args) != 2 {
		t.Fatalf("DashboardBody is not Fn::Sub [body, variables]: %v", p["DashboardBody"])
	}
	body, _ := args[0].(string)
	vars, _ := args[1].(map[string]any)
	substituted := subVarRE.ReplaceAllStringFunc(body, func(v string) string { return "X" + strings.Trim(v, "${}") })
	var doc struct {
		Widgets []struct {
			Properties struct {
				Title   string
				Metrics [][]any
			}
		}
	}
	if err := json.Unmarshal([]byte(substituted), &doc); err != nil {
		t.Fatalf("dashboard body is not JSON after substitution: %v", err)
	}
	var titles []string
	for _, w := range doc.Widgets {
		titles = append(titles, w.Properties.Title)
		if len(w.Properties.Metrics) == 0 {
			t.Errorf("widget %q shows nothing", w.Properties.Title)
		}
	}
	for _, want := range []string{"Job queue", "Messages by outcome", "Embedding provider: requests and 429s",
		"Embedding provider: AIMD rate (req/s) and tokens", "Database pool", "Worker errors"} {
		found := false
		for _, got := range titles {
			found = found || strings.HasPrefix(got, want)
		}
		if !found {
			t.Errorf("no widget %q", want)
		}
	}
	// Every SEARCH is in the EMF namespace.
	for _, s := range regexp.MustCompile(`SEARCH\('\{([^,]+),`).FindAllStringSubmatch(body, -1) {
		if s[1] != "${Namespace}" {
			t.Errorf("a SEARCH looks in %s, not ${Namespace}", s[1])
		}
	}
	var emfNamespace any
	for _, c := range asList(get(tpl.props("WorkerTaskDefinition"), "ContainerDefinitions")) {
		for _, e := range asList(get(c, "Environment")) {
			if get(e, "Name") == "TENANTRY_EMF_NAMESPACE" {
				emfNamespace = get(e, "Value")
			}
			if get(e, "Name") == "TENANTRY_EMF_INTERVAL" && get(e, "Value") == "0s" {
				t.Error("the worker's EMF lines are off")
			}
		}
	}
	if emfNamespace == nil || !reflect.DeepEqual(vars["Namespace"], emfNamespace) {
		t.Errorf("dashboard namespace %v, worker EMF namespace %v", vars["Namespace"], emfNamespace)
	}
	filter := asList(tpl.props("WorkerErrorsMetricFilter")["MetricTransformations"])
	if len(filter) == 0 || !reflect.DeepEqual(get(filter[0], "MetricNamespace"), vars["Namespace"]) {
		t.Errorf("the errors widget's namespace differs from the metric filter's")
	}
}
