package main

import (
	"flag"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/configuration.md")

// configRows renders one table row per flag of a command struct (embedded
// flag groups included), from the kong tags: the docs cannot drift.
func configRows(t reflect.Type, prefix string, rows *[]string) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if _, ok := f.Tag.Lookup("embed"); ok {
			configRows(f.Type, prefix+f.Tag.Get("prefix"), rows)
			continue
		}
		name := f.Tag.Get("name")
		if name == "" || f.Tag.Get("arg") != "" {
			continue
		}
		env := f.Tag.Get("env")
		if env != "" {
			env = "`" + env + "`"
		}
		def := f.Tag.Get("default")
		if def != "" {
			def = "`" + def + "`"
		}
		if _, ok := f.Tag.Lookup("required"); ok {
			def = "required"
		}
		*rows = append(*rows, fmt.Sprintf("| `--%s%s` | %s | %s | %s |", prefix, name, env, def,
			strings.ReplaceAll(f.Tag.Get("help"), "|", "\\|")))
	}
}

func configTable() string {
	var b strings.Builder
	for _, cmd := range []struct {
		title string
		v     any
	}{{"tenantry worker", WorkerCmd{}}, {"tenantry lambda", LambdaCmd{}}, {"tenantry migrate", MigrateCmd{}}, {"tenantry api", APICmd{}}, {"tenantry console", ConsoleCmd{}}, {"global", Globals{}}} {
		var rows []string
		configRows(reflect.TypeOf(cmd.v), "", &rows)
		fmt.Fprintf(&b, "### %s\n\n| flag | environment | default | meaning |\n|---|---|---|---|\n%s\n\n", cmd.title, strings.Join(rows, "\n"))
	}
	return b.String()
}

const (
	beginMarker = "<!-- BEGIN GENERATED: go test ./cmd/tenantry -run TestConfigurationDoc -update -->\n"
	endMarker   = "<!-- END GENERATED -->"
)

func TestConfigurationDocIsCurrent(t *testing.T) {
	path := "../../docs/configuration.md"
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(doc)
	i, j := strings.Index(s, beginMarker), strings.Index(s, endMarker)
	if i < 0 || j < i {
		t.Fatal("docs/configuration.md lacks the generated-section markers")
	}
	want := s[:i+len(beginMarker)] + configTable() + s[j:]
	if want == s {
		return
	}
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatal("docs/configuration.md is out of date: run go test ./cmd/tenantry -run TestConfigurationDoc -update")
}
